"""Each exhibit's custody log: append-only, hash-chained per exhibit, re-checkable by anyone."""

from __future__ import annotations

from typing import Any

from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from evidence.models import CustodyEvent, Exhibit
from portal import hashchain
from portal.models import User
from portal.roles import role_codes


def _row(event: CustodyEvent) -> dict[str, Any]:
    return {
        "exhibit": event.exhibit.reference,
        "tasking": event.exhibit.tasking.reference,
        "at": hashchain.utc_iso(event.at),
        "action": event.action,
        "actor_id": event.actor_id,
        "actor_email": event.actor_email,
        "actor_role": event.actor_role,
        "detail": event.detail,
    }


def custody_append(*, exhibit: Exhibit, action: str, actor: User | None, detail: dict | None = None) -> CustodyEvent:
    """Append one event; the exhibit row is locked so two writers never fork its chain."""
    with transaction.atomic():
        Exhibit.objects.select_for_update().filter(pk=exhibit.pk).first()
        last = CustodyEvent.objects.filter(exhibit=exhibit).order_by("-id").values_list("hash", flat=True).first()
        event = CustodyEvent(
            exhibit=exhibit,
            at=timezone.now(),
            action=action,
            actor_id=actor.pk if actor else None,
            actor_email=actor.email if actor else "system",
            actor_role=role_codes(actor) if actor else "system",
            detail=detail or {},
            prev_hash=last or hashchain.GENESIS,
        )
        event.hash = hashchain.link_hash(event.prev_hash, _row(event))
        event.save(force_insert=True)
    return event


def custody_verify_exhibit(exhibit: Exhibit) -> str | None:
    """None when the chain and the stored file both check out; otherwise what is wrong."""
    rows = (
        (event.pk, _row(event), event.prev_hash, event.hash)
        for event in CustodyEvent.objects.filter(exhibit=exhibit).select_related("exhibit__tasking").order_by("id")
    )
    broken = hashchain.first_break(rows)
    if broken:
        return f"custody event {broken.row_id}: {broken.reason}"
    if not default_storage.exists(exhibit.stored_name):
        return "the stored file is missing"
    from evidence.verify import sha256_of

    with default_storage.open(exhibit.stored_name, "rb") as handle:
        actual = sha256_of(handle)[0]
    if actual != exhibit.sha256:
        return f"the stored file's SHA-256 is {actual}, not {exhibit.sha256}"
    return None
