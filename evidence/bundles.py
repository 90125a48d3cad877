"""Handover bundles: what must be done before one may be requested, and how one is built and signed."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from evidence.models import Exhibit, HandoverBundle, Statement, Tasking
from portal.audit import audit_record
from portal.models import AuditEvent, Job, User

TEXT_TYPES = {"text/plain", "text/csv", "application/json"}
INLINE_IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}
RENDER_TEXT_BYTES = 512 * 1024  # a transcript longer than this is summarised; the native file is in the bundle
INLINE_IMAGE_BYTES = 8 * 1024 * 1024


class BundleRefused(ValidationError):
    """A bundle cannot be requested yet; `.missing` lists what must be done first."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__(missing)
        self.missing = missing


def bundle_missing(tasking: Tasking) -> list[str]:
    """Everything that must be settled before the evidence can leave (CPIA: all relevant material scheduled)."""
    missing = []
    for exhibit in tasking.exhibits.filter(review_state=Exhibit.Review.AWAITING).order_by("reference"):
        missing.append(f"Exhibit {exhibit.reference} is awaiting review.")
    for exhibit in tasking.exhibits.filter(review_state=Exhibit.Review.REJECTED, unused__isnull=True):
        missing.append(f"Exhibit {exhibit.reference} was rejected but is not scheduled as unused material (MG6C/MG6D).")
    for statement in tasking.statements.filter(state=Statement.State.DRAFT).select_related("author"):
        missing.append(f"A statement by {statement.author.get_full_name()} is not signed.")
    if not tasking.statements.filter(state=Statement.State.SIGNED).exists():
        missing.append("No signed witness statement (MG11) produces the exhibits.")
    return missing


def bundle_request(*, tasking: Tasking, by: User) -> HandoverBundle:
    """Version n+1, built by a Celery job queued on commit. A request while one is building returns it."""
    from portal.jobs import job_create

    with transaction.atomic():
        Tasking.objects.select_for_update().filter(pk=tasking.pk).first()  # one request at a time per tasking
        pending = tasking.bundles.filter(state__in=[HandoverBundle.State.QUEUED, HandoverBundle.State.BUILDING])
        if pending.exists():
            return pending.first()
        missing = bundle_missing(tasking)
        if missing:
            raise BundleRefused(missing)
        last = tasking.bundles.order_by("-version").first()
        bundle = HandoverBundle.objects.create(
            tasking=tasking, version=(last.version + 1) if last else 1, requested_by=by
        )
        job_create(kind="evidence.bundle_build", obj=bundle, by=by)
        audit_record(action="evidence.bundle_request", actor=by, obj=tasking, detail={"bundle": bundle.pk})
    return bundle


def _read(name: str, limit: int | None = None) -> bytes:
    with default_storage.open(name, "rb") as handle:
        return handle.read() if limit is None else handle.read(limit)


def _exhibit_view(exhibit: Exhibit) -> dict:
    """How an exhibit appears in the PDF: transcripts as readable blocks, images inline, the rest described;
    quarantined material never rendered."""
    view = {"exhibit": exhibit, "kind": "described"}
    if exhibit.quarantined:
        view["kind"] = "quarantined"
    elif exhibit.sniffed_type in TEXT_TYPES:
        text = _read(exhibit.stored_name, RENDER_TEXT_BYTES).decode("utf-8", errors="replace")
        from evidence.conduct_guard import parse_transcript

        messages = parse_transcript(text, exhibit.sniffed_type)
        view.update(
            kind="transcript",
            messages=messages[:2000],
            raw=None if messages else text[:20000],
            truncated=exhibit.size > RENDER_TEXT_BYTES,
        )
    elif exhibit.sniffed_type in INLINE_IMAGE_TYPES and exhibit.size <= INLINE_IMAGE_BYTES:
        data = base64.b64encode(_read(exhibit.stored_name)).decode("ascii")
        view.update(kind="image", data_url=f"data:{exhibit.sniffed_type};base64,{data}")
    return view


def bundle_pdf(bundle: HandoverBundle) -> tuple[bytes, dict]:
    """Render the bundle (PDF/A-3 with the manifest and natives up to the threshold embedded), unsigned."""
    from weasyprint import HTML, Attachment
    from weasyprint.urls import URLFetcher

    tasking = bundle.tasking
    exhibits = list(tasking.exhibits.select_related("producer").order_by("producer_id", "sequence"))
    accepted = [e for e in exhibits if e.review_state == Exhibit.Review.ACCEPTED]
    statements = list(tasking.statements.filter(state=Statement.State.SIGNED).select_related("author"))
    files, attachments = [], []
    for exhibit in accepted:
        name = exhibit.reference.replace("/", "_")
        embed = exhibit.size <= settings.PORTAL_BUNDLE_EMBED_MAX_BYTES and not exhibit.quarantined
        files.append(
            {
                "name": name,
                "reference": exhibit.reference,
                "size": exhibit.size,
                "sha256": exhibit.sha256,
                "type": exhibit.sniffed_type,
                "embedded": embed,
            }
        )
        if embed:
            attachments.append(Attachment(io.BytesIO(_read(exhibit.stored_name)), name=name, relationship="Source"))
    for statement in statements:
        name = f"MG11-{statement.pk}.pdf"
        files.append(
            {
                "name": name,
                "statement": statement.pk,
                "size": default_storage.size(statement.pdf_name),
                "sha256": statement.pdf_sha256,
                "type": "application/pdf",
                "embedded": True,
            }
        )
        attachments.append(Attachment(io.BytesIO(_read(statement.pdf_name)), name=name, relationship="Source"))
    head = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first() or ""
    manifest = {
        "bundle": bundle.pk,
        "version": bundle.version,
        "tasking": tasking.reference,
        "scheme": tasking.scheme.name,
        "generated_at": timezone.now().isoformat(),
        "audit_chain_head": head,
        "files": files,
    }
    attachments.insert(
        0, Attachment(io.BytesIO(json.dumps(manifest, indent=2).encode()), name="manifest.json", relationship="Data")
    )
    html = render_to_string(
        "evidence/bundle_pdf.html",
        {
            "bundle": bundle,
            "tasking": tasking,
            "authorisation": tasking.authorisation,
            "statements": statements,
            "exhibits": accepted,
            "views": [_exhibit_view(e) for e in accepted],
            "unused": tasking.unused_material.order_by("schedule", "at"),
            "generated_at": timezone.now(),
            "manifest": manifest,
            "custody": {e.pk: list(e.custody.order_by("id")) for e in accepted},
        },
    )
    pdf = HTML(string=html, url_fetcher=URLFetcher(allowed_protocols=["data"])).write_pdf(
        pdf_variant="pdf/a-3b", attachments=attachments
    )
    return pdf, manifest


def sign_pdf(pdf: bytes) -> bytes:
    """PAdES signature by the scheme's key, as the very last step."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    key, cert = settings.PORTAL_SIGNING_KEY_PATH, settings.PORTAL_SIGNING_CERT_PATH
    if not (Path(key).exists() and Path(cert).exists()):
        raise ValidationError(
            f"No signing key at {key}: run `python manage.py create_signing_key` (development) or install the "
            "force's key and certificate."
        )
    from evidence.verify import outside_event_loop

    signer = signers.SimpleSigner.load(key, cert, key_passphrase=None)
    meta = signers.PdfSignatureMetadata(field_name="BundleSignature", reason="Evidence handover bundle")
    return outside_event_loop(
        lambda: signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)), meta, signer=signer).getvalue()
    )


def bundle_build(bundle: HandoverBundle, *, progress=lambda percent, stage: None) -> HandoverBundle:
    """Idempotent: a finished bundle is left alone; a re-run replaces nothing already committed."""
    if bundle.state == HandoverBundle.State.READY:
        return bundle
    HandoverBundle.objects.filter(pk=bundle.pk).update(state=HandoverBundle.State.BUILDING)
    progress(10, "Rendering the bundle")
    pdf, manifest = bundle_pdf(bundle)
    progress(80, "Signing")
    signed = sign_pdf(pdf)
    name = default_storage.save(
        f"bundles/{bundle.tasking.scheme_id}/{bundle.tasking_id}/v{bundle.version}.pdf", ContentFile(signed)
    )
    with transaction.atomic():
        HandoverBundle.objects.filter(pk=bundle.pk).update(
            state=HandoverBundle.State.READY,
            pdf_name=name,
            pdf_sha256=hashlib.sha256(signed).hexdigest(),
            manifest=manifest,
            finished_at=timezone.now(),
        )
        audit_record(
            action="evidence.bundle_built",
            actor=None,
            obj=bundle.tasking,
            detail={"bundle": bundle.pk, "sha256": hashlib.sha256(signed).hexdigest()},
        )
    bundle.refresh_from_db()
    return bundle


def bundle_job(bundle: HandoverBundle) -> Job | None:
    return Job.objects.filter(kind="evidence.bundle_build", object_id=str(bundle.pk)).order_by("-id").first()
