"""WSGI entry point for gunicorn and other WSGI servers."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
application = get_wsgi_application()

# A web worker killed mid-upload leaves its partial file behind: each web process, as it starts, removes
# those nobody has written to for PORTAL_UPLOAD_STALE_SECONDS (logged one by one).
from portal.partial_uploads import partial_uploads_sweep  # noqa: E402  (needs the settings loaded above)

partial_uploads_sweep()
