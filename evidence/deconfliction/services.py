"""Recording the identities a tasking engages, matching them, pausing on a match and resolving it.

Everything that changes deconfliction state goes through here: the tasking admin (an officer's list), the
exhibit service (a volunteer's "other party") and the transcript reader call these functions.

A match is looked for at the moment an identifier is recorded, against the identifiers of every other
scheme's tasking that is still live (not closed, its window not over). On a match both taskings are paused
(each is a risk to the other's operation), each controller is told whom to contact and the match's
reference — never the other side's identifier, operation, persona or scheme — and each assigned
volunteer reads only that the tasking is paused. Each controller records their side's resolution after
signing in again; only then does their tasking resume. Every step is audited.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from evidence.deconfliction.blind import BlindIndex, blind_index, blind_indexes, blind_indexes_many, keys
from evidence.deconfliction.identifiers import Identifier, Kind, NotAnIdentifier, identify
from evidence.models import (
    Assignment,
    DeconflictionMatch,
    Exhibit,
    PartnerEntry,
    PartnerSet,
    RegisterEntry,
    Tasking,
    TaskingIdentifier,
)
from evidence.policy import authorisation_problem, may_resolve_match
from portal.audit import audit_record
from portal.models import User
from portal.notifications import notify

log = logging.getLogger(__name__)

T = Tasking.Status
PAUSED_FOR_VOLUNTEER = "This tasking is paused. Your supervising officer will contact you."
# "dave_77 on Instagram": an account name and the platform it is on, as people write it.
_ON_PLATFORM = re.compile(r"^(?P<name>\S+)\s+on\s+(?P<platform>.+)$", re.IGNORECASE)
_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread over the phone


class ResolutionRefused(PermissionDenied):
    pass


def identifiers_from_text(text: str, platform: str = "") -> tuple[list[Identifier], list[str]]:
    """The identifiers in a free-text list (one per line, or separated by commas or semicolons) and, apart,
    each part that could not be read, with the reason. `platform` is where an account name without
    "on <platform>" is."""
    found, unreadable = [], []
    for part in re.split(r"[,;\n]", text):
        part = part.strip()
        if not part:
            continue
        on = _ON_PLATFORM.match(part)
        try:
            found.append(identify(on["name"], on["platform"]) if on else identify(part, platform))
        except NotAnIdentifier as exc:
            unreadable.append(str(exc))
    return list(dict.fromkeys(found)), unreadable


def _live(queryset):
    return queryset.exclude(status=T.CLOSED).filter(window_end__gt=timezone.now())


# Taken shared by everything that records a tasking's identities, and exclusively by the register's additions
# and imports: an entry added at the moment a tasking records the same identity cannot miss it, and the
# register's import of thousands of indexes needs one lock, not one per index.
REGISTER_LOCK = 0x6465636F6E  # "decon"


def _lock(indexes: Iterable[str], *, register: str = "shared") -> None:
    """Two schemes recording one identifier at the same moment must not each miss the other: on
    PostgreSQL the check and the insert of one blind index are serialised by a transaction-scoped advisory
    lock on it, taken before any row lock or the audit chain's lock (one order everywhere: the register's
    lock, these, then rows, then the chain). SQLite takes its write lock at the start of each transaction:
    the same effect."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        shared = "_shared" if register == "shared" else ""
        cursor.execute(f"SELECT pg_advisory_xact_lock{shared}(%s)", [REGISTER_LOCK])
        for value in sorted(set(indexes)):
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int(value[:15], 16)])


def identifiers_record(
    *,
    tasking: Tasking,
    identifiers: Iterable[Identifier],
    source: str,
    by: User | None,
    exhibit: Exhibit | None = None,
) -> list[DeconflictionMatch]:
    """Record identifiers the tasking engages (each once) and match the new ones at once. Returns the
    matches found now (this tasking's side)."""
    with transaction.atomic():
        computed = [(each, every[0], every) for each, every in identifiers_indexed(identifiers)]  # newest key first
        _lock(index.value for _, _, every in computed for index in every)
        created = []
        for identifier, index, every in computed:
            if TaskingIdentifier.objects.filter(_under_any_key(every), tasking=tasking).exists():
                continue  # recorded before, perhaps under a key being rotated out
            row = TaskingIdentifier.objects.create(
                tasking=tasking,
                key_id=index.key_id,
                blind_index=index.value,
                kind=identifier.kind,
                platform=identifier.platform,
                value=identifier.value,
                source=source,
                exhibit=exhibit,
                added_by=by,
            )
            created.append((identifier, index, every, row))
        pairs = _pairs(tasking, [(every, row) for _identifier, _index, every, row in created])
        for identifier, index, _every, _row in created:
            audit_record(
                action="evidence.identifier_record",
                actor=by,
                obj=tasking,
                # The audit log names the identifier by its blind index only: the log is read more widely.
                detail={"kind": identifier.kind, "blind_index": index.value, "source": source},
            )
        return _meet(tasking, pairs)


def identifiers_indexed(identifiers: Iterable[Identifier]) -> list[tuple[Identifier, list[BlindIndex]]]:
    """Each identifier once, in order, with its blind index under every key (the newest first): what
    identifiers_record stores and looks up, computed for the whole list at once."""
    identifiers = list(dict.fromkeys(identifiers))
    return list(zip(identifiers, blind_indexes_many(each.key for each in identifiers), strict=True))


def tasking_recheck(*, tasking: Tasking) -> list[DeconflictionMatch]:
    """Match every identity the tasking already holds again: when it becomes live again (activated, or its
    window moved into the future), work recorded meanwhile by other schemes may engage the same people."""
    rows = list(tasking.identifiers.all())
    if not rows:
        return []
    with transaction.atomic():
        everies = [(blind_indexes(Identifier(Kind(row.kind), row.value, row.platform).key), row) for row in rows]
        _lock(index.value for every, _row in everies for index in every)
        return _meet(tasking, _pairs(tasking, everies))


def _pairs(tasking: Tasking, everies: list) -> dict[tuple[str, int], tuple[TaskingIdentifier, object]]:
    """Each other tasking, register entry and partner set this one meets, once, with the identities that
    meet, loaded as objects; then the taskings' rows are locked, in one order, before anything is written to
    the audit chain."""
    if not _live(Tasking.objects.filter(pk=tasking.pk)).exists():
        return {}
    found = lookup(tasking, everies)
    if not found:
        return {}
    ids = {what: [pk for (kind, _key), (_row, pk) in found.items() if kind == what] for what in SOURCES}
    others = {
        "tasking": TaskingIdentifier.objects.filter(pk__in=ids["tasking"])
        .select_related("tasking", "tasking__controller")
        .defer("value"),  # another scheme's plaintext is never read, not even decrypted in passing
        "entry": RegisterEntry.objects.filter(pk__in=ids["entry"]).select_related("owner").defer("value"),
        "partner": PartnerEntry.objects.filter(pk__in=ids["partner"]).select_related("set"),
    }
    loaded = {what: {each.pk: each for each in rows} for what, rows in others.items()}
    pairs = {key: (row, loaded[key[0]][pk]) for key, (row, pk) in sorted(found.items())}
    locked = [tasking.pk, *(pk for what, pk in pairs if what == "tasking")]
    list(Tasking.objects.select_for_update(no_key=True).filter(pk__in=locked).order_by("pk"))
    return pairs


def new_reference() -> str:
    return "DX-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))


def _meet(tasking: Tasking, pairs: dict) -> list[DeconflictionMatch]:
    found = []
    for (what, _pk), (row, other) in pairs.items():
        reference = new_reference()
        if what == "entry":
            found.append(_side(reference, tasking, row, entry=other))
            _tell_register_owner(found[-1])
            continue
        if what == "partner":  # the partner learns of it when it imports this installation's set
            found.append(_side(reference, tasking, row, partner_entry=other))
            continue
        found.append(_side(reference, tasking, row, other_tasking=other.tasking))
        _side(reference, other.tasking, other, other_tasking=tasking)
    return found


def _under_any_key(every) -> Q:
    looked_up = Q()
    for index in every:
        looked_up |= Q(key_id=index.key_id, blind_index=index.value)
    return looked_up


SOURCES = ("tasking", "entry", "partner")


def lookup(tasking: Tasking, found: list) -> dict[tuple[str, int], tuple[TaskingIdentifier | None, int]]:
    """For (blind indexes under every key, this tasking's row or None) pairs: who else holds the same
    identities, as {(source, its id): (this tasking's row, the id of the row that holds it)} — source
    "tasking" (another scheme's live tasking: keyed by that tasking), "entry" (a live entry on a force's
    register) or "partner" (a live entry in a partner installation's newest set: keyed by the partner, so a
    match resolved is not raised again by the partner's next set). Left out:
    what is already in an open match with this tasking, and a pair one of its rows has met before (a match
    resolved is not raised again).

    Nobody else holds most identities, and that answer comes from one indexed query for the whole list (a
    transcript's senders) across the three, written as SQL: composing it through the ORM cost more than the
    database took to answer (bench/deconfliction.py). Nothing is loaded as an object here, and no other
    party's plaintext is ever read."""
    mine = {(index.key_id, index.value): row for every, row in found for index in every}
    if not mine:
        return {}
    q = connection.ops.quote_name
    values = sorted({value for _key, value in mine})
    # PostgreSQL is given the values once, as one text split on the server: a statement with hundreds of
    # placeholders, the same array three times, or even one list (quoted value by value, client-side) costs
    # the driver more to prepare than the database takes to answer it. A blind index is hex digits: no comma.
    postgres = connection.vendor == "postgresql"
    if postgres:
        head = "WITH wanted(b) AS (SELECT unnest(string_to_array(%s, ','))) "
        among, given = "IN (SELECT b FROM wanted)", []
    else:
        head, among, given = "", f"IN ({', '.join(['%s'] * len(values))})", values
    identity, task, match = (
        TaskingIdentifier._meta.db_table,
        Tasking._meta.db_table,
        DeconflictionMatch._meta.db_table,
    )
    entry, partner, partner_set = (
        RegisterEntry._meta.db_table,
        PartnerEntry._meta.db_table,
        PartnerSet._meta.db_table,
    )
    sql = (  # names from the models, values as parameters
        f"{head}SELECT 'tasking', i.{q('id')}, i.{q('key_id')}, i.{q('blind_index')}, i.{q('tasking_id')} "  # noqa: S608
        f"FROM {q(identity)} i JOIN {q(task)} t ON t.{q('id')} = i.{q('tasking_id')} "
        f"WHERE i.{q('blind_index')} {among} AND t.{q('scheme_id')} <> %s AND t.{q('status')} <> %s "
        f"AND t.{q('window_end')} > %s "
        f"UNION ALL SELECT 'entry', e.{q('id')}, e.{q('key_id')}, e.{q('blind_index')}, e.{q('id')} "
        f"FROM {q(entry)} e WHERE e.{q('blind_index')} {among} AND e.{q('withdrawn_at')} IS NULL "
        f"AND e.{q('expires_on')} >= %s "
        f"UNION ALL SELECT 'partner', p.{q('id')}, p.{q('key_id')}, p.{q('blind_index')}, s.{q('partner_id')} "
        f"FROM {q(partner)} p JOIN {q(partner_set)} s ON s.{q('id')} = p.{q('set_id')} "
        f"WHERE p.{q('blind_index')} {among} AND s.{q('replaced_at')} IS NULL "
        f"AND (p.{q('expires_on')} IS NULL OR p.{q('expires_on')} >= %s) "
        # What this tasking has met before, and whether it is still open, in the same round trip.
        f"UNION ALL SELECT CASE WHEN m.{q('other_tasking_id')} IS NOT NULL THEN 'met:tasking' "
        f"WHEN m.{q('register_entry_id')} IS NOT NULL THEN 'met:entry' ELSE 'met:partner' END, "
        f"m.{q('identifier_id')}, CASE WHEN m.{q('resolved_at')} IS NULL THEN 'open' ELSE '' END, '', "
        f"COALESCE(m.{q('other_tasking_id')}, m.{q('register_entry_id')}, m.{q('partner_id')}) "
        f"FROM {q(match)} m WHERE m.{q('tasking_id')} = %s"
    )
    now, today = timezone.now(), timezone.localdate()
    parameters = [*given, tasking.scheme_id, T.CLOSED, now, *given, today, *given, today, tasking.pk]
    with connection.cursor() as cursor:
        cursor.execute(sql, [",".join(values), *parameters] if postgres else parameters)
        rows = cursor.fetchall()
    held, in_open, met = [], set(), set()
    for source, pk, key_id, value, other in rows:
        if source.startswith("met:"):
            source = source.removeprefix("met:")
            met.add((source, other, pk))  # pk: this tasking's identity that met it
            if key_id == "open":
                in_open.add((source, other))
        elif (key_id, value) in mine:
            held.append((source, pk, mine[(key_id, value)], other))
    if not held:
        return {}
    wanted: dict[tuple[str, int], tuple[TaskingIdentifier | None, int]] = {}
    for source, pk, row, other in sorted(held, key=lambda each: each[1]):
        key = (source, other)
        if key in in_open or (row is not None and (source, other, row.pk) in met):
            continue
        wanted.setdefault(key, (row, pk))
    return wanted


def _tell_register_owner(match: DeconflictionMatch) -> None:
    """The register's side of a match: the entry's owner is told whom to contact and the reference. They
    read their own entry's reference (it is their force's), nothing of the tasking but its controller."""
    reference, entry, controller = match.reference, match.register_entry, match.tasking.controller
    audit_record(
        action="evidence.deconfliction_register_match",
        actor=None,
        detail={"reference": reference, "entry": entry.pk, "force": entry.force_id},
    )
    notify(
        user=entry.owner,
        subject=f"Deconfliction match {reference} against your register entry {entry.reference}",
        text=(
            f"A volunteer scheme's live tasking engages an identity on your force's register (your entry "
            f"{entry.reference}). The tasking is paused: its volunteers can add nothing to it and are told only that "
            f"it is paused. Its controller, {controller.full_name} ({controller.email}), will contact you about "
            f"match reference {reference}; you may contact them first. Record what you agree on the match's page."
        ),
        url=reverse("deconfliction_match", args=[match.pk]),
    )


def _side(
    reference: str,
    tasking: Tasking,
    row: TaskingIdentifier,
    *,
    other_tasking: Tasking | None = None,
    entry: RegisterEntry | None = None,
    partner_entry: PartnerEntry | None = None,
) -> DeconflictionMatch:
    """One tasking's side of a match (with another tasking, or an entry on a force's register): recorded,
    the tasking paused, its controller told whom to call and its volunteers that it is paused."""
    tasking = Tasking.objects.select_related("controller").get(pk=tasking.pk)  # locked by identifiers_record
    contact = entry.owner if entry is not None else other_tasking.controller if other_tasking is not None else None
    partner = partner_entry.set if partner_entry is not None else None
    match = DeconflictionMatch.objects.create(
        reference=reference,
        tasking=tasking,
        identifier=row,
        other_tasking=other_tasking,
        register_entry=entry,
        partner_entry=partner_entry,
        partner=partner.partner if partner else None,
        contact=contact,
        contact_name=partner.contact_name if partner else "",
        contact_email=partner.contact_email if partner else "",
        status_before=tasking.status if tasking.status != T.PAUSED else _paused_from(tasking),
    )
    if tasking.status != T.PAUSED:
        tasking.status = T.PAUSED
        tasking.save(update_fields=["status"])
    audit_record(
        action="evidence.deconfliction_match",
        actor=None,
        obj=tasking,
        detail={"reference": reference, "identifier": row.pk, "status_before": match.status_before},
    )
    notify(
        user=tasking.controller,
        subject=f"Deconfliction match {reference}: tasking {tasking.reference} is paused",
        text=(
            f"Someone this tasking engages online is also engaged by another party's live work. Tasking "
            f"{tasking.reference} is paused: no volunteer can add evidence to it, and its volunteers are told only "
            f"that it is paused. Before any further contact with that person, contact {match.whom_to_contact} "
            f"and quote match reference {reference}. Then record the resolution on the "
            "tasking's page."
        ),
        url=reverse("admin:evidence_tasking_change", args=[tasking.pk]),
    )
    for assignment in Assignment.objects.filter(tasking=tasking, ended_at__isnull=True).select_related("volunteer"):
        notify(
            user=assignment.volunteer,
            subject=f"Tasking {tasking.reference} is paused",
            text=PAUSED_FOR_VOLUNTEER,
            url=reverse("tasking_detail", args=[tasking.pk]),
        )
    return match


def _paused_from(tasking: Tasking) -> str:
    """What a tasking already paused by another match was before its first pause."""
    first = open_matches(tasking).order_by("found_at", "pk").first()
    return first.status_before if first else T.ACTIVE


def open_matches(tasking: Tasking):
    return tasking.deconfliction_matches.filter(resolved_at__isnull=True).select_related("contact")


def match_resolve(*, match: DeconflictionMatch, outcome: str, reasons: str, by: User) -> DeconflictionMatch:
    """Record one side's resolution. Hand over or withdraw closes the tasking at once; proceed resumes the
    status it had before the pause once no match on it is left open (suspended instead if its
    authorisation is no longer in force). The caller has had the controller sign in again."""
    if not may_resolve_match(by, match):
        raise ResolutionRefused("Only the tasking's controller can record the resolution of a deconfliction match.")
    if outcome not in DeconflictionMatch.Outcome.values:
        raise ValidationError("Choose how the match was resolved: proceed, hand over or withdraw.")
    reasons = reasons.strip()
    if not reasons:
        raise ValidationError(
            "Record the reasons: who you spoke to, when, and what was agreed. The resolution is on the record."
        )
    with transaction.atomic():
        match = DeconflictionMatch.objects.select_for_update().get(pk=match.pk)
        if match.resolved_at is not None:
            raise ValidationError(f"Match {match.reference} was already resolved on {match.resolved_at:%-d %B %Y}.")
        match.outcome, match.reasons, match.resolved_by, match.resolved_at = outcome, reasons, by, timezone.now()
        match.save(update_fields=["outcome", "reasons", "resolved_by", "resolved_at"])
        tasking = Tasking.objects.select_for_update().get(pk=match.tasking_id)
        before = tasking.status
        if outcome != DeconflictionMatch.Outcome.PROCEED:
            tasking.status = T.CLOSED  # handed over or withdrawn: this scheme's part ends now
        elif tasking.status == T.PAUSED and not open_matches(tasking).exists():
            tasking.status = match.status_before
            if tasking.status == T.ACTIVE and authorisation_problem(tasking.authorisation, timezone.now()):
                tasking.status = T.SUSPENDED
        if tasking.status != before:
            tasking.save(update_fields=["status"])
        audit_record(
            action="evidence.deconfliction_resolve",
            actor=by,
            obj=tasking,
            detail={
                "reference": match.reference,
                "outcome": outcome,
                "reasons": reasons,
                "from": before,
                "to": tasking.status,
            },
        )
    return match


def exhibit_identifiers_record(exhibit: Exhibit) -> list[DeconflictionMatch]:
    """After an exhibit is stored: its other party's identifiers, as the volunteer wrote them. A part that
    cannot be read as an identifier is left for the officer reviewing the exhibit (the text is kept on it)."""
    identifiers, _unreadable = identifiers_from_text(exhibit.other_party, exhibit.platform)
    if not identifiers:
        return []
    return identifiers_record(
        tasking=exhibit.tasking,
        identifiers=identifiers,
        source=TaskingIdentifier.Source.EXHIBIT,
        by=exhibit.producer,
        exhibit=exhibit,
    )


def senders_identify(senders: Iterable[str], platform: str, persona_handles: str) -> tuple[list[Identifier], int]:
    """A transcript's senders (each once, stripped) as identifiers on `platform`, in the senders' order, and
    how many could not be read as one: everyone but the persona (`persona_handles`, the tasking's
    comma-separated list). The transcript job's check and bench/deconfliction.py's run through here."""
    persona = {handle.strip().removeprefix("@").casefold() for handle in persona_handles.split(",")} - {""}
    identifiers, unreadable = [], 0
    for sender in sorted(senders):
        if sender.removeprefix("@").casefold() in persona:
            continue
        try:
            identifiers.append(identify(sender, platform))
        except NotAnIdentifier:
            unreadable += 1
    return identifiers, unreadable


def transcript_identifiers_record(exhibit: Exhibit) -> dict:
    """Every sender in a chat export who is not the persona, as an account on the exhibit's platform (or a
    phone number or address, where the export names senders so). Read from the stored file by a background
    job (evidence.tasks.transcript_senders_job): a transcript may be long, and the volunteer's upload must
    not wait for it. A sender the export names by a display name with spaces cannot be an account name and
    is counted, not matched."""
    from django.core.files.storage import default_storage

    from evidence import transcripts

    senders: set[str] = set()
    for message in transcripts.read_messages(
        lambda: default_storage.open(exhibit.stored_name, "rb"), exhibit.sniffed_type
    ):
        if message.kind == "message" and message.sender.strip():
            senders.add(message.sender.strip())
    identifiers, unreadable = senders_identify(senders, exhibit.platform, exhibit.tasking.persona_handles)
    matches = (
        identifiers_record(
            tasking=exhibit.tasking,
            identifiers=identifiers,
            source=TaskingIdentifier.Source.TRANSCRIPT,
            by=exhibit.producer,
            exhibit=exhibit,
        )
        if identifiers
        else []
    )
    return {"senders": len(identifiers), "not_accounts": unreadable, "matches": len(matches)}


def identifiers_reindex(*, by: User | None = None) -> dict:
    """After a new key is put first in PORTAL_DECONFLICTION_KEYS: every identity indexed under an older key
    is indexed again under the newest, from its encrypted canonical value. Until then, checks look under
    every listed key, so nothing goes unmatched meanwhile; afterwards the old key can be removed. Safe to run
    again. (The other installations that deconflict with this one must rotate to the same key.)"""
    newest = keys()[0].id
    counts = {"reindexed": 0, "already": 0}
    stale = TaskingIdentifier.objects.exclude(key_id=newest).order_by("pk")
    for row in stale.iterator(chunk_size=500):
        index = blind_index(Identifier(Kind(row.kind), row.value, row.platform).key)
        with transaction.atomic():
            _lock([index.value])
            twin = TaskingIdentifier.objects.filter(
                tasking_id=row.tasking_id, key_id=index.key_id, blind_index=index.value
            )
            if twin.exists():
                counts["already"] += 1  # recorded again meanwhile: the newer row carries it
                continue
            TaskingIdentifier.objects.filter(pk=row.pk).update(key_id=index.key_id, blind_index=index.value)
            counts["reindexed"] += 1
    # The register's entries typed in on the portal are indexed again the same way. Those imported as blind
    # indexes cannot be: the portal never held their identities. They still match while the old key is
    # listed; the force computes them again with the new key and imports them before it is removed.
    entered = RegisterEntry.objects.exclude(key_id=newest).exclude(value="").order_by("pk")
    for entry in entered.iterator(chunk_size=500):
        index = blind_index(Identifier(Kind(entry.kind), entry.value, entry.platform).key)
        with transaction.atomic():
            _lock([], register="exclusive")
            RegisterEntry.objects.filter(pk=entry.pk).update(key_id=index.key_id, blind_index=index.value)
            counts["reindexed"] += 1
    counts["blind_only"] = (
        RegisterEntry.objects.exclude(key_id=newest).filter(value="", withdrawn_at__isnull=True).count()
    )
    audit_record(action="evidence.deconfliction_reindex", actor=by, detail={"key_id": newest, **counts})
    return counts
