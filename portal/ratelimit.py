"""A fixed-window rate limit on the shared cache, for public pages allauth does not cover (GET included)."""

from __future__ import annotations

import time

from django.core.cache import cache
from django.http import HttpRequest

from portal.client_ip import client_ip

_UNITS = {"s": 1, "m": 60, "h": 3600}


def parse_rate(rate: str) -> tuple[int, int]:
    """ "30/m" -> (30, 60). Raises ValueError naming the problem."""
    try:
        amount, unit = rate.split("/")
        return int(amount), _UNITS[unit]
    except (ValueError, KeyError):
        raise ValueError(f"Rate {rate!r} must look like 30/m (per s, m or h).") from None


def allow(request: HttpRequest, *, action: str, rate: str) -> bool:
    """Count this request against the client's address; False once the window's allowance is used."""
    amount, seconds = parse_rate(rate)
    window = int(time.time()) // seconds
    key = f"ratelimit:{action}:{client_ip(request)}:{window}"
    cache.add(key, 0, timeout=seconds + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add and incr: start again
        cache.set(key, 1, timeout=seconds + 1)
        count = 1
    return count <= amount
