"""A force's register of identities of live police interest: who may read and change it, adding entries one
by one or by importing blind indexes the force computed itself, withdrawing them, matching them against
the taskings of every scheme, and the force's side of a match.

A deconfliction officer belongs to a force, not a scheme (portal.roles.DECONFLICTION). They see their own
force's register and the matches against it, and nothing of any scheme: of a match they learn the
reference, when it was found, which of their own entries it met and whom to contact (the tasking's
controller) — never the tasking's operation, identities or scheme.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from evidence.deconfliction.blind import blind_index, blind_indexes, keys
from evidence.deconfliction.identifiers import Identifier
from evidence.deconfliction.services import (
    _live,
    _lock,
    _side,
    _tell_register_owner,
    new_reference,
)
from evidence.models import DeconflictionMatch, RegisterEntry, Tasking, TaskingIdentifier
from evidence.policy import may_agree_match, may_keep_register
from portal import roles
from portal.audit import audit_record
from portal.models import Force, User

HEX64 = re.compile(r"^[0-9a-f]{64}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")
IMPORT_MAX_ROWS = 200_000  # a bigger set is split into several files (each import is one transaction)
_BATCH = 500


class RegisterRefused(PermissionDenied):
    pass


# --- who may ------------------------------------------------------------------------------------------


def register_force(user: User) -> Force | None:
    """The force whose register this person keeps, or None: only a deconfliction officer of a force."""
    if not roles.has_role(user, roles.DECONFLICTION) or user.force_id is None:
        return None
    return user.force


def register_entries(user: User) -> QuerySet[RegisterEntry]:
    """The entries this person may read: their own force's, and nobody else's."""
    force = register_force(user)
    if force is None:
        return RegisterEntry.objects.none()
    return RegisterEntry.objects.filter(force=force)


def register_matches(user: User) -> QuerySet[DeconflictionMatch]:
    """The matches against this person's own force's register."""
    force = register_force(user)
    if force is None:
        return DeconflictionMatch.objects.none()
    return DeconflictionMatch.objects.filter(register_entry__force=force).select_related(
        "register_entry", "tasking__controller", "resolved_by", "agreed_by"
    )


def register_owners(force: Force) -> QuerySet[User]:
    """Who may own an entry: the force's active deconfliction officers."""
    return User.objects.filter(force=force, is_active=True, groups__name=roles.DECONFLICTION.code).order_by(
        "full_name", "email"
    )


def _check(by: User, force: Force) -> None:
    if not may_keep_register(by, force):
        raise RegisterRefused("Only the force's own deconfliction officers can change its register.")


def _check_terms(force: Force, owner: User, expires_on: date, review_on: date) -> None:
    today = timezone.localdate()
    if not register_owners(force).filter(pk=owner.pk).exists():
        raise ValidationError(
            {"owner": "The owner must be one of your force's deconfliction officers: they are the one contacted."}
        )
    if expires_on <= today:
        raise ValidationError({"expires_on": "The expiry date must be in the future: an expired entry matches nothing"})
    if review_on < today:
        raise ValidationError({"review_on": "The review date must be today or later."})
    if review_on > expires_on:
        raise ValidationError({"review_on": "The review date must be on or before the expiry date."})


# --- adding, importing, withdrawing ------------------------------------------------------------------------


@dataclass(frozen=True)
class Added:
    entries: int
    matches: list[DeconflictionMatch]


def register_entry_add(
    *,
    force: Force,
    identifier: Identifier,
    reference: str,
    owner: User,
    expires_on: date,
    review_on: date,
    by: User,
) -> tuple[RegisterEntry, list[DeconflictionMatch]]:
    """Register one identity typed in by the force's officer: its canonical value kept encrypted, matched at
    once against every scheme's live taskings."""
    _check(by, force)
    _check_terms(force, owner, expires_on, review_on)
    reference = reference.strip()
    if not reference:
        raise ValidationError({"reference": "Enter your force's reference for this interest."})
    with transaction.atomic():
        _lock([], register="exclusive")
        every = blind_indexes(identifier.key)
        clash = (
            _live_entries()
            .filter(force=force, blind_index__in=[index.value for index in every])
            .select_related("owner")
            .first()
        )
        if clash is not None:
            raise ValidationError(
                {
                    "identity": f"This identity is already on your register: entry {clash.reference}, owned by "
                    f"{clash.owner.get_full_name()}, until {clash.expires_on:%-d %B %Y}."
                }
            )
        index = blind_index(identifier.key)
        entry = RegisterEntry.objects.create(
            force=force,
            reference=reference,
            kind=identifier.kind,
            platform=identifier.platform,
            value=identifier.value,
            key_id=index.key_id,
            blind_index=index.value,
            source=RegisterEntry.Source.ENTERED,
            owner=owner,
            expires_on=expires_on,
            review_on=review_on,
            added_by=by,
        )
        audit_record(
            action="evidence.register_add",
            actor=by,
            detail={"entry": entry.pk, "force": force.pk, "kind": identifier.kind, "blind_index": index.value},
        )
        matches = _entries_meet({(entry.key_id, entry.blind_index): entry}, force=force)
    return entry, matches


def register_file_read(data: bytes) -> list[tuple[str, str]]:
    """The (key_id, blind_index) rows of a blind-index file, as `deconfliction_blind_indexes` writes it: a CSV
    with a header row `key_id,blind_index`. Every problem is named with its line; nothing is imported from
    a file with any."""
    if b"\0" in data[:4096]:
        raise ValidationError("This is not a CSV file of blind indexes. Choose the file the command wrote.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError("This is not a CSV file of blind indexes. Choose the file the command wrote.") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or [cell.strip().lower() for cell in header[:2]] != ["key_id", "blind_index"]:
        raise ValidationError(
            "The file's first line must be the header `key_id,blind_index`, as the command "
            "`manage.py deconfliction_blind_indexes` writes it. A file of names, numbers or handles is never "
            "uploaded: compute its blind indexes on your own machine first."
        )
    known = {key.id for key in keys()}
    rows, problems = [], []
    for line, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(rows) >= IMPORT_MAX_ROWS:
            raise ValidationError(
                f"The file holds more than {IMPORT_MAX_ROWS:,} blind indexes. Split it into several files."
            )
        key_id, value, *_ = (cell.strip().lower() for cell in [*cells, "", ""])
        if not HEX16.match(key_id) or not HEX64.match(value):
            problems.append(f"line {line}: not a key id (16 hex digits) and a blind index (64 hex digits)")
        elif key_id not in known:
            problems.append(
                f"line {line}: computed with a deconfliction key this portal does not hold (key id {key_id}); "
                "compute it again with the current key"
            )
        else:
            rows.append((key_id, value))
        if len(problems) >= 10:
            break
    if problems:
        raise ValidationError(
            "Nothing was imported. Correct the file and import it again: " + "; ".join(problems) + "."
        )
    if not rows:
        raise ValidationError("The file holds no blind indexes: nothing was imported.")
    return list(dict.fromkeys(rows))


def register_import(
    *,
    force: Force,
    rows: Iterable[tuple[str, str]],
    reference: str,
    owner: User,
    expires_on: date,
    review_on: date,
    by: User,
) -> Added:
    """Register blind indexes the force computed itself: the portal never holds their plaintext. Indexes
    already live on the force's register are not added twice. All or nothing, matched at once."""
    _check(by, force)
    _check_terms(force, owner, expires_on, review_on)
    reference = reference.strip()
    if not reference:
        raise ValidationError({"reference": "Enter your force's reference for these entries."})
    rows = list(dict.fromkeys(rows))
    with transaction.atomic():
        _lock([], register="exclusive")
        held = set()
        for start in range(0, len(rows), _BATCH):
            batch = [value for _key, value in rows[start : start + _BATCH]]
            held.update(_live_entries().filter(force=force, blind_index__in=batch).values_list("key_id", "blind_index"))
        fresh = [(key_id, value) for key_id, value in rows if (key_id, value) not in held]
        _insert_imported(fresh, force=force, reference=reference, owner=owner, terms=(expires_on, review_on), by=by)
        audit_record(
            action="evidence.register_import",
            actor=by,
            detail={"force": force.pk, "reference": reference, "added": len(fresh), "already": len(held)},
        )
        # Only the entries a live tasking meets are loaded, to be matched.
        matches = _entries_meet({index: None for index in fresh}, force=force, reference=reference)
    return Added(len(fresh), matches)


def _insert_imported(rows: list, *, force: Force, reference: str, owner: User, terms: tuple, by: User) -> None:
    """Write imported entries: by COPY on PostgreSQL (200,000 through the ORM took 28 s, too long for a web
    request), through the ORM elsewhere."""
    expires_on, review_on = terms
    now, source = timezone.now(), RegisterEntry.Source.IMPORTED
    if connection.vendor == "postgresql":
        columns = [
            "force_id", "reference", "kind", "platform", "value", "key_id", "blind_index", "source", "owner_id",
            "expires_on", "review_on", "added_by_id", "added_at",
        ]  # fmt: skip
        quote = connection.ops.quote_name
        sql = f"COPY {quote(RegisterEntry._meta.db_table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            for key_id, value in rows:
                copy.write_row(
                    (
                        force.pk,
                        reference,
                        "",
                        "",
                        "",
                        key_id,
                        value,
                        source,
                        owner.pk,
                        expires_on,
                        review_on,
                        by.pk,
                        now,
                    )
                )
        return
    RegisterEntry.objects.bulk_create(
        [
            RegisterEntry(
                force=force,
                reference=reference,
                key_id=key_id,
                blind_index=value,
                source=source,
                owner=owner,
                expires_on=expires_on,
                review_on=review_on,
                added_by=by,
                added_at=now,
            )
            for key_id, value in rows
        ],
        batch_size=2000,
    )


def register_entry_withdraw(*, entry: RegisterEntry, by: User) -> RegisterEntry:
    """The interest has ended: the entry stops matching at once. It is kept, withdrawn, for the record."""
    _check(by, entry.force)
    with transaction.atomic():
        entry = RegisterEntry.objects.select_for_update().get(pk=entry.pk)
        if entry.withdrawn_at is not None:
            raise ValidationError(f"Entry {entry.reference} was already withdrawn.")
        entry.withdrawn_at, entry.withdrawn_by = timezone.now(), by
        entry.save(update_fields=["withdrawn_at", "withdrawn_by"])
        audit_record(action="evidence.register_withdraw", actor=by, detail={"entry": entry.pk, "force": entry.force_id})
    return entry


def _live_entries() -> QuerySet[RegisterEntry]:
    return RegisterEntry.objects.filter(withdrawn_at__isnull=True, expires_on__gte=timezone.localdate())


# --- matching the register against the taskings -------------------------------------------------------------


def _entries_meet(
    by_index: dict[tuple[str, str], RegisterEntry | None], *, force: Force, reference: str = ""
) -> list[DeconflictionMatch]:
    """New entries, by (key id, blind index), against every scheme's live taskings' identities: each
    (tasking, entry) met once. An entry given as None (an import's) is loaded only if a tasking meets it. The
    caller holds the register's lock exclusively, so no tasking records an identity meanwhile."""
    if not by_index:
        return []
    hits: dict[tuple[int, tuple[str, str]], int] = {}
    values = sorted({value for _key, value in by_index})
    for start in range(0, len(values), _BATCH):
        rows = (
            TaskingIdentifier.objects.filter(blind_index__in=values[start : start + _BATCH])
            .filter(tasking__in=_live(Tasking.objects.all()))
            .values_list("pk", "key_id", "blind_index", "tasking_id")
        )
        for pk, key_id, value, tasking_id in rows:
            if (key_id, value) in by_index:
                hits.setdefault((tasking_id, (key_id, value)), pk)
    if not hits:
        return []
    for index in {index for _tasking, index in hits if by_index[index] is None}:
        by_index[index] = (
            RegisterEntry.objects.filter(
                force=force, reference=reference, key_id=index[0], blind_index=index[1], withdrawn_at__isnull=True
            )
            .order_by("-pk")
            .first()
        )
    taskings = sorted({tasking_id for tasking_id, _index in hits})
    list(Tasking.objects.select_for_update(no_key=True).filter(pk__in=taskings).order_by("pk"))
    rows = {row.pk: row for row in TaskingIdentifier.objects.filter(pk__in=hits.values())}
    found = []
    for (tasking_id, index), row_pk in sorted(hits.items()):
        match = _side(new_reference(), Tasking.objects.get(pk=tasking_id), rows[row_pk], entry=by_index[index])
        _tell_register_owner(match)
        found.append(match)
    return found


# --- the force's side of a match ----------------------------------------------------------------------------


def match_agree(*, match: DeconflictionMatch, agreement: str, by: User) -> DeconflictionMatch:
    """The register owner's side: what the force agreed with the controller (proceed, hand over, withdraw,
    and on what terms). On the record; the tasking's resolution stays its controller's to record."""
    if not may_agree_match(by, match):
        raise RegisterRefused("Only the deconfliction officers of the register's force can record its side.")
    agreement = agreement.strip()
    if not agreement:
        raise ValidationError(
            "Record what was agreed: with whom you spoke, when, and what your force agreed. It is on the record."
        )
    with transaction.atomic():
        match = DeconflictionMatch.objects.select_for_update().get(pk=match.pk)
        if match.agreed_at is not None:
            raise ValidationError(f"Your force's side of match {match.reference} was already recorded.")
        match.agreement, match.agreed_by, match.agreed_at = agreement, by, timezone.now()
        match.save(update_fields=["agreement", "agreed_by", "agreed_at"])
        audit_record(
            action="evidence.deconfliction_agree",
            actor=by,
            detail={"reference": match.reference, "entry": match.register_entry_id, "agreement": agreement},
        )
    return match


def register_summary(force: Force) -> dict:
    today = timezone.localdate()
    entries = RegisterEntry.objects.filter(force=force)
    live = entries.filter(withdrawn_at__isnull=True, expires_on__gte=today)
    return {
        "live": live.count(),
        "review_due": live.filter(review_on__lte=today).count(),
        "open_matches": DeconflictionMatch.objects.filter(register_entry__force=force, agreed_at__isnull=True).count(),
    }
