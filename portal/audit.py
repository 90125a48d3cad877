"""Writes and checks the platform's audit chain; every audited action calls audit_record()."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from typing import Any

from django.apps import apps
from django.db import connection, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from portal import hashchain
from portal.models import AuditEvent, User
from portal.roles import role_codes

# Set by AuditContextMiddleware so actions deep in a request (signals, admin) know who and where.
current_request: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar("current_request", default=None)

# A fixed key for pg_advisory_xact_lock: every writer of the chain takes it, so the chain never forks.
_CHAIN_LOCK_KEY = 0x5045_4155_4449_54  # "PEAUDIT"

CHAINED_FIELDS = (
    "at",
    "actor_id",
    "actor_email",
    "actor_role",
    "action",
    "object_type",
    "object_id",
    "scheme_id",
    "ip",
    "user_agent",
    "outcome",
    "detail",
)


def chained_row(event: AuditEvent) -> dict[str, Any]:
    row = {name: getattr(event, name) for name in CHAINED_FIELDS}
    row["at"] = hashchain.utc_iso(event.at)
    return row


def _client_ip(request: HttpRequest) -> str:
    # The peer's address, or behind PORTAL_TRUSTED_PROXY_COUNT proxies the one the nearest proxy saw.
    from portal.client_ip import client_ip

    return client_ip(request)


def _lock_chain() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
    # SQLite runs IMMEDIATE transactions (settings): the write lock is already held by this point.


def audit_record(
    *,
    action: str,
    actor: User | None = None,
    obj: Any = None,
    object_type: str = "",
    object_id: str | int = "",
    scheme_id: int | None = None,
    outcome: str = AuditEvent.Outcome.SUCCESS,
    detail: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
    actor_email: str = "",
) -> AuditEvent:
    """Append one event to the chain, inside the caller's transaction (or a new one)."""
    request = request or current_request.get()
    request_user = getattr(request, "user", None)
    if actor is None and request_user is not None and request_user.is_authenticated:
        actor = request_user
    if obj is not None:
        object_type = object_type or f"{obj._meta.app_label}.{obj._meta.model_name}"
        object_id = object_id or obj.pk
        if scheme_id is None:
            scheme_id = getattr(obj, "scheme_id", None)
    if scheme_id is None and actor is not None:
        scheme_id = actor.scheme_id
    event = AuditEvent(
        at=timezone.now(),
        actor_id=actor.pk if actor else None,
        actor_email=(actor.email if actor else actor_email)[:254],
        actor_role=role_codes(actor) if actor else "",
        action=action,
        object_type=object_type,
        object_id=str(object_id or ""),
        scheme_id=scheme_id,
        ip=_client_ip(request) if request else "",
        user_agent=(request.META.get("HTTP_USER_AGENT", "") if request else "")[:300],
        outcome=outcome,
        detail=detail or {},
    )
    with transaction.atomic():
        _lock_chain()
        last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
        event.prev_hash = last or hashchain.GENESIS
        event.hash = hashchain.link_hash(event.prev_hash, chained_row(event))
        event.save(force_insert=True)
    return event


def welfare_rows() -> Q:
    """Audit rows about welfare: the welfare pages' own events ("welfare.…") and any event about a model
    that declares `audit_compartment = "welfare"` (screenings, exposure, stand-downs, requests), whether
    written by a service or by the admin ("<model>.consult_list"). Their person-level detail — whom they
    are about, the detail column — is for welfare staff only (can_read_welfare_detail)."""
    labels = [m._meta.label_lower for m in apps.get_models() if getattr(m, "audit_compartment", None) == "welfare"]
    rows = Q(action__startswith="welfare.") | Q(object_type__in=labels)
    for label in labels:
        rows |= Q(action__startswith=f"{label}.")
    return rows


def _chain_rows() -> Iterator[tuple[int, dict[str, Any], str, str]]:
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        yield event.pk, chained_row(event), event.prev_hash, event.hash


def audit_verify() -> tuple[int, hashchain.Break | None]:
    """Return (rows checked, first break or None)."""
    count = 0

    def counted() -> Iterator[tuple[int, dict[str, Any], str, str]]:
        nonlocal count
        for item in _chain_rows():
            count += 1
            yield item

    broken = hashchain.first_break(counted())
    return count, broken


def audit_verdict() -> tuple[bool, str]:
    """(intact?, what to tell the operator): the chain re-computed row by row, then checked against every
    head an RFC 3161 time-stamp anchored (portal/anchors.py). Without anchors it can only be shown to be
    self-consistent, and the message says so."""
    from portal import anchors

    checked, broken = audit_verify()
    if broken is not None:
        return False, f"Audit chain broken at row {broken.row_id}: {broken.reason}. ({checked} rows read.)"
    report = anchors.anchors_check()
    anchored_ids = [row_id for row_id, _, _ in report.heads.get("audit", [])]
    rows: dict[int, str] = {}
    for start in range(0, len(anchored_ids), 500):
        rows.update(AuditEvent.objects.filter(id__in=anchored_ids[start : start + 500]).values_list("id", "hash"))
    problems = report.problems + anchors.heads_problems(report, "audit", rows)
    if problems:
        listed = "\n".join(f"- {problem}" for problem in problems)
        return False, (
            f"Audit chain NOT shown intact: its {checked} rows link up, but the time-stamped anchors show:\n{listed}"
        )
    if report.newest is None:
        why = (
            "No time-stamping authority is configured (PORTAL_TSA_URL)"
            if not report.tsa_configured
            else "No anchor has been made yet (the daily job, or `manage.py anchor_chains`, makes one)"
        )
        return True, (
            f"Audit chain self-consistent: {checked} rows verified. {why}, so nothing outside the database fixes "
            "where the chain ends: someone able to write the database could delete its newest rows, or rewrite it "
            "whole, and it would still check."
        )
    head_id = report.heads["audit"][-1][0] if report.heads.get("audit") else 0
    since = AuditEvent.objects.filter(id__gt=head_id).count()
    return True, (
        f"Audit chain intact: {checked} rows verified. It passes through all {len(anchored_ids)} anchored heads, "
        f"the newest time-stamped on {report.describe_newest()}; the {since} rows written since then are only "
        "self-consistent until the next anchor."
    )
