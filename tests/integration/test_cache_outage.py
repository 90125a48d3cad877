"""Redis going down stops neither sign-in nor its rate limits; the outage is logged and shown on /healthz."""

from __future__ import annotations

import logging
import time

import pytest
from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError

from portal import cache as failover
from portal.models import FallbackCacheEntry
from tests.conftest import PASSWORD, wait_for

pytestmark = pytest.mark.redis

FAILED_LOGINS_PER_ACCOUNT = 5  # settings.ACCOUNT_RATE_LIMITS["login_failed"]: 5/5m/key


@pytest.fixture
def redis_cache(settings, throwaway_redis, use_broker):
    """The production cache set-up (portal.settings with CACHE_URL=redis://…) on a Redis of our own."""
    throwaway_redis.start()
    use_broker(settings.CELERY_BROKER_URL)  # /healthz asks the configured broker too
    failover._state.__init__()
    settings.CACHES = {
        "default": {
            "BACKEND": "portal.cache.FailoverCache",
            "LOCATION": throwaway_redis.url,
            "OPTIONS": {"retry_seconds": 0.5, "redis": {"socket_connect_timeout": 1, "socket_timeout": 2}},
        }
    }
    yield throwaway_redis
    failover._state.__init__()


def sign_in(client, email: str, password: str = PASSWORD):
    return client.post("/accounts/login/", {"login": email, "password": password}, REMOTE_ADDR="203.0.113.7")


def test_the_fault_a_plain_redis_cache_raises_while_redis_is_down(throwaway_redis):
    throwaway_redis.start()
    throwaway_redis.stop()
    plain = RedisCache(throwaway_redis.url, {"OPTIONS": {"socket_connect_timeout": 1}})
    with pytest.raises(RedisConnectionError):
        plain.add("ratelimit", 0)  # what allauth's limiter does first: the 500 people saw


def test_sign_in_keeps_working_while_redis_is_down_and_says_so(client, vera, redis_cache, caplog):
    assert sign_in(client, vera.email).status_code == 302
    client.post("/accounts/logout/")
    assert client.get("/healthz").json()["cache"] == "ok"

    redis_cache.stop()
    with caplog.at_level(logging.WARNING, logger="portal.cache"):
        response = sign_in(client, vera.email)
        assert response.status_code == 302 and response["Location"] == "/"
        assert client.get("/").status_code == 200
        health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {
        "status": "degraded",
        "database": "ok",
        "broker": "ok",
        "cache": "unavailable: rate limits are kept in the database meanwhile",
    }
    outage = [r.getMessage() for r in caplog.records if r.name == "portal.cache" and r.levelno == logging.ERROR]
    assert len(outage) == 1  # logged once when it starts, not at every request
    assert "The cache (Redis) is not answering" in outage[0] and "Sign-in keeps working" in outage[0]


@pytest.mark.parametrize("redis_down", [False, True])
def test_brute_force_is_still_limited_while_redis_is_down(client, vera, redis_cache, redis_down):
    if redis_down:
        redis_cache.stop()
    for _ in range(FAILED_LOGINS_PER_ACCOUNT):
        response = sign_in(client, vera.email, "not-her-password")
        assert response.status_code == 200 and b"not correct" in response.content
    assert FallbackCacheEntry.objects.exists() == redis_down  # during the outage the counts are in the database
    for password in ("not-her-password", PASSWORD):  # the right password does not get through either
        response = sign_in(client, vera.email, password)
        assert response.status_code == 200 and b"Too many failed login attempts" in response.content
        assert "_auth_user_id" not in client.session


def test_when_redis_answers_again_the_portal_uses_it_and_logs_the_recovery(client, vera, redis_cache, caplog):
    redis_cache.stop()
    cache.set("probe", "during the outage")
    assert FallbackCacheEntry.objects.exists()
    redis_cache.start()  # the same port: the operator restarted it
    time.sleep(0.6)  # past retry_seconds
    with caplog.at_level(logging.WARNING, logger="portal.cache"):
        assert wait_for(lambda: client.get("/healthz").json()["cache"] == "ok", timeout=10)
    assert client.get("/healthz").json()["status"] == "ok"
    assert any("answers again" in r.getMessage() for r in caplog.records if r.name == "portal.cache")
    cache.set("probe", "after")
    assert RedisCache(redis_cache.url, {}).get("probe") == "after"  # written to Redis itself
    assert sign_in(client, vera.email).status_code == 302
