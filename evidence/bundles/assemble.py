"""Assembling a bundle from its rendered chunks: front matter, one streaming join, signature, package, commit."""

from __future__ import annotations

import contextlib
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator

from evidence.bundles.plan import WorkArea, bundle_file_stem, bundle_manifest, bundle_plan, signing_pair
from evidence.bundles.render import bundle_render_chunk, cover_context, html, rendering, write_tagged
from evidence.bundles.sensitive import sensitive_file_name, write_sensitive
from evidence.custody import custody_append
from evidence.models import CustodyEvent, Exhibit, HandoverBundle, Statement
from evidence.pdf_join import Bookmark, StreamingPdfWriter
from evidence.pdf_stamp import load_font
from evidence.urn import display_urn
from evidence.verify import sha256_file
from portal.audit import audit_record
from portal.notifications import notify
from portal.storage import local_copy, put_file, scratch_folder

Progress = Callable[[int, str], None]

# Every index line is one line high (long titles end in an ellipsis) and every index page holds the same
# number of lines, so the index's length, and with it every page number after it, is known before it is
# rendered: it is rendered once. 40 level-1 lines and the heading fit a page with a line to spare.
INDEX_LINES_PER_PAGE = 40
INDEX_PART_PAGES = 20  # index pages per WeasyPrint render: a long index is rendered in parts too


def _index_entries(bundle: HandoverBundle, plan: dict, records: list[dict], starts: list[int]) -> list[dict]:
    """Index lines with the real (1-based) page numbers where each heading lands in the whole bundle."""
    where: dict[str, int] = {}
    for record, start in zip(records, starts, strict=True):
        for anchor, page in record["anchors"].items():
            where.setdefault(anchor, start + page + 1)
    references = {f.get("exhibit"): f for f in plan["files"] if f.get("exhibit")}
    entries = [
        {"title": "Case summary", "level": 1, "page": where.get("summary")},
        {"title": "Witness statements (MG11)", "level": 1, "page": where.get("statements")},
    ]
    for record, chunk in zip(records, plan["chunks"], strict=True):
        if chunk["kind"] == "mg11":
            entries.append(
                {"title": record["bookmarks"][0][0], "level": 2, "page": where.get(f"statement-{chunk['statement']}")}
            )
    entries.append({"title": "Exhibit list (MG12)", "level": 1, "page": where.get("mg12")})
    entries.append({"title": "Exhibits", "level": 1, "page": where.get("exhibits")})
    descriptions = dict(Exhibit.objects.filter(pk__in=references).values_list("pk", "description"))
    for chunk in plan["chunks"]:
        if chunk["kind"] == "exhibits":
            for pk, run in zip(chunk["exhibits"], chunk.get("ranges") or [None] * len(chunk["exhibits"]), strict=True):
                if run and run[0]:  # a later run of a long transcript: its exhibit is listed once, at its start
                    continue
                entry = references[pk]
                label = (
                    "quarantined material, not rendered"
                    if entry["location"] == "withheld"
                    else Truncator(descriptions.get(pk, "")).chars(70)
                )
                entries.append(
                    {"title": f"{entry['reference']} — {label}", "level": 2, "page": where.get(f"exhibit-{pk}")}
                )
    entries += [
        {"title": "Continuity", "level": 1, "page": where.get("continuity")},
        {"title": "Unused material (MG6C)", "level": 1, "page": where.get("unused")},
        {"title": "How to verify this bundle", "level": 1, "page": where.get("integrity")},
    ]
    return entries


def _write_front(bundle: HandoverBundle, plan: dict, records: list[dict], work: Path, token: str) -> list[Path]:
    """The cover, then the index in parts of a bounded size, each a PDF of its own. Should a page of the
    index ever not hold its lines, the index is longer than planned and is rendered again with the page
    numbers moved on by the difference."""
    with rendering():
        return _render_front(bundle, plan, records, work, token)


def _render_front(bundle: HandoverBundle, plan: dict, records: list[dict], work: Path, token: str) -> list[Path]:
    lines = len(_index_entries(bundle, plan, records, [0] * len(records)))
    index_pages = max(1, -(-lines // INDEX_LINES_PER_PAGE))
    body_pages = sum(r["pages"] for r in records)
    for _attempt in range(3):
        starts, page = [], 1 + index_pages
        for record in records:
            starts.append(page)
            page += record["pages"]
        entries = _index_entries(bundle, plan, records, starts)
        pages = [entries[i : i + INDEX_LINES_PER_PAGE] for i in range(0, len(entries), INDEX_LINES_PER_PAGE)]
        paths, rendered = [], 0
        for number, first in enumerate(range(0, len(pages), INDEX_PART_PAGES)):
            body = render_to_string(
                "evidence/bundle/index.html", {"pages": pages[first : first + INDEX_PART_PAGES], "first": first == 0}
            )
            document = html(bundle, body).render()
            rendered += len(document.pages)
            path = work / f".index-{number:03d}.{token}.pdf"
            write_tagged(document, path)
            paths.append(path)
            del document
        if rendered == index_pages:
            break
        for path in paths:
            path.unlink(missing_ok=True)
        index_pages = rendered
    else:
        raise RuntimeError("The index's page numbers did not settle.")
    context = {**cover_context(bundle, plan), "total_pages": 1 + index_pages + body_pages}
    cover = work / f".cover.{token}.pdf"
    html(bundle, render_to_string("evidence/bundle/cover.html", context)).write_pdf(
        cover, pdf_variant="pdf/a-3b", pdf_tags=True
    )
    align_identity(cover)  # the cover gives the whole bundle its PDF/A identity
    return [cover, *paths]


def _embedded_files(bundle: HandoverBundle, plan: dict) -> list[tuple[str, str | bytes, str, str]]:
    """(name, content or storage name, MIME type, description) of the manifest and every native embedded
    in the PDF."""
    import json

    statements = Statement.objects.in_bulk([f["statement"] for f in plan["files"] if f.get("statement")])
    exhibits = Exhibit.objects.in_bulk([f["exhibit"] for f in plan["files"] if f.get("exhibit")])
    manifest = json.dumps(bundle_manifest(bundle), indent=2).encode()
    files: list[tuple[str, str | bytes, str, str]] = [
        ("manifest.json", manifest, "application/json", "The bundle's manifest: every file, its size and SHA-256")
    ]
    for entry in plan["files"]:
        if entry["location"] != "embedded":
            continue
        if entry.get("statement"):
            stored, description = statements[entry["statement"]].pdf_name, "Witness statement (MG11) as signed"
        else:
            exhibit = exhibits[entry["exhibit"]]
            stored, description = exhibit.stored_name, f"Exhibit {exhibit.reference}"
        files.append((entry["name"], stored, entry["type"], description))
    return files


def sign_pdf_file(source: Path, target: Path) -> None:
    """PAdES signature by the scheme's key, as the very last step (streamed from and to files)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    from evidence.verify import outside_event_loop

    key, cert = signing_pair()
    signer = signers.SimpleSigner.load(key, cert, key_passphrase=None)
    timestamper = None
    meta = signers.PdfSignatureMetadata(field_name="BundleSignature", reason="Evidence handover bundle")
    if settings.PORTAL_TSA_URL:
        # PAdES B-LTA: the signature's time comes from the TSA, and the certificates needed to check it and
        # a document timestamp over everything are embedded, so the bundle verifies after the signing
        # certificate has expired. The certificates here carry no revocation endpoints to consult.
        from pyhanko.keys import load_cert_from_pemder
        from pyhanko.sign.fields import SigSeedSubFilter
        from pyhanko.sign.signers.pdf_signer import DSSContentSettings, TimestampDSSContentSettings
        from pyhanko.sign.timestamps import HTTPTimeStamper
        from pyhanko_certvalidator import ValidationContext

        roots = [load_cert_from_pemder(cert)]
        if settings.PORTAL_TSA_CERT_PATH:
            roots.append(load_cert_from_pemder(settings.PORTAL_TSA_CERT_PATH))
        timestamper = HTTPTimeStamper(settings.PORTAL_TSA_URL, timeout=30)
        meta = signers.PdfSignatureMetadata(
            field_name="BundleSignature",
            reason="Evidence handover bundle",
            subfilter=SigSeedSubFilter.PADES,
            embed_validation_info=True,
            use_pades_lta=True,
            validation_context=ValidationContext(trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail"),
            # The validation material goes in before the document timestamp, in its revision, so the timestamp
            # covers the file to its last byte: nothing follows it that no signature protects. (That needs the
            # DSS without VRI entries, which PAdES has made optional.)
            dss_settings=DSSContentSettings(
                include_vri=False,
                next_ts_settings=TimestampDSSContentSettings(include_vri=False, update_before_ts=True),
            ),
        )
    pdf_signer = pdf17_signer(meta, signer=signer, timestamper=timestamper)
    # The output must be readable too, or pyHanko would build the whole signed file in memory first.
    with source.open("rb") as inp, target.open("w+b") as out:
        outside_event_loop(lambda: pdf_signer.sign_pdf(IncrementalPdfFileWriter(inp), output=out))


def _pdf17_signer_class():
    from pyhanko.sign import signers

    class Pdf17Signer(signers.PdfSigner):
        """A PDF/A-3 file is PDF 1.7 and must not declare PDF 2.0. pyHanko declares the ISO 32002
        extension, and with it PDF 2.0, for any ECDSA signature on a named curve; the signature itself is
        ordinary CMS (PAdES allows ECDSA) that PDF 1.7 readers verify, so the declaration is left out."""

        def register_extensions(self, pdf_out, *, md_algorithm: str):
            register, ensure_version = pdf_out.register_extension, pdf_out.ensure_output_version

            def only_pdf17(extension):
                if str(extension.base_version) <= "/1.7":
                    register(extension)

            def at_most_pdf17(version):
                ensure_version(min(tuple(version), (1, 7)))

            pdf_out.register_extension, pdf_out.ensure_output_version = only_pdf17, at_most_pdf17
            try:
                super().register_extensions(pdf_out, md_algorithm=md_algorithm)
            finally:
                pdf_out.register_extension, pdf_out.ensure_output_version = register, ensure_version

    return Pdf17Signer


def pdf17_signer(*args, **kwargs):
    """pyHanko's PdfSigner for a PDF/A-3 file (the class is made on first use: pyHanko loads only to sign)."""
    return _pdf17_signer_class()(*args, **kwargs)


def align_identity(path: Path) -> None:
    """One producer and one creator in both the Info dictionary and the XMP metadata, as PDF/A requires:
    the signer (pyHanko) writes its own name as the XMP producer and adds it to the Info producer, so both
    say it from the start; what made the pages is the creator."""
    import pikepdf
    import weasyprint
    from pyhanko.pdf_utils.metadata.model import VENDOR

    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:  # keeps the Info dictionary in step
            meta["pdf:Producer"] = VENDOR
            meta["xmp:CreatorTool"] = f"Volunteer evidence portal (WeasyPrint {weasyprint.__version__})"
        pdf.save(path)


def sign_pdf(pdf: bytes) -> bytes:
    """Sign PDF bytes (used to re-sign in tests and tools); bundles are signed with `sign_pdf_file`."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "in.pdf", Path(folder) / "out.pdf"
        source.write_bytes(pdf)
        sign_pdf_file(source, target)
        return target.read_bytes()


def _write_unsigned(
    bundle: HandoverBundle, plan: dict, records: list[dict], front: list[Path], target: Path, progress: Progress
) -> int:
    """Natives, front matter and chunks into one PDF in a single streaming pass; returns its page count."""
    from pikepdf import open as open_pdf

    front_pages = []
    for path in front:
        with open_pdf(path) as pdf:
            front_pages.append(len(pdf.pages))
    total = sum(front_pages) + sum(record["pages"] for record in records)
    urn = display_urn(plan.get("case", {}).get("urn", ""))
    label = f"URN {urn} · {bundle.tasking.reference} handover bundle v{bundle.version}"

    def footer(number: int) -> str:
        return f"OFFICIAL-SENSITIVE · {label} · Page {number} of {total}"

    modified = timezone.now().strftime("D:%Y%m%d%H%M%SZ")
    bookmarks = [Bookmark("Evidence handover bundle", 1, 0), Bookmark("Index", 1, 1)]
    with target.open("wb") as out:
        writer = StreamingPdfWriter(out, font=load_font())
        for name, source, mime, description in _embedded_files(bundle, plan):
            relationship = "Data" if name == "manifest.json" else "Source"
            with local_copy(source) if isinstance(source, str) else contextlib.nullcontext(source) as content:
                writer.embed_file(name, content, mime, description, relationship=relationship, modified=modified)
        for number, path in enumerate(front):
            writer.append(path, footer=footer, identity=number == 0)  # the cover gives the PDF/A identity
        step = max(1, len(records) // 10)
        for number, record in enumerate(records, start=1):
            start = writer.page_count
            with local_copy(record["name"]) as path:
                writer.append(path, footer=footer)
            for title, level, page, *y in record["bookmarks"]:
                bookmarks.append(Bookmark(title, level, start + page, y[0] if y else None))
            if number % step == 0:
                progress(86 + 6 * number // len(records), f"Joined {number} of {len(records)} parts")
        writer.finish(bookmarks=bookmarks, document_id=uuid.uuid4().bytes)
    if writer.page_count != total:
        raise RuntimeError(f"The bundle has {writer.page_count} pages, not the {total} its parts promised.")
    return total


def bundle_assemble(bundle: HandoverBundle, *, progress: Progress = lambda percent, stage: None) -> HandoverBundle:
    """Join the chunks (rendering any still missing), number, bookmark, sign, package, then commit."""
    if bundle.state == HandoverBundle.State.READY:
        return bundle
    plan = bundle_plan(bundle)
    records = [bundle_render_chunk(bundle, index) for index in range(len(plan["chunks"]))]
    token = uuid.uuid4().hex
    with scratch_folder(near=WorkArea(bundle).prefix) as folder:
        unsigned, signed = (folder / f"{name}.{token}.pdf" for name in ("unsigned", "signed"))
        package = folder / f"package.{token}.zip"
        progress(82, "Writing the index and cover")
        front = _write_front(bundle, plan, records, folder, token)
        progress(86, "Joining the parts")
        pages = _write_unsigned(bundle, plan, records, front, unsigned, progress)
        progress(93, "Signing")
        sign_pdf_file(unsigned, signed)
        progress(95, "Writing and signing the sensitive part")
        sensitive = write_sensitive(bundle, plan, served_sha256=sha256_file(signed), folder=folder, token=token)
        beside = [f for f in plan["files"] if f["location"] == "beside"]
        if beside:
            progress(97, "Packaging the files too large to embed")
            _package(bundle, signed, package, beside)
        return _commit(bundle, signed, package if beside else None, pages=pages, sensitive=sensitive)


def _final_names(bundle: HandoverBundle) -> tuple[str, str]:
    base = f"bundles/{bundle.tasking.scheme_id}/{bundle.tasking_id}/{bundle_file_stem(bundle)}"
    return f"{base}.pdf", f"{base}.zip"


def _sensitive_name(bundle: HandoverBundle) -> str:
    return f"bundles/{bundle.tasking.scheme_id}/{bundle.tasking_id}/{sensitive_file_name(bundle)}"


def _package(bundle: HandoverBundle, signed: Path, package: Path, beside: list[dict]) -> None:
    from evidence.verify import PACKAGE_NATIVES

    pdf_name, _zip = _final_names(bundle)
    exhibits = Exhibit.objects.in_bulk([f["exhibit"] for f in beside])
    with zipfile.ZipFile(package, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        archive.write(signed, Path(pdf_name).name)
        for entry in beside:
            with local_copy(exhibits[entry["exhibit"]].stored_name) as path:
                archive.write(path, PACKAGE_NATIVES + entry["name"])


def _commit(
    bundle: HandoverBundle, signed: Path, package: Path | None, *, pages: int, sensitive: tuple[Path, int]
) -> HandoverBundle:
    """Move the finished files into place and record them, under the bundle's row lock: the first
    assembly to get here wins; any other finds the bundle ready and leaves its files to be deleted."""
    pdf_name, zip_name = _final_names(bundle)
    pdf_sha = sha256_file(signed)
    package_sha = sha256_file(package) if package else ""
    sensitive_sha = sha256_file(sensitive[0])
    with transaction.atomic():
        row = HandoverBundle.objects.select_for_update().get(pk=bundle.pk)
        if row.state == HandoverBundle.State.READY:
            return row
        if row.files_withdrawn_at is not None:  # an exhibit it holds was disposed of while it was being built
            raise RuntimeError(row.error or "The bundle's files were withdrawn: an exhibit it holds was disposed of.")
        for temp, name in ((signed, pdf_name), (package, zip_name), (sensitive[0], _sensitive_name(bundle))):
            if temp is not None:
                put_file(temp, name)
        HandoverBundle.objects.filter(pk=bundle.pk).update(
            state=HandoverBundle.State.READY,
            pdf_name=pdf_name,
            pdf_sha256=pdf_sha,
            page_count=pages,
            package_name=zip_name if package else "",
            package_sha256=package_sha,
            sensitive_pdf_name=_sensitive_name(bundle),
            sensitive_pdf_sha256=sensitive_sha,
            sensitive_page_count=sensitive[1],
            manifest=bundle_manifest(bundle),
            finished_at=timezone.now(),
            error="",
        )
        # Each exhibit's own chain records the bundle that carries it (and the signed file's hash).
        for exhibit in Exhibit.objects.filter(
            pk__in=[f["exhibit"] for f in bundle_plan(bundle)["files"] if f.get("exhibit")]
        ):
            custody_append(
                exhibit=exhibit,
                action=CustodyEvent.Action.INCLUDED_IN_BUNDLE,
                actor=None,
                detail={"bundle": bundle.pk, "version": bundle.version, "pdf_sha256": pdf_sha},
            )
        audit_record(
            action="evidence.bundle_built",
            actor=None,
            obj=bundle.tasking,
            detail={
                "bundle": bundle.pk,
                "sha256": pdf_sha,
                "package_sha256": package_sha,
                "sensitive_sha256": sensitive_sha,
            },
        )
        notify(
            user=bundle.requested_by,
            subject=f"Bundle ready: {bundle.tasking.reference} version {bundle.version}",
            text=f"The bundle you asked for ({bundle.tasking.reference}, version {bundle.version}) is built and "
            "signed. Check it, then share it with a court or CPS recipient.",
            url=reverse("bundle_status", args=[bundle.pk]),
        )
    transaction.on_commit(WorkArea(bundle).clear)
    bundle.refresh_from_db()
    return bundle


def bundle_build(bundle: HandoverBundle, *, progress: Progress = lambda percent, stage: None) -> HandoverBundle:
    """Build in this process, chunk after chunk (the Celery path renders the chunks in parallel instead).
    Idempotent: a finished bundle is left alone; a re-run renders only what is missing."""
    from evidence.bundles.requests import bundle_start

    if bundle.state == HandoverBundle.State.READY:
        return bundle
    plan = bundle_start(bundle)
    progress(5, "Planning")
    total = len(plan["chunks"])
    for index in range(total):
        bundle_render_chunk(bundle, index)
        progress(10 + 70 * (index + 1) // total, f"Rendered part {index + 1} of {total}")
    return bundle_assemble(bundle, progress=progress)
