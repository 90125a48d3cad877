"""Handover bundles: what must be done before one may be requested, and how one is built and signed.

A bundle is built in bounded chunks so that no worker's memory grows with the bundle's size:

1. `bundle_plan` fixes, once, what goes in (exhibits, statements, the manifest's files and where each
   travels: embedded, beside the PDF in the package, or withheld) and how it is cut into chunks.
2. `bundle_render_chunk` renders one chunk with WeasyPrint to its own PDF in the bundle's work folder
   (temporary file, then rename) beside a small JSON record of its page count, anchors and bookmarks.
   Any number of workers render chunks at once (a Celery chord); a chunk already rendered is not
   rendered again, so a re-run after a crash repeats only what was lost.
3. `bundle_assemble` renders the front matter (cover, index with the real page numbers, case summary)
   as PDF/A-3 carrying the manifest and the embedded natives, appends every chunk and the signed MG11
   pages with pikepdf, stamps the marking and "Page X of Y" across the whole, writes the bookmarks,
   signs last (PAdES), packages the natives too large to embed beside the PDF in a ZIP, and only then
   moves the files into place and commits — under a row lock, so two assemblies never both land.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.text import Truncator

from evidence.models import Exhibit, HandoverBundle, Statement, Tasking
from evidence.pdf_stamp import stamp_footers
from evidence.verify import sha256_file
from portal.audit import audit_record
from portal.models import AuditEvent, Job, User

TEXT_TYPES = {"text/plain", "text/csv", "application/json"}
INLINE_IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}
RENDER_TEXT_BYTES = 512 * 1024  # a transcript longer than this is summarised; the native file is in the bundle
INLINE_IMAGE_BYTES = 8 * 1024 * 1024
WHERE = {
    "embedded": "embedded in this file",
    "beside": "supplied beside this file in the bundle package (natives folder)",
    "withheld": "withheld under police control",
}
Progress = Callable[[int, str], None]


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
    from django.core.exceptions import PermissionDenied

    from evidence.policy import may_request_bundle
    from portal.jobs import job_create

    if not may_request_bundle(by, tasking):
        raise PermissionDenied("Only a supervising officer of the tasking's scheme may request its bundle.")
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


def _native_name(exhibit: Exhibit) -> str:
    return exhibit.reference.replace("/", "_")


# --- 1. Plan ---------------------------------------------------------------------------------------


def bundle_plan(bundle: HandoverBundle) -> dict:
    """What the bundle holds and how it is cut into chunks, fixed at the first build attempt."""
    if bundle.plan:
        return bundle.plan
    tasking = bundle.tasking
    exhibits = list(
        tasking.exhibits.filter(review_state=Exhibit.Review.ACCEPTED).order_by("producer_id", "sequence", "pk")
    )
    statements = list(
        tasking.statements.filter(state=Statement.State.SIGNED).select_related("author").order_by("signed_at", "pk")
    )
    files, embedded_total = [], 0
    for exhibit in exhibits:
        if exhibit.quarantined:
            location = "withheld"
        elif (
            exhibit.size <= settings.PORTAL_BUNDLE_EMBED_MAX_BYTES
            and embedded_total + exhibit.size <= settings.PORTAL_BUNDLE_EMBED_TOTAL_MAX_BYTES
        ):
            location, embedded_total = "embedded", embedded_total + exhibit.size
        else:
            location = "beside"
        files.append(
            {
                "name": _native_name(exhibit),
                "reference": exhibit.reference,
                "exhibit": exhibit.pk,
                "size": exhibit.size,
                "sha256": exhibit.sha256,
                "type": exhibit.sniffed_type,
                "location": location,
                "embedded": location == "embedded",
            }
        )
    for statement in statements:
        files.append(
            {
                "name": f"MG11-{statement.pk}.pdf",
                "statement": statement.pk,
                "size": default_storage.size(statement.pdf_name),
                "sha256": statement.pdf_sha256,
                "type": "application/pdf",
                "location": "embedded",
                "embedded": True,
            }
        )
    size = settings.PORTAL_BUNDLE_CHUNK_EXHIBITS
    ids = [e.pk for e in exhibits]
    chunks: list[dict] = [{"kind": "summary"}, {"kind": "statements"}]
    chunks += [{"kind": "mg11", "statement": statement.pk} for statement in statements]
    chunks += [
        {"kind": "mg12", "exhibits": ids[i : i + size * 4], "first": i == 0} for i in range(0, len(ids), size * 4)
    ]
    chunks += [{"kind": "exhibits", "exhibits": ids[i : i + size], "first": i == 0} for i in range(0, len(ids), size)]
    chunks += [
        {"kind": "continuity", "exhibits": ids[i : i + size * 2], "first": i == 0} for i in range(0, len(ids), size * 2)
    ]
    if not ids:
        chunks += [{"kind": "mg12", "exhibits": [], "first": True}, {"kind": "exhibits", "exhibits": [], "first": True}]
    chunks.append({"kind": "tail"})
    plan = {
        "generated_at": timezone.now().isoformat(),
        "audit_chain_head": AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first() or "",
        "files": files,
        "chunks": chunks,
    }
    HandoverBundle.objects.filter(pk=bundle.pk, plan={}).update(plan=plan)
    bundle.refresh_from_db(fields=["plan"])  # whoever planned first wins; everyone uses that plan
    return bundle.plan


def chunk_cost(chunk: dict) -> int:
    """A rough guess of a chunk's rendering time, to start the longest first: an exhibit rendered in full
    costs about four rows of a table."""
    weight = {"exhibits": 4, "mg12": 1, "continuity": 1}.get(chunk["kind"], 0)
    return weight * len(chunk.get("exhibits", [])) or 1


def bundle_manifest(bundle: HandoverBundle) -> dict:
    plan = bundle_plan(bundle)
    return {
        "bundle": bundle.pk,
        "version": bundle.version,
        "tasking": bundle.tasking.reference,
        "scheme": bundle.tasking.scheme.name,
        "generated_at": plan["generated_at"],
        "audit_chain_head": plan["audit_chain_head"],
        "files": plan["files"],
    }


# --- 2. Chunks -------------------------------------------------------------------------------------


def bundle_work_dir(bundle: HandoverBundle) -> Path:
    """Chunk PDFs live here until the bundle is finished; every worker must see the same folder."""
    path = Path(default_storage.path(f"bundle-work/{bundle.pk}"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        write(temp)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def _exhibit_view(exhibit: Exhibit, location: str) -> dict:
    """How an exhibit appears in the PDF: transcripts as readable blocks, images inline, the rest described;
    quarantined material never rendered."""
    view = {"exhibit": exhibit, "kind": "described", "where": WHERE[location]}
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


def _exhibits(ids: list[int]) -> list[Exhibit]:
    found = Exhibit.objects.select_related("producer").in_bulk(ids)
    return [found[pk] for pk in ids]


def _chunk_body(bundle: HandoverBundle, plan: dict, chunk: dict) -> str:
    kind = chunk["kind"]
    context = {"bundle": bundle, "tasking": bundle.tasking, "first": chunk.get("first", False)}
    if kind == "summary":
        context["authorisation"] = bundle.tasking.authorisation
    elif kind == "statements":
        ids = [c["statement"] for c in plan["chunks"] if c["kind"] == "mg11"]
        found = Statement.objects.select_related("author").in_bulk(ids)
        context["statements"] = [found[pk] for pk in ids]
    elif kind == "mg12":
        context["exhibits"] = _exhibits(chunk["exhibits"])
    elif kind == "exhibits":
        locations = {f.get("exhibit"): f["location"] for f in plan["files"]}
        context["views"] = [_exhibit_view(e, locations[e.pk]) for e in _exhibits(chunk["exhibits"])]
    elif kind == "continuity":
        from evidence.models import CustodyEvent

        logs: dict[int, list] = {pk: [] for pk in chunk["exhibits"]}
        for event in CustodyEvent.objects.filter(exhibit_id__in=chunk["exhibits"]).order_by("exhibit_id", "id"):
            logs[event.exhibit_id].append(event)
        context["logs"] = [(exhibit, logs[exhibit.pk]) for exhibit in _exhibits(chunk["exhibits"])]
    elif kind == "tail":
        unused = list(bundle.tasking.unused_material.select_related("exhibit").order_by("at", "pk"))
        context.update(
            mg6c=[u for u in unused if u.schedule == "MG6C"],
            mg6d=[u for u in unused if u.schedule == "MG6D"],
            generated_at=_generated_at(plan),
            audit_chain_head=plan["audit_chain_head"],
        )
    else:
        raise ValueError(f"Unknown chunk kind {kind!r}")
    return render_to_string(f"evidence/bundle/{kind}.html", context)


def _generated_at(plan: dict):
    from datetime import datetime

    return datetime.fromisoformat(plan["generated_at"])


def _html(bundle: HandoverBundle, body: str, *, single_pass: bool = False):
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    document = render_to_string(
        "evidence/bundle/document.html",
        {"bundle": bundle, "tasking": bundle.tasking, "body": body, "single_pass": single_pass},
    )
    # Images are inlined as data: URLs by us; nothing else may be fetched (no file:, http: or https:).
    return HTML(string=document, url_fetcher=URLFetcher(allowed_protocols=["data"]))


def _flatten_bookmarks(tree, level: int = 1) -> list[list]:
    flat = []
    for label, (page, _x, _y), children, _state in tree:
        flat.append([label, level, page])
        flat.extend(_flatten_bookmarks(children, level + 1))
    return flat


def _first_anchors(document) -> dict[str, int]:
    anchors: dict[str, int] = {}
    for number, page in enumerate(document.pages):
        for anchor in page.anchors:
            anchors.setdefault(anchor, number)
    return anchors


def bundle_render_chunk(bundle: HandoverBundle, index: int) -> dict:
    """Render chunk `index` to its own PDF (once) and return its record: path, pages, anchors, bookmarks."""
    plan = bundle_plan(bundle)
    chunk = plan["chunks"][index]
    work = bundle_work_dir(bundle)
    record_path = work / f"chunk-{index:04d}.json"
    if record_path.exists():
        return json.loads(record_path.read_text())
    if chunk["kind"] == "mg11":  # the statement's own pages, exactly as signed: nothing to render
        import pikepdf

        statement = Statement.objects.select_related("author").get(pk=chunk["statement"])
        with pikepdf.open(default_storage.path(statement.pdf_name)) as pdf:
            pages = len(pdf.pages)
        signed = timezone.localtime(statement.signed_at)
        title = f"Statement of {statement.author.get_full_name()}, signed {signed:%d %b %Y}"
        record = {
            "index": index,
            "path": str(default_storage.path(statement.pdf_name)),
            "pages": pages,
            "anchors": {f"statement-{statement.pk}": 0},
            "bookmarks": [[title, 2, 0]],
        }
    else:
        document = _html(bundle, _chunk_body(bundle, plan, chunk)).render()
        pdf_path = work / f"chunk-{index:04d}.pdf"
        _atomic_write(pdf_path, lambda temp: document.write_pdf(temp, pdf_variant="pdf/a-3b"))
        record = {
            "index": index,
            "path": str(pdf_path),
            "pages": len(document.pages),
            "anchors": _first_anchors(document),
            # A continuation chunk starts below its section's heading, which an earlier chunk holds.
            "bookmarks": _flatten_bookmarks(document.make_bookmark_tree(), level=1 if chunk.get("first", True) else 2),
        }
        del document
    _atomic_write(record_path, lambda temp: temp.write_text(json.dumps(record)))
    return record


def bundle_chunks_done(bundle: HandoverBundle) -> int:
    return len(list(bundle_work_dir(bundle).glob("chunk-*.json")))


# --- 3. Assembly -----------------------------------------------------------------------------------


def _index_entries(bundle: HandoverBundle, plan: dict, records: list[dict], starts: list[int]) -> list[dict]:
    """Index lines with the real (1-based) page numbers where each heading lands in the whole bundle."""
    where: dict[str, int] = {}
    for record, start in zip(records, starts, strict=True):
        for anchor, page in record["anchors"].items():
            where.setdefault(anchor, start + page + 1)
    references = {f.get("exhibit"): f for f in plan["files"] if f.get("exhibit")}
    entries = [
        {"title": "Case summary and authorisation", "level": 1, "page": where.get("summary")},
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
            for pk in chunk["exhibits"]:
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
        {"title": "Unused material (MG6C and MG6D)", "level": 1, "page": where.get("unused")},
        {"title": "How to verify this bundle", "level": 1, "page": where.get("integrity")},
    ]
    return entries


INDEX_PART_ENTRIES = 250  # index lines per WeasyPrint render: a long index is rendered in parts too
INDEX_LINES_PER_PAGE = 48


def _cover_context(bundle: HandoverBundle, plan: dict) -> dict:
    return {
        "bundle": bundle,
        "tasking": bundle.tasking,
        "generated_at": _generated_at(plan),
        "exhibit_count": sum(1 for f in plan["files"] if f.get("exhibit")),
        "statement_count": sum(1 for c in plan["chunks"] if c["kind"] == "mg11"),
    }


def _write_front(bundle: HandoverBundle, plan: dict, records: list[dict], work: Path, token: str) -> list[Path]:
    """The cover (the PDF/A-3 base of the whole bundle) and the index, in parts of a bounded size. The
    index's own length moves every page after it, so its parts are rendered again if the first guess of
    its length was wrong (rarely: the guess is the number of lines over the lines a page holds)."""
    lines = len(_index_entries(bundle, plan, records, [0] * len(records)))
    index_pages = -(-lines // INDEX_LINES_PER_PAGE)
    body_pages = sum(r["pages"] for r in records)
    for _attempt in range(4):
        starts, page = [], 1 + index_pages
        for record in records:
            starts.append(page)
            page += record["pages"]
        entries = _index_entries(bundle, plan, records, starts)
        paths, rendered = [], 0
        for number, first in enumerate(range(0, len(entries), INDEX_PART_ENTRIES)):
            body = render_to_string(
                "evidence/bundle/index.html",
                {"entries": entries[first : first + INDEX_PART_ENTRIES], "first": number == 0},
            )
            document = _html(bundle, body).render()
            rendered += len(document.pages)
            path = work / f".index-{number:03d}.{token}.pdf"
            document.write_pdf(path, pdf_variant="pdf/a-3b")
            paths.append(path)
            del document
        if rendered == index_pages:
            break
        index_pages = rendered
    else:
        raise RuntimeError("The index's page numbers did not settle.")
    context = {**_cover_context(bundle, plan), "total_pages": 1 + index_pages + body_pages}
    cover = work / f".cover.{token}.pdf"
    _html(bundle, render_to_string("evidence/bundle/cover.html", context)).write_pdf(cover, pdf_variant="pdf/a-3b")
    return [cover, *paths]


def _pdf_name(value: str) -> bytes:
    """A PDF name object's bytes (MIME types hold '/', which a name must escape)."""
    return b"/" + "".join(c if c.isalnum() or c in "-._" else f"#{ord(c):02X}" for c in value).encode("ascii")


def _write_carrier(path: Path, files: list[tuple[str, Path | bytes, str, str]]) -> list[int]:
    """A bare PDF holding only embedded-file streams, copied from disk a block at a time: the base file
    of the bundle. qpdf reads its own file's streams only while it writes the bundle (a stream copied in
    from another file would be read into memory), so no native is ever held in memory whole, however
    many or large. Returns the object number of each file's stream."""
    numbers, offsets = [], {}
    modified = timezone.now().strftime("D:%Y%m%d%H%M%SZ").encode()
    with path.open("wb") as out:
        out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        for number, body in ((1, b"<</Type/Catalog/Pages 2 0 R>>"), (2, b"<</Type/Pages/Kids[]/Count 0>>")):
            offsets[number] = out.tell()
            out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
        for number, (_name, source, mime, _description) in enumerate(files, start=3):
            size = len(source) if isinstance(source, bytes) else source.stat().st_size
            offsets[number] = out.tell()
            out.write(
                b"%d 0 obj\n<</Type/EmbeddedFile/Subtype%s/Length %d/Params<</Size %d/ModDate(%s)>>>>\nstream\n"
                % (number, _pdf_name(mime), size, size, modified)
            )
            if isinstance(source, bytes):
                out.write(source)
            else:
                with source.open("rb") as handle:
                    shutil.copyfileobj(handle, out, 1024 * 1024)
            out.write(b"\nendstream\nendobj\n")
            numbers.append(number)
        xref = out.tell()
        count = 3 + len(files)
        out.write(b"xref\n0 %d\n0000000000 65535 f \n" % count)
        for number in range(1, count):
            out.write(b"%010d 00000 n \n" % offsets[number])
        out.write(b"trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (count, xref))
    return numbers


def _embedded_files(bundle: HandoverBundle, plan: dict) -> list[tuple[str, Path | bytes, str, str]]:
    """(name, content, MIME type, description) of the manifest and every native embedded in the PDF."""
    statements = Statement.objects.in_bulk([f["statement"] for f in plan["files"] if f.get("statement")])
    exhibits = Exhibit.objects.in_bulk([f["exhibit"] for f in plan["files"] if f.get("exhibit")])
    manifest = json.dumps(bundle_manifest(bundle), indent=2).encode()
    files: list[tuple[str, Path | bytes, str, str]] = [
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
        files.append((entry["name"], Path(default_storage.path(stored)), entry["type"], description))
    return files


def _embed(pdf, files: list[tuple[str, Path | bytes, str, str]], numbers: list[int]) -> None:
    """The manifest and the natives, already in the base file, as PDF/A-3 associated files: a name tree
    in byte order, /AFRelationship on each, all listed in the catalog's /AF."""
    from pikepdf import Array, Dictionary, Name, String

    # One flat, sorted /Names array rather than a tree of /Kids: valid at any length, and read by
    # every reader (some do not follow nested /Kids).
    entries, associated = [], Array()
    for (name, _source, _mime, description), number in zip(files, numbers, strict=True):
        stream = pdf.get_object(number, 0)
        spec = pdf.make_indirect(
            Dictionary(
                Type=Name.Filespec,
                F=String(name),
                UF=String(name),
                Desc=String(description),
                AFRelationship=Name.Data if name == "manifest.json" else Name.Source,
                EF=Dictionary(F=stream, UF=stream),
            )
        )
        entries.append((name.encode(), name, spec))
        associated.append(spec)
    flat = Array()
    for _key, name, spec in sorted(entries, key=lambda entry: entry[0]):
        flat.append(String(name))
        flat.append(spec)
    pdf.Root.Names = Dictionary(EmbeddedFiles=pdf.make_indirect(Dictionary(Names=flat)))
    pdf.Root.AF = associated


def _copy_from(pdf, value):
    """Copy an object of another PDF, direct containers included (copy_foreign takes indirect ones only)."""
    import pikepdf

    if value.is_indirect:
        return pdf.copy_foreign(value)
    if isinstance(value, pikepdf.Array):
        return pikepdf.Array([_copy_from(pdf, item) for item in value])
    if isinstance(value, pikepdf.Dictionary):
        return pikepdf.Dictionary({key: _copy_from(pdf, item) for key, item in value.items()})
    return value


def _adopt_identity(pdf, cover) -> None:
    """The cover's PDF/A identity (XMP metadata with the PDF/A-3 claim, output intent, language, version
    and document information) onto the base file, which holds only the natives until the pages join it."""
    for key in ("/Metadata", "/OutputIntents", "/Lang", "/Version", "/Extensions", "/MarkInfo"):
        if key in cover.Root:
            pdf.Root[key] = _copy_from(pdf, cover.Root[key])
    if "/Info" in cover.trailer:
        pdf.trailer.Info = _copy_from(pdf, cover.trailer.Info)


def _outline(pdf, front_bookmarks: list[list], records: list[dict], starts: list[int]) -> None:
    from pikepdf import OutlineItem

    flat = list(front_bookmarks)
    for record, start in zip(records, starts, strict=True):
        flat += [[label, level, start + page] for label, level, page in record["bookmarks"]]
    with pdf.open_outline() as outline:
        outline.root.clear()
        parents: list = []
        for label, level, page in flat:
            item = OutlineItem(label, page)
            while parents and parents[-1][0] >= level:
                parents.pop()
            (parents[-1][1].children if parents else outline.root).append(item)
            parents.append((level, item))


def sign_pdf_file(source: Path, target: Path) -> None:
    """PAdES signature by the scheme's key, as the very last step (streamed from and to files)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    from evidence.verify import outside_event_loop

    key, cert = settings.PORTAL_SIGNING_KEY_PATH, settings.PORTAL_SIGNING_CERT_PATH
    if not (Path(key).exists() and Path(cert).exists()):
        raise ValidationError(
            f"No signing key at {key}: run `python manage.py create_signing_key` (development) or install the "
            "force's key and certificate."
        )
    signer = signers.SimpleSigner.load(key, cert, key_passphrase=None)
    meta = signers.PdfSignatureMetadata(field_name="BundleSignature", reason="Evidence handover bundle")
    # The output must be readable too, or pyHanko would build the whole signed file in memory first.
    with source.open("rb") as inp, target.open("w+b") as out:
        outside_event_loop(lambda: signers.sign_pdf(IncrementalPdfFileWriter(inp), meta, signer=signer, output=out))


def sign_pdf(pdf: bytes) -> bytes:
    """Sign PDF bytes (used to re-sign in tests and tools); bundles are signed with `sign_pdf_file`."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "in.pdf", Path(folder) / "out.pdf"
        source.write_bytes(pdf)
        sign_pdf_file(source, target)
        return target.read_bytes()


def bundle_assemble(bundle: HandoverBundle, *, progress: Progress = lambda percent, stage: None) -> HandoverBundle:
    """Join the chunks (rendering any still missing), number, bookmark, sign, package, then commit."""
    import pikepdf

    if bundle.state == HandoverBundle.State.READY:
        return bundle
    plan = bundle_plan(bundle)
    work = bundle_work_dir(bundle)
    records = []
    for index in range(len(plan["chunks"])):
        records.append(bundle_render_chunk(bundle, index))
    token = uuid.uuid4().hex
    carrier, unsigned, signed = (work / f".{name}.{token}.pdf" for name in ("carrier", "unsigned", "signed"))
    package = work / f".package.{token}.zip"
    front: list[Path] = []
    keep: list = []
    try:
        progress(82, "Writing the index and cover")
        front = _write_front(bundle, plan, records, work, token)
        progress(86, "Joining the parts")
        files = _embedded_files(bundle, plan)
        numbers = _write_carrier(carrier, files)
        parts = [*front, *(Path(record["path"]) for record in records)]
        starts, page = [], sum(_page_count(path) for path in front)
        for record in records:
            starts.append(page)
            page += record["pages"]
        joined = _join(carrier, parts, work, token, files, numbers, progress)
        progress(88, "Numbering the pages")
        pdf = pikepdf.open(joined)
        keep.append(pdf)
        label = f"{bundle.tasking.reference} handover bundle v{bundle.version}"
        stamp_footers(pdf, lambda number, total: f"OFFICIAL-SENSITIVE · {label} · Page {number} of {total}")
        _outline(pdf, [["Evidence handover bundle", 1, 0], ["Index", 1, 1]], records, starts)
        # Streams already compressed stay as they are; the natives go in as they came (most are
        # compressed media), so writing never holds or recompresses them.
        pdf.save(unsigned, compress_streams=False)
        for opened in reversed(keep):
            opened.close()
        keep.clear()
        joined.unlink(missing_ok=True)
        progress(93, "Signing")
        sign_pdf_file(unsigned, signed)
        beside = [f for f in plan["files"] if f["location"] == "beside"]
        if beside:
            progress(96, "Packaging the files too large to embed")
            _package(bundle, plan, signed, package, beside)
        return _commit(bundle, plan, signed, package if beside else None)
    finally:
        for opened in keep:
            opened.close()
        for path in (*front, carrier, unsigned, signed, package, *work.glob(f".joined-*.{token}.pdf")):
            path.unlink(missing_ok=True)


JOIN_BATCH_BYTES = 24 * 1024 * 1024


def _page_count(path: Path) -> int:
    import pikepdf

    with pikepdf.open(path) as pdf:
        return len(pdf.pages)


def _join(carrier: Path, parts: list[Path], work: Path, token: str, files: list, numbers: list[int], progress) -> Path:
    """Append every part's pages to the base file, in batches. qpdf reads a page copied from another
    file into memory, with its images, until the result is written, but streams its own file's objects:
    so each batch (at most JOIN_BATCH_BYTES of part files) is appended to the file written so far and
    saved, and memory stays bounded however long the bundle. The first batch also gives the base the
    cover's PDF/A identity and lists the natives already in it (object numbers change once saved)."""
    import pikepdf

    batches, batch, size = [], [], 0
    for path in parts:
        if batch and size + path.stat().st_size > JOIN_BATCH_BYTES:
            batches.append(batch)
            batch, size = [], 0
        batch.append(path)
        size += path.stat().st_size
    batches.append(batch)
    current = carrier
    for number, batch in enumerate(batches):
        opened = [pikepdf.open(current)]
        pdf = opened[0]
        try:
            if number == 0:
                cover = pikepdf.open(batch[0])
                opened.append(cover)
                _adopt_identity(pdf, cover)
                _embed(pdf, files, numbers)
            for path in batch:
                part = pikepdf.open(path)
                opened.append(part)
                pdf.pages.extend(part.pages)
            target = work / f".joined-{number:03d}.{token}.pdf"
            pdf.save(target, compress_streams=False)
        finally:
            for document in reversed(opened):
                document.close()
        if current != carrier:
            current.unlink(missing_ok=True)
        current = target
        progress(86 + 2 * (number + 1) // len(batches), f"Joined {number + 1} of {len(batches)} batches of pages")
    return current


def _final_names(bundle: HandoverBundle) -> tuple[str, str]:
    name = f"{bundle.tasking.reference.replace('/', '_')}-v{bundle.version}"
    base = f"bundles/{bundle.tasking.scheme_id}/{bundle.tasking_id}/{name}"
    return f"{base}.pdf", f"{base}.zip"


def _package(bundle: HandoverBundle, plan: dict, signed: Path, package: Path, beside: list[dict]) -> None:
    from evidence.verify import PACKAGE_NATIVES

    pdf_name, _zip = _final_names(bundle)
    exhibits = Exhibit.objects.in_bulk([f["exhibit"] for f in beside])
    with zipfile.ZipFile(package, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        archive.write(signed, Path(pdf_name).name)
        for entry in beside:
            archive.write(default_storage.path(exhibits[entry["exhibit"]].stored_name), PACKAGE_NATIVES + entry["name"])


def _commit(bundle: HandoverBundle, plan: dict, signed: Path, package: Path | None) -> HandoverBundle:
    """Move the finished files into place and record them, under the bundle's row lock: the first
    assembly to get here wins; any other finds the bundle ready and leaves its files to be deleted."""
    pdf_name, zip_name = _final_names(bundle)
    pdf_sha = sha256_file(signed)
    package_sha = sha256_file(package) if package else ""
    with transaction.atomic():
        row = HandoverBundle.objects.select_for_update().get(pk=bundle.pk)
        if row.state == HandoverBundle.State.READY:
            return row
        for temp, name in ((signed, pdf_name), (package, zip_name)):
            if temp is not None:
                target = Path(default_storage.path(name))
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(temp, target)
        HandoverBundle.objects.filter(pk=bundle.pk).update(
            state=HandoverBundle.State.READY,
            pdf_name=pdf_name,
            pdf_sha256=pdf_sha,
            package_name=zip_name if package else "",
            package_sha256=package_sha,
            manifest=bundle_manifest(bundle),
            finished_at=timezone.now(),
            error="",
        )
        audit_record(
            action="evidence.bundle_built",
            actor=None,
            obj=bundle.tasking,
            detail={"bundle": bundle.pk, "sha256": pdf_sha, "package_sha256": package_sha},
        )
    work = bundle_work_dir(bundle)
    transaction.on_commit(lambda: shutil.rmtree(work, ignore_errors=True))
    bundle.refresh_from_db()
    return bundle


def bundle_start(bundle: HandoverBundle) -> dict:
    """Mark the bundle building and fix its plan; returns the plan."""
    HandoverBundle.objects.filter(pk=bundle.pk).exclude(state=HandoverBundle.State.READY).update(
        state=HandoverBundle.State.BUILDING, error=""
    )
    return bundle_plan(bundle)


def bundle_fail(bundle: HandoverBundle, reason: str) -> None:
    HandoverBundle.objects.filter(pk=bundle.pk).exclude(state=HandoverBundle.State.READY).update(
        state=HandoverBundle.State.FAILED, error=reason[:2000]
    )


def bundle_retry(bundle: HandoverBundle, *, by: User) -> bool:
    """Send a failed build again; the chunks already rendered are kept. False if it had not failed."""
    from portal.jobs import job_retry

    job = bundle_job(bundle)
    if job is None or job.state != Job.State.FAILED:
        return False
    with transaction.atomic():
        HandoverBundle.objects.filter(pk=bundle.pk, state=HandoverBundle.State.FAILED).update(
            state=HandoverBundle.State.QUEUED, error=""
        )
        job_retry(job=job, by=by)
    return True


def bundle_build(bundle: HandoverBundle, *, progress: Progress = lambda percent, stage: None) -> HandoverBundle:
    """Build in this process, chunk after chunk (the Celery path renders the chunks in parallel instead).
    Idempotent: a finished bundle is left alone; a re-run renders only what is missing."""
    if bundle.state == HandoverBundle.State.READY:
        return bundle
    plan = bundle_start(bundle)
    progress(5, "Planning")
    total = len(plan["chunks"])
    for index in range(total):
        bundle_render_chunk(bundle, index)
        progress(10 + 70 * (index + 1) // total, f"Rendered part {index + 1} of {total}")
    return bundle_assemble(bundle, progress=progress)


def bundle_single_pass_pdf(bundle: HandoverBundle) -> bytes:
    """The same content in one WeasyPrint pass — no chunks, and (in its favour) no MG11 pages, index lines,
    page stamps or signature: the benchmark's baseline."""
    plan = bundle_plan(bundle)
    parts = [render_to_string("evidence/bundle/cover.html", {**_cover_context(bundle, plan), "total_pages": None})]
    parts.append(render_to_string("evidence/bundle/index.html", {"entries": [], "first": True}))
    parts += [_chunk_body(bundle, plan, chunk) for chunk in plan["chunks"] if chunk["kind"] != "mg11"]
    return _html(bundle, "\n".join(parts), single_pass=True).write_pdf(pdf_variant="pdf/a-3b")


def bundle_job(bundle: HandoverBundle) -> Job | None:
    return Job.objects.filter(kind="evidence.bundle_build", object_id=str(bundle.pk)).order_by("-id").first()
