"""A web worker starts without the libraries only background jobs and a few pages need: WeasyPrint, pyHanko
and pypdf together weighed ~60 MiB of resident memory that every gunicorn worker paid for at start-up
(bench/exhibit_upload.py: 143 MiB idle, against a goal of < 150 MiB while uploading). They are imported where
PDFs are rendered, signed or read, and not before. (botocore, ~20 MiB, is still loaded: the jobs' retry list
names its connection errors, evidence/tasks.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from django.conf import settings

HEAVY = ("weasyprint", "pyhanko", "pyhanko_certvalidator", "pypdf")

LOAD = """
import json, sys
import django
django.setup()
from django.urls import get_resolver
get_resolver().url_patterns  # every URLconf, so every view module
from django.contrib import admin
admin.autodiscover()
from django.test import Client
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_starting_the_portal_imports_no_pdf_library():
    env = {key: value for key, value in os.environ.items() if key != "PORTAL_S3_BUCKET"}
    if env.get("CELERY_BROKER_URL", "").startswith("memory"):  # the test run's own broker, not one a server takes
        del env["CELERY_BROKER_URL"]
    env.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    result = subprocess.run(
        [sys.executable, "-c", LOAD], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert "django" in loaded and "evidence" in loaded  # it did load the portal
    assert not loaded & set(HEAVY), f"imported at start-up: {sorted(loaded & set(HEAVY))}"
