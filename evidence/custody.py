"""Each exhibit's custody log: append-only, hash-chained per exhibit, re-checkable by anyone."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max, Subquery
from django.utils import timezone

from evidence.models import CustodyEvent, Exhibit
from portal import anchors, hashchain
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
        # The exhibit's row only (its model's ordering would join, and lock, its tasking and producer too),
        # and without blocking the foreign-key checks other writers make against it at their commit.
        Exhibit.objects.select_for_update(no_key=True, of=("self",)).filter(pk=exhibit.pk).order_by("pk").first()
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
    return next(custody_verify_exhibits([exhibit]))[1]


def custody_verify_exhibits(
    exhibits: Iterable[Exhibit], report: anchors.AnchorReport | None = None
) -> Iterator[tuple[Exhibit, str | None]]:
    """(exhibit, problem or None) for each, in order: its custody chain re-computed, checked to pass through
    every head a time-stamp anchored for it (`report`, from anchors.anchors_check(); read here if not
    given), and its stored file hashed. The events of a batch of exhibits are read in one query, so
    checking the whole platform costs a query per BATCH exhibits, not one per exhibit."""
    report = report or anchors.anchors_check()
    pending: list[Exhibit] = []
    for exhibit in exhibits:
        pending.append(exhibit)
        if len(pending) == BATCH:
            yield from _verify_batch(pending, report)
            pending = []
    if pending:
        yield from _verify_batch(pending, report)


def custody_verify_all(report: anchors.AnchorReport | None = None) -> Iterator[tuple[Exhibit, str | None]]:
    """Every exhibit of the platform, by id (manage.py verify_custody)."""
    return custody_verify_exhibits(
        Exhibit.objects.select_related("tasking").order_by("id").iterator(chunk_size=BATCH), report
    )


def custody_heads_since(watermark: int | None) -> tuple[list[list], int | None]:
    """For portal.anchors: the last event of each exhibit's chain written to since `watermark` (the last
    event id the previous anchor saw), and the new watermark."""
    top = CustodyEvent.objects.aggregate(top=Max("id"))["top"]
    if top is None:
        return [], watermark
    changed = (
        CustodyEvent.objects.filter(id__gt=watermark or 0, id__lte=top)
        .values("exhibit_id")
        .annotate(last=Max("id"))
        .values("last")
    )
    rows = CustodyEvent.objects.filter(id__in=Subquery(changed)).values_list("exhibit_id", "id", "hash")
    return [[f"custody:{exhibit_id}", event_id, event_hash] for exhibit_id, event_id, event_hash in rows], top


BATCH = 2000


def _verify_batch(exhibits: list[Exhibit], report: anchors.AnchorReport) -> Iterator[tuple[Exhibit, str | None]]:
    by_id = {exhibit.pk: exhibit for exhibit in exhibits}
    events = CustodyEvent.objects.filter(exhibit_id__in=list(by_id)).order_by("exhibit_id", "id")
    chains: dict[int, list[CustodyEvent]] = {pk: [] for pk in by_id}
    for event in events.iterator(chunk_size=10_000):
        event.exhibit = by_id[event.exhibit_id]  # the row's exhibit and tasking references, without a query each
        chains[event.exhibit_id].append(event)
    for exhibit in exhibits:
        rows = ((event.pk, _row(event), event.prev_hash, event.hash) for event in chains[exhibit.pk])
        broken = hashchain.first_break(rows)
        if broken:
            yield exhibit, f"custody event {broken.row_id}: {broken.reason}"
            continue
        cut = anchors.heads_problems(
            report, f"custody:{exhibit.pk}", {event.pk: event.hash for event in chains[exhibit.pk]}
        )
        if cut:
            yield exhibit, "its custody chain " + "; ".join(problem.replace("row ", "event ", 1) for problem in cut)
            continue
        if exhibit.disposed_at is not None or any(event.action == DISPOSED for event in chains[exhibit.pk]):
            yield exhibit, _disposal_problem(exhibit, chains[exhibit.pk])
            continue
        yield exhibit, _file_problem(exhibit)


DISPOSED = CustodyEvent.Action.DISPOSED


def disposed_notice(exhibit: Exhibit) -> str:
    """What every page says instead of opening a disposed exhibit's file: "Exhibit AB/1 was disposed of on …
    under …", read from its own "disposed" custody event (which the retention app's disposal writes)."""
    from portal.display import when

    event = CustodyEvent.objects.filter(exhibit=exhibit, action=DISPOSED).order_by("id").first()
    if event is None:
        return f"Exhibit {exhibit.reference} was disposed of on {when(exhibit.disposed_at)}."
    detail = event.detail or {}
    rule = detail.get("reason") or detail.get("rule", "its retention rule")
    # One sentence a phone shows in a few lines: the legal source and the SHA-256 are on the tombstone and the
    # signed disposal certificate, and beside this notice wherever the exhibit's record is shown.
    return (
        f"Exhibit {exhibit.reference} was disposed of on {when(event.at)} under the retention rule: {rule}. "
        "Its content is gone; its reference, SHA-256, size and custody history are kept."
    )


def _disposal_problem(exhibit: Exhibit, chain: list[CustodyEvent]) -> str | None:
    """A disposed exhibit has no file by design: it checks out when it is marked disposed, its chain ends with the
    one "disposed" event, that event and its tombstone (written by the retention app's disposal, reached through
    the reverse accessor so evidence imports nothing above it) record the exhibit's own SHA-256 and size, and
    no content is left in storage."""
    events = [event for event in chain if event.action == DISPOSED]
    if exhibit.disposed_at is None:
        return "its custody chain records a disposal, but the exhibit is not marked disposed of"
    if not events:
        return "it is marked disposed of, but its custody chain records no disposal"
    if len(events) > 1 or chain[-1].action != DISPOSED:
        return "its custody chain continues after its disposal"
    recorded = events[0].detail or {}
    if recorded.get("sha256") != exhibit.sha256 or recorded.get("size") != exhibit.size:
        return "its disposal event records a SHA-256 or size other than the exhibit's"
    try:
        tombstone = exhibit.tombstone
    except ObjectDoesNotExist:
        return "it is marked disposed of, but it has no tombstone"
    if (tombstone.sha256, tombstone.size, tombstone.reference) != (exhibit.sha256, exhibit.size, exhibit.reference):
        return "its tombstone records a reference, SHA-256 or size other than the exhibit's"
    if recorded.get("tombstone") != tombstone.pk:
        return "its disposal event and its tombstone do not name each other"
    if default_storage.exists(exhibit.stored_name):
        return "it is disposed of, but its content is still stored"
    return _certificate_problem(tombstone)


def _certificate_problem(tombstone) -> str | None:
    """The disposal's signed certificate is issued, stored, and still the file whose SHA-256 was recorded."""
    try:
        certificate = tombstone.certificate
    except ObjectDoesNotExist:
        return (
            "it is disposed of, but its signed disposal certificate has not been issued "
            "(run `python manage.py complete_disposals`)"
        )
    problem = stored_file_problem(certificate.pdf_name, certificate.pdf_sha256)
    return f"its disposal certificate {certificate.number}: {problem}" if problem else None


def _file_problem(exhibit: Exhibit) -> str | None:
    return stored_file_problem(exhibit.stored_name, exhibit.sha256)


def stored_file_problem(name: str, sha256: str) -> str | None:
    """Whether a stored file is there, readable, and still the file whose SHA-256 was recorded."""
    if not default_storage.exists(name):
        return "the stored file is missing"
    from evidence.verify import sha256_of
    from portal.filecrypt import FileDecryptionError

    try:
        with default_storage.open(name, "rb") as handle:
            actual = sha256_of(handle)[0]
    except FileDecryptionError as exc:
        return f"the stored file cannot be read: {exc}"
    if actual != sha256:
        return f"the stored file's SHA-256 is {actual}, not {sha256}"
    return None
