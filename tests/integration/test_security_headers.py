"""Security headers on every page: CSP without unsafe-inline, no framing, no sniffing, tight referrers."""

import re


def test_pages_carry_a_strict_content_security_policy(client, db):
    response = client.get("/accounts/login/")
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "object-src 'none'" in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["script-src"].split()[0] == "'self'"
    assert all(source == "'self'" or source.startswith("'nonce-") for source in directives["script-src"].split())


def test_pages_cannot_be_framed_or_sniffed_and_leak_no_referrer_off_site(client, db):
    response = client.get("/accounts/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_templates_hold_no_inline_script_or_style(client, db):
    body = client.get("/accounts/login/").content.decode()
    assert "style=" not in body
    for tag in re.findall(r"<script[^>]*>", body):
        assert "src=" in tag or 'type="application/json"' in tag, tag


def test_production_settings_turn_on_hsts_and_secure_cookies():
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CELERY_")},
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "x" * 64,
        "DJANGO_ALLOWED_HOSTS": "portal.example.police.uk",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "PORTAL_FIELD_KEYS": "kZ8ZsZ1m0dJ5p2yq3Vq8m3mJxYJ6n2m0aQb3zv1xkqY=",
        "PORTAL_DECONFLICTION_KEYS": "ZGVjb25mbGljdGlvbi10ZXN0LWtleS0wMTIzNDU2Nzg5YWI=",
        "PORTAL_FILE_KEYS": "kZ8ZsZ1m0dJ5p2yq3Vq8m3mJxYJ6n2m0aQb3zv1xkqY=",
    }
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "s.SECURE_SSL_REDIRECT]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[31536000, true, true, true]"
