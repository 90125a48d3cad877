"""The shared cache, with the database standing in while Redis is down.

Sign-in's rate limits (allauth) and the public pages' limits (portal.ratelimit) live in the cache. With a
plain Redis cache an outage of Redis turned every sign-in into a 500, and simply ignoring the cache would
make brute force unlimited. This backend keeps them working: each operation goes to Redis; when Redis
does not answer, the same operation goes to a table in the database (Django's own DatabaseCache), which
every web process shares, so the limits still count. The outage is logged once when it starts and once
when it ends, and /healthz shows it (`cache_state()`).

While Redis is known to be down, it is tried again every PORTAL_CACHE_RETRY_SECONDS, not at every call:
a dead Redis costs a sign-in nothing. Counts kept in the database during an outage stay there; when Redis
is back, counting resumes from what Redis held, so a limit restarts no lower than it was before the outage.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.db import DatabaseCache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

FALLBACK_TABLE = "portal_cache_fallback"
_OUTAGE = (RedisConnectionError, RedisTimeoutError, OSError)


class _State:
    """Per process: is Redis down, since when, and when to try it again."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.down_since: float | None = None
        self.retry_at = 0.0
        self.last_error = ""


_state = _State()


def cache_state() -> dict[str, Any]:
    """For /healthz: {"ok": bool, "since": epoch seconds or None, "error": text} as this process saw it."""
    with _state.lock:
        return {"ok": _state.down_since is None, "since": _state.down_since, "error": _state.last_error}


class FailoverCache(BaseCache):
    """CACHES["default"] = {"BACKEND": "portal.cache.FailoverCache", "LOCATION": "redis://…",
    "OPTIONS": {"retry_seconds": 10, "redis": {...redis-py pool options...}}}"""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(params)
        options = dict(params.get("OPTIONS") or {})
        self.retry_seconds = float(options.pop("retry_seconds", 10))
        shared = {k: v for k, v in params.items() if k in {"TIMEOUT", "KEY_PREFIX", "VERSION", "KEY_FUNCTION"}}
        self.primary = RedisCache(server, {**shared, "OPTIONS": options.pop("redis", {})})
        self.fallback = DatabaseCache(FALLBACK_TABLE, {**shared, "OPTIONS": {"MAX_ENTRIES": 100_000}})

    def _run(self, method: str, *args: Any, **kwargs: Any) -> Any:
        now = time.monotonic()
        if _state.down_since is not None and now < _state.retry_at:
            return getattr(self.fallback, method)(*args, **kwargs)
        try:
            result = getattr(self.primary, method)(*args, **kwargs)
        except _OUTAGE as exc:
            self._went_down(exc, now)
            return getattr(self.fallback, method)(*args, **kwargs)
        if _state.down_since is not None:
            self._came_back()
        return result

    def _went_down(self, exc: BaseException, now: float) -> None:
        with _state.lock:
            first = _state.down_since is None
            if first:
                _state.down_since = time.time()
            _state.retry_at = now + self.retry_seconds
            _state.last_error = f"{type(exc).__name__}: {exc}"[:300]
        if first:
            logger.error(
                "The cache (Redis) is not answering (%s): rate limits and other cached values are kept in the "
                "database table %s until it answers again. Sign-in keeps working.",
                _state.last_error,
                FALLBACK_TABLE,
            )

    def _came_back(self) -> None:
        with _state.lock:
            since, _state.down_since, _state.last_error = _state.down_since, None, ""
        if since is not None:
            logger.warning("The cache (Redis) answers again after %.0f seconds; using it again.", time.time() - since)

    def ping(self) -> bool:
        """Ask Redis itself (for /healthz), updating the outage state either way."""
        try:
            self.primary._cache.get_client(None, write=False).ping()
        except _OUTAGE as exc:
            self._went_down(exc, time.monotonic())
            return False
        if _state.down_since is not None:
            self._came_back()
        return True

    # Every operation of the cache API, routed through _run.
    def add(self, *args: Any, **kwargs: Any) -> bool:
        return self._run("add", *args, **kwargs)

    def get(self, *args: Any, **kwargs: Any) -> Any:
        return self._run("get", *args, **kwargs)

    def set(self, *args: Any, **kwargs: Any) -> None:
        return self._run("set", *args, **kwargs)

    def touch(self, *args: Any, **kwargs: Any) -> bool:
        return self._run("touch", *args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> bool:
        return self._run("delete", *args, **kwargs)

    def get_many(self, *args: Any, **kwargs: Any) -> dict:
        return self._run("get_many", *args, **kwargs)

    def has_key(self, *args: Any, **kwargs: Any) -> bool:
        return self._run("has_key", *args, **kwargs)

    def incr(self, *args: Any, **kwargs: Any) -> int:
        return self._run("incr", *args, **kwargs)

    def decr(self, *args: Any, **kwargs: Any) -> int:
        return self._run("decr", *args, **kwargs)

    def set_many(self, *args: Any, **kwargs: Any) -> list:
        return self._run("set_many", *args, **kwargs)

    def delete_many(self, *args: Any, **kwargs: Any) -> None:
        return self._run("delete_many", *args, **kwargs)

    def clear(self) -> None:
        return self._run("clear")

    def close(self, **kwargs: Any) -> None:
        self.primary.close(**kwargs)
        self.fallback.close(**kwargs)
