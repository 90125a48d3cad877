"""The demo as someone trying it meets it: each login printed once, the portal's own error pages rather than
Django's debug pages, and links that point at the address it really runs on."""

import os
import subprocess
import sys
from pathlib import Path

from portal import roles

ROOT = Path(__file__).resolve().parents[2]


def test_seeding_twice_lists_each_demo_login_once(db):
    from portal import demo

    demo.demo_seed()
    logins = demo.demo_seed()
    # Every role, in order; two supervising officers, since a disposal needs a second one to approve it.
    assert list(dict.fromkeys(login.role for login in logins)) == [role.label for role in roles.ALL_ROLES]
    officers = [login.email for login in logins if login.role == roles.OFFICER.label]
    assert officers == ["owen.officer@demo.example", "olive.officer@demo.example"]
    assert len({login.email for login in logins}) == len(logins)


def _settings_value(expression: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_", "CACHE_"))}
    code = f"import django; django.setup(); from django.conf import settings; print({expression})"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "portal.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_the_demo_switches_off_djangos_debug_pages_and_keeps_the_development_conveniences():
    shown = (
        "(settings.DEBUG, settings.ALLOWED_HOSTS[0], settings.SESSION_COOKIE_SECURE, settings.WHITENOISE_USE_FINDERS)"
    )
    assert _settings_value(shown, DJANGO_DEBUG_PAGES="false") == "(False, '127.0.0.1', False, True)"
    assert _settings_value("settings.DEBUG") == "True"


def test_a_missing_page_in_the_demo_is_the_portals_own_page(client, settings):
    settings.DEBUG = False
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "Page not found" in body and "Go to your dashboard" in body
    assert "Using the URLconf" not in body


def test_run_demo_gives_its_processes_the_address_it_runs_on(monkeypatch):
    from portal.management.commands.run_demo import process_environment

    monkeypatch.delenv("PORTAL_BASE_URL", raising=False)
    monkeypatch.delenv("DJANGO_DEBUG_PAGES", raising=False)
    env = process_environment("http://127.0.0.1:8123/")
    assert env["PORTAL_BASE_URL"] == "http://127.0.0.1:8123" and env["DJANGO_DEBUG_PAGES"] == "false"
