"""The signed disposal certificate: one PDF per disposal, saying what was disposed of, when, by which two
officers, under which retention rule and legal source, what was removed and what is kept, and how to check
it. Rendered by WeasyPrint (tagged PDF/A-3b, like the bundle), signed with the scheme's key by pyHanko (PAdES,
time-stamped when a time-stamping authority is configured), stored, and its SHA-256 written to the audit log.

Issued once the content has gone (retention.disposal): if signing fails then (no key, the TSA unreachable),
the disposal stands and `manage.py complete_disposals` (also run by Celery beat) issues it later.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from evidence.models import CustodyEvent
from evidence.urn import display_urn
from portal.audit import audit_record
from portal.display import file_size_exact, when
from portal.pdf import render_pdf
from retention import rules, selectors
from retention.display import outcome_words
from retention.models import DisposalCertificate, PersonTombstone, Tombstone

log = logging.getLogger(__name__)


def certificate_number(tombstone: Tombstone | PersonTombstone) -> str:
    """DC-<year of disposal>-<tombstone number, six digits>: the number the certificate and its record share
    (DCP- for a person's records, whose tombstones are numbered apart)."""
    prefix = "DCP" if isinstance(tombstone, PersonTombstone) else "DC"
    return f"{prefix}-{tombstone.disposed_at:%Y}-{tombstone.pk:06d}"


def _withdrawn_bundles(tombstone: Tombstone) -> list[str]:
    """Handover bundles whose stored files were withdrawn because they held the exhibit's content."""
    try:
        from evidence.bundles.withdraw import bundles_withdrawn_for
    except ImportError:  # pragma: no cover - the withdrawal arrives with the bundle change
        return []
    return [
        f"Handover bundle v{bundle.version} of {bundle.tasking.reference} (SHA-256 {bundle.pdf_sha256})"
        for bundle in bundles_withdrawn_for(tombstone.exhibit)
    ]


def _context(tombstone: Tombstone) -> dict:
    exhibit = tombstone.exhibit
    tasking = exhibit.tasking
    proposal = tombstone.proposal
    chain = list(CustodyEvent.objects.filter(exhibit=exhibit).order_by("id").values_list("action", "hash"))
    disposed = [(number, digest) for number, (action, digest) in enumerate(chain, 1) if action == "disposed"]
    return {
        "number": certificate_number(tombstone),
        "tombstone": tombstone,
        "exhibit": exhibit,
        "tasking": tasking,
        "scheme": tasking.scheme,
        "urn": display_urn(tasking.urn) if tasking.urn else "",
        "outcome": outcome_words(selectors.case_outcome(tasking)),
        "proposal": proposal,
        "proposed_by": proposal.proposed_by.get_full_name() or proposal.proposed_by.email,
        "approved_by": tombstone.approved_by.get_full_name() or tombstone.approved_by.email,
        "disposed_at": when(tombstone.disposed_at),
        "proposed_at": when(proposal.proposed_at),
        "earliest": rules.day(tombstone.earliest),
        "size": file_size_exact(tombstone.size),
        "captured_at": when(exhibit.captured_at),
        "custody_events": len(chain),
        "disposed_event": disposed[0] if disposed else None,
        "withdrawn": _withdrawn_bundles(tombstone),
        "issued_at": when(timezone.now()),
        "timestamped": bool(settings.PORTAL_TSA_URL),
    }


def _person_context(tombstone: PersonTombstone) -> dict:
    """A disposal of one kind of a person's records: whose, which kind, how many of each, who decided it and why.
    Welfare records are described by kind and count only: the certificate holds no health detail."""
    from django.apps import apps

    from retention.person_disposal import RECORD_MODELS

    words = {model._meta.label: what[1] for model, _, what in RECORD_MODELS[tombstone.kind]}
    proposal = tombstone.proposal
    return {
        "number": certificate_number(tombstone),
        "person_tombstone": tombstone,
        "kind_words": rules.RECORD_WORDS[tombstone.kind],
        "deciders": "welfare officers" if tombstone.kind == "welfare" else "supervising officers",
        "person_name": tombstone.person_name or tombstone.person_email,
        "scheme": tombstone.scheme,
        "counts": [
            (words.get(label) or apps.get_model(label)._meta.verbose_name_plural, count)
            for label, count in tombstone.counts.items()
        ],
        "files": len(tombstone.files),
        "proposal": proposal,
        "proposed_by": proposal.proposed_by.get_full_name() or proposal.proposed_by.email,
        "approved_by": tombstone.approved_by.get_full_name() or tombstone.approved_by.email,
        "disposed_at": when(tombstone.disposed_at),
        "proposed_at": when(proposal.proposed_at),
        "earliest": rules.day(tombstone.earliest),
        "left_on": rules.day(tombstone.left_on),
        "issued_at": when(timezone.now()),
        "timestamped": bool(settings.PORTAL_TSA_URL),
    }


def render_disposal_certificate(tombstone: Tombstone | PersonTombstone) -> bytes:
    """The certificate as an unsigned, tagged PDF/A-3b."""
    context = _person_context(tombstone) if isinstance(tombstone, PersonTombstone) else _context(tombstone)
    html = render_to_string("retention/disposal_certificate_pdf.html", context)
    return render_pdf(html, variant="pdf/a-3b")


def _sign(pdf: bytes, folder: Path) -> tuple[Path, str]:
    """Sign with the scheme's key (the bundle's signer: PAdES, B-LTA with a TSA); the signed file and the
    fingerprint of the certificate that signed it."""
    from evidence.bundles.assemble import align_identity, sign_pdf_file
    from evidence.bundles.plan import signing_pair
    from evidence.verify import certificate_fingerprint

    _, cert = signing_pair()  # a plain message if the key is missing or revoked
    unsigned, signed = folder / "unsigned.pdf", folder / "signed.pdf"
    unsigned.write_bytes(pdf)
    align_identity(unsigned)
    sign_pdf_file(unsigned, signed)
    return signed, certificate_fingerprint(cert)


def issue_disposal_certificate(tombstone: Tombstone | PersonTombstone) -> DisposalCertificate:
    """Render, sign and store the certificate of a disposal whose content has gone, once (idempotent: an issued
    certificate is returned as it is). Raises ValidationError if the scheme's signing key is missing or revoked."""
    from pypdf import PdfReader  # not at import: the web process never loads it (portal/pdf.py)

    person = isinstance(tombstone, PersonTombstone)
    target = {"person_tombstone": tombstone} if person else {"tombstone": tombstone}
    existing = DisposalCertificate.objects.filter(**target).first()
    if existing is not None:
        return existing
    if person:
        tombstone = PersonTombstone.objects.select_related("scheme", "proposal__proposed_by", "approved_by").get(
            pk=tombstone.pk
        )
        still = [name for name in tombstone.files if default_storage.exists(name)]
        if still:
            raise ValidationError(
                f"{len(still)} stored file(s) of the disposed {rules.RECORD_WORDS[tombstone.kind]} are still stored: "
                "the certificate is issued once they have gone (`python manage.py complete_disposals` removes "
                "them, then issues the certificate)."
            )
        scheme_id = tombstone.scheme_id
        about = {"person": tombstone.person_email, "kind": tombstone.kind}
    else:
        tombstone = Tombstone.objects.select_related(
            "exhibit__tasking__scheme", "proposal__proposed_by", "approved_by"
        ).get(pk=tombstone.pk)
        if default_storage.exists(tombstone.exhibit.stored_name):
            raise ValidationError(
                f"The content of exhibit {tombstone.reference} is still stored: the certificate is issued once it "
                "has gone (`python manage.py complete_disposals` removes it, then issues the certificate)."
            )
        scheme_id = tombstone.exhibit.tasking.scheme_id
        about = {"exhibit": tombstone.reference}
    target = {"person_tombstone": tombstone} if person else {"tombstone": tombstone}
    number = certificate_number(tombstone)
    with tempfile.TemporaryDirectory() as folder:
        signed, fingerprint = _sign(render_disposal_certificate(tombstone), Path(folder))
        data = signed.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        pages = len(PdfReader(signed).pages)
        with signed.open("rb") as handle:
            name = default_storage.save(f"disposal-certificates/{scheme_id}/{number}.pdf", File(handle))
    # A certificate about welfare records is audited in the welfare compartment (portal.audit.welfare_rows).
    welfare = person and tombstone.kind == "welfare"
    try:
        with transaction.atomic():
            certificate = DisposalCertificate.objects.create(
                **target, pdf_name=name, pdf_sha256=digest, page_count=pages, signed_by=fingerprint
            )
            audit_record(
                action=(
                    "welfare.records_disposal_certificate_issued"
                    if welfare
                    else "retention.disposal_certificate_issued"
                ),
                obj=tombstone,
                detail={"certificate": number, **about, "sha256": digest, "signed_by": fingerprint},
            )
    except IntegrityError:  # issued meanwhile by another run: keep that one, drop this copy
        default_storage.delete(name)
        return DisposalCertificate.objects.get(**target)
    return certificate


def issue_disposal_certificate_quietly(tombstone: Tombstone | PersonTombstone) -> DisposalCertificate | None:
    """Issue the certificate straight after a disposal; if it cannot be issued now, log why and leave it to
    `complete_disposals` (the disposal itself stands)."""
    try:
        return issue_disposal_certificate(tombstone)
    except Exception:  # the disposal is done; the certificate is retried, and verify_custody names it meanwhile
        log.exception("the disposal certificate of %s could not be issued now", certificate_number(tombstone))
        return None
