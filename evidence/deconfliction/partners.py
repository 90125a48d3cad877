"""Deconfliction between installations: a scheme's signed blind-index set goes out, a partner's comes in.

Two forces whose schemes run on separate installations cannot query each other's database. Instead each
exports its scheme's current set — the blind indexes of every identity its live taskings engage, each with
the day its tasking's window ends — signed with the scheme's key (evidence/deconfliction/exchange.py), and
sends the file to the other by whatever route they agree. The receiving installation imports it only if
the partner's pinned certificate signed it, unaltered, under a deconfliction key both hold; the newest set
replaces the partner's previous one (an older or repeated set is refused, so a file cannot be replayed to
bring back what the partner has since withdrawn). Its entries are matched at once against the live
taskings here, and every identity a tasking records afterwards is matched against them too. On a match
the tasking pauses and its controller is told to contact the partner set's named contact. The partner
learns of the match when it imports this installation's set in turn: exchange runs both ways.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from evidence.deconfliction import exchange
from evidence.deconfliction.blind import keys
from evidence.deconfliction.services import _live, _lock, _side, new_reference
from evidence.models import (
    DeconflictionMatch,
    PartnerEntry,
    PartnerInstallation,
    PartnerSet,
    Tasking,
    TaskingIdentifier,
)
from evidence.policy import may_exchange_with_partners, may_export_deconfliction_set
from evidence.verify import certificate_fingerprint
from portal.audit import audit_record
from portal.models import Scheme, User

_BATCH = 500


def set_size(scheme: Scheme) -> int:
    """How many identities the scheme's live taskings engage: what its set holds, before de-duplication."""
    return TaskingIdentifier.objects.filter(tasking__in=_live(Tasking.objects.filter(scheme=scheme))).count()


def certificate_check(certificate: str) -> str:
    """The SHA-256 fingerprint of a PEM certificate; a plain message if it is not one."""
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".pem") as handle:
        handle.write(certificate.strip())
        handle.flush()
        try:
            return certificate_fingerprint(handle.name)
        except ValueError:
            raise ValidationError(
                "This is not a certificate. Paste the partner's signing certificate, from -----BEGIN CERTIFICATE----- "
                "to -----END CERTIFICATE-----."
            ) from None


def partner_add(*, name: str, certificate: str, by: User) -> PartnerInstallation:
    """Pin a partner installation's signing certificate (PEM). Platform superusers only."""
    if not may_exchange_with_partners(by):
        raise PermissionDenied("Only the platform's administrators add partner installations.")
    fingerprint = certificate_check(certificate)
    partner = PartnerInstallation.objects.create(
        name=name.strip(), certificate=certificate.strip(), fingerprint=fingerprint, added_by=by
    )
    audit_record(action="evidence.partner_add", actor=by, detail={"partner": partner.pk, "fingerprint": fingerprint})
    return partner


def set_export(*, scheme: Scheme, by: User) -> bytes:
    """The scheme's current signed set: every identity its live taskings engage, as (key id, blind index,
    the last day of its tasking's window). The exporting officer is the set's contact."""
    from evidence.bundles.plan import signing_pair

    if not may_export_deconfliction_set(by, scheme):
        raise PermissionDenied("Only the scheme's supervising officers export its deconfliction set.")
    key_path, cert_path = signing_pair()
    live = _live(Tasking.objects.filter(scheme=scheme))
    latest: dict[tuple[str, str], str] = {}
    rows = (
        TaskingIdentifier.objects.filter(tasking__in=live)
        .values_list("key_id", "blind_index", "tasking__window_end")
        .order_by("pk")
    )
    for key_id, value, window_end in rows.iterator(chunk_size=5000):
        day = timezone.localtime(window_end).date().isoformat()
        if latest.get((key_id, value), "") < day:
            latest[(key_id, value)] = day
    signed = exchange.set_sign(
        issuer=scheme.name,
        contact_name=by.get_full_name(),
        contact_email=by.email,
        entries=[{"key_id": k, "blind_index": v, "expires": day} for (k, v), day in sorted(latest.items())],
        key_path=key_path,
        cert_path=cert_path,
    )
    audit_record(action="evidence.partner_set_export", actor=by, detail={"scheme": scheme.pk, "entries": len(latest)})
    return signed


def set_import(*, partner: PartnerInstallation, data: bytes, by: User | None) -> tuple[PartnerSet, list]:
    """Check and import a partner's signed set; it replaces their previous one and is matched at once. `by`
    is None only when the platform's operator runs the import command."""
    if by is not None and not may_exchange_with_partners(by):
        raise PermissionDenied("Only the platform's administrators import partner installations' sets.")
    read = exchange.set_read(
        data, trusted_certificates=[partner.certificate.encode()], known_key_ids={key.id for key in keys()}
    )
    with transaction.atomic():
        _lock([], register="exclusive")  # as the register's imports: no identity is recorded meanwhile
        PartnerInstallation.objects.select_for_update().get(pk=partner.pk)
        newest = partner.sets.order_by("-issued_at").first()
        if newest is not None and read.issued_at <= newest.issued_at:
            when = "%-d %B %Y at %H:%M"
            raise exchange.SetRefused(
                f"This set was issued on {timezone.localtime(read.issued_at):{when}}, no later than the set from "
                f"{partner.name} already imported (issued {timezone.localtime(newest.issued_at):{when}}). An older "
                "or repeated set is never imported: ask the partner for their newest export.",
                "not_newer",
            )
        imported = PartnerSet.objects.create(
            partner=partner,
            issuer=read.issuer,
            contact_name=read.contact_name,
            contact_email=read.contact_email,
            issued_at=read.issued_at,
            signer_fingerprint=read.signer_fingerprint,
            entry_count=len(read.entries),
            imported_by=by,
        )
        if newest is not None:
            partner.sets.filter(replaced_at__isnull=True).exclude(pk=imported.pk).update(replaced_at=timezone.now())
            # The replaced sets' indexes are of no more use; the sets themselves stay on the record.
            PartnerEntry.objects.filter(set__partner=partner).exclude(set=imported).delete()
        PartnerEntry.objects.bulk_create(
            [
                PartnerEntry(set=imported, key_id=e.key_id, blind_index=e.blind_index, expires_on=e.expires)
                for e in read.entries
            ],
            batch_size=5000,
        )
        audit_record(
            action="evidence.partner_set_import",
            actor=by,
            detail={
                "partner": partner.pk,
                "set": imported.pk,
                "issued_at": read.issued_at.isoformat(),
                "entries": len(read.entries),
                "signer": read.signer_fingerprint,
            },
        )
        matches = _set_meet(imported)
    return imported, matches


def _set_meet(imported: PartnerSet) -> list[DeconflictionMatch]:
    """A newly imported set against every live tasking's identities: each tasking met once per partner,
    except where it is already in an open match with that partner, or the same identity met the partner
    before (a match resolved is not raised again by each day's new set)."""
    hits: dict[int, tuple[int, tuple[str, str]]] = {}
    entries = PartnerEntry.objects.filter(set=imported).values_list("key_id", "blind_index")
    wanted = set(entries.iterator(chunk_size=5000))
    values = sorted({value for _key, value in wanted})
    sides = DeconflictionMatch.objects.filter(partner=imported.partner_id).values_list(
        "tasking", "identifier", "resolved_at"
    )
    in_open = {tasking for tasking, _identifier, resolved in sides if resolved is None}
    met = {identifier for _tasking, identifier, _resolved in sides}
    for start in range(0, len(values), _BATCH):
        rows = (
            TaskingIdentifier.objects.filter(blind_index__in=values[start : start + _BATCH])
            .filter(tasking__in=_live(Tasking.objects.all()))
            .values_list("pk", "key_id", "blind_index", "tasking_id")
            .order_by("pk")
        )
        for pk, key_id, value, tasking_id in rows:
            if (key_id, value) in wanted and tasking_id not in in_open and pk not in met:
                hits.setdefault(tasking_id, (pk, (key_id, value)))
    if not hits:
        return []
    list(Tasking.objects.select_for_update(no_key=True).filter(pk__in=sorted(hits)).order_by("pk"))
    found = []
    for tasking_id, (row_pk, (key_id, value)) in sorted(hits.items()):
        entry = (
            PartnerEntry.objects.select_related("set").filter(set=imported, key_id=key_id, blind_index=value).first()
        )
        row = TaskingIdentifier.objects.get(pk=row_pk)
        found.append(_side(new_reference(), Tasking.objects.get(pk=tasking_id), row, partner_entry=entry))
    return found
