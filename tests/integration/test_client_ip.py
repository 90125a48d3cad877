"""Behind a reverse proxy the portal counts rate limits and records audit rows against the client's address,
as the nearest trusted proxy saw it; whatever a client writes into X-Forwarded-For itself changes nothing."""

from __future__ import annotations

import pytest

from portal.models import AuditEvent
from tests.conftest import PASSWORD

PROXY = "10.0.0.5"  # every request reaches gunicorn from the proxy


def verify(client, forwarded: str | None = None, n: int = 0):
    extra = {"REMOTE_ADDR": PROXY}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client.get(f"/certificates/verify/guess-{n}", **extra).status_code


@pytest.fixture
def behind_one_proxy(settings):
    settings.PORTAL_TRUSTED_PROXY_COUNT = 1
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    settings.PORTAL_VERIFY_RATE_LIMIT = "2/m"


def test_two_people_behind_the_proxy_each_have_their_own_allowance(client, db, behind_one_proxy):
    assert [verify(client, "198.51.100.1", n) for n in range(3)] == [404, 404, 429]
    assert verify(client, "198.51.100.2") == 404  # someone else, behind the same proxy


def test_a_client_cannot_escape_its_limit_by_writing_x_forwarded_for(client, db, behind_one_proxy):
    assert [verify(client, "198.51.100.1", n) for n in range(2)] == [404, 404]
    # The proxy appends what it saw (198.51.100.1) after whatever the client sent.
    assert verify(client, "203.0.113.99, 198.51.100.1") == 429
    assert verify(client, "203.0.113.98, 198.51.100.1") == 429


def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(client, db, settings):
    settings.PORTAL_VERIFY_RATE_LIMIT = "2/m"
    assert [verify(client, f"198.51.100.{n}", n) for n in range(3)] == [404, 404, 429]


def test_sign_in_is_audited_with_the_clients_address(client, vera, behind_one_proxy):
    response = client.post(
        "/accounts/login/",
        {"login": vera.email, "password": PASSWORD},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="203.0.113.99, 198.51.100.7",
    )
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="auth.login", actor_email=vera.email).latest("id").ip == "198.51.100.7"


def test_allauth_limits_failed_sign_ins_per_client_not_per_proxy(client, vera, behind_one_proxy, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login_failed": "2/m/ip"}

    def fail(address: str) -> bool:
        response = client.post(
            "/accounts/login/",
            {"login": vera.email, "password": "wrong"},
            REMOTE_ADDR=PROXY,
            HTTP_X_FORWARDED_FOR=address,
        )
        return b"Too many failed login attempts" in response.content

    assert [fail("198.51.100.1") for _ in range(3)] == [False, False, True]
    assert fail("198.51.100.2") is False  # another person behind the same proxy can still sign in
