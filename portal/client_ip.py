"""The address a request came from, behind as many reverse proxies as the deployment says it has.

Without a proxy (PORTAL_TRUSTED_PROXY_COUNT=0) it is REMOTE_ADDR, the socket's peer. Behind N proxies,
each of which appends the address it received the request from to X-Forwarded-For, the client is the
N-th entry from the right: entries further left were written by the client itself and prove nothing, so
a client cannot choose the address its rate limits and audit rows are counted against. allauth's own
limits (ALLAUTH_TRUSTED_PROXY_COUNT, set from the same setting) read it the same way.
"""

from __future__ import annotations

import ipaddress
import logging

from django.conf import settings
from django.http import HttpRequest

logger = logging.getLogger(__name__)


def trusted_proxy_count() -> int:
    return int(getattr(settings, "PORTAL_TRUSTED_PROXY_COUNT", 0))


def client_ip(request: HttpRequest) -> str:
    remote = request.META.get("REMOTE_ADDR") or ""
    count = trusted_proxy_count()
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if count <= 0 or not forwarded:
        return remote[:45]
    hops = [hop.strip() for hop in forwarded.split(",")]
    if len(hops) < count:
        logger.warning(
            "X-Forwarded-For has %s address(es) but PORTAL_TRUSTED_PROXY_COUNT is %s: using the peer's address. "
            "Check the proxy set-up.",
            len(hops),
            count,
        )
        return remote[:45]
    candidate = hops[-count]
    try:
        return str(ipaddress.ip_address(candidate))[:45]
    except ValueError:
        logger.warning("X-Forwarded-For entry %r is not an address: using the peer's address.", candidate[:60])
        return remote[:45]
