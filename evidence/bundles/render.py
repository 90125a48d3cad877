"""Rendering one chunk of a bundle with WeasyPrint to its own PDF, which any worker may do at any time."""

from __future__ import annotations

import contextlib
import gc
import itertools
import json
from collections.abc import Iterator
from datetime import datetime

from django.conf import settings
from django.core.files.storage import default_storage
from django.template.loader import render_to_string
from django.utils import timezone

from evidence.bundles.plan import (
    INLINE_IMAGE_BYTES,
    INLINE_IMAGE_TYPES,
    WorkArea,
    bundle_file_stem,
    bundle_plan,
    signing_pair,
)
from evidence.disclosure import CERTIFICATE, schedule_items
from evidence.models import CustodyEvent, Exhibit, HandoverBundle, Statement, UnusedMaterial
from evidence.pdf_tags import flatten_spans
from evidence.transcripts import TEXT_TYPES, describe, read_messages
from evidence.urn import display_urn
from evidence.verify import certificate_fingerprint
from portal.storage import local_copy

WHERE = {
    "embedded": "embedded in this file",
    "beside": "supplied beside this file in the bundle package (natives folder)",
    "withheld": "withheld under police control",
}


def _read(name: str, limit: int | None = None) -> bytes:
    with default_storage.open(name, "rb") as handle:
        return handle.read() if limit is None else handle.read(limit)


def _exhibit_view(exhibit: Exhibit, entry: dict, messages: list | None = None) -> dict:
    """How an exhibit appears in the PDF: transcripts message by message (or, in a long one, the run of
    messages `[first, stop)` this chunk prints), images inline, the rest described; quarantined material
    never rendered."""
    view = {"exhibit": exhibit, "kind": "described", "where": WHERE[entry["location"]], "file": entry}
    if exhibit.quarantined:
        view["kind"] = "quarantined"
    elif exhibit.sniffed_type in TEXT_TYPES and "transcript" in entry:
        found = entry["transcript"]
        first, stop = messages or (0, found["printed"])
        reader = read_messages(
            lambda: default_storage.open(exhibit.stored_name, "rb"), exhibit.sniffed_type, found["shape"]
        )
        view.update(
            kind="transcript",
            survey=found,
            noun="line" if found["shape"] == "lines" else "message",
            description=describe(found),
            messages=itertools.islice(reader, first, stop),
            start=first == 0,
            first_number=first + 1,
            last_number=stop,
            # The last run says what is not printed, if the ceiling was reached: never a silent cut.
            not_printed=(stop + 1, found["messages"]) if stop == found["printed"] < found["messages"] else None,
        )
    elif exhibit.sniffed_type in TEXT_TYPES:  # planned before transcripts were read whole
        view.update(kind="described")
    elif exhibit.sniffed_type in INLINE_IMAGE_TYPES and exhibit.size <= INLINE_IMAGE_BYTES:
        view.update(kind="image", src=f"{EXHIBIT_SCHEME}:{exhibit.pk}")
    return view


EXHIBIT_SCHEME = "bundle-exhibit"


def _fetcher(bundle: HandoverBundle, plan: dict):
    """WeasyPrint's URL fetcher for a bundle: it reaches the bundle's own exhibit images
    (`bundle-exhibit:<id>`, read from private storage) and nothing else — no file:, http:, https: or
    data: URL, and no exhibit of another bundle or one withheld as quarantined material.

    Images go by reference rather than inlined as data: URLs: a photograph inlined was a string of
    megabytes that the HTML parser tokenised and urllib's URL cache (128 entries) kept alive after the
    render, so a worker grew by about 6 MB with every photograph it rendered."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    images = {
        f"{EXHIBIT_SCHEME}:{entry['exhibit']}": entry["type"]
        for entry in plan["files"]
        if entry.get("exhibit")
        and entry["location"] != "withheld"
        and entry["type"] in INLINE_IMAGE_TYPES
        and entry["size"] <= INLINE_IMAGE_BYTES
    }

    class BundleFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            mime = images.get(url)
            if mime is None:
                raise ValueError(f"Not an exhibit image of this bundle: {url[:80]}")
            exhibit = Exhibit.objects.filter(pk=int(url.split(":", 1)[1]), tasking_id=bundle.tasking_id).first()
            if exhibit is None or exhibit.quarantined:
                raise ValueError(f"Not an exhibit image of this bundle: {url}")
            return URLFetcherResponse(url, _read(exhibit.stored_name), {"Content-Type": mime})

    return BundleFetcher(allowed_protocols=[EXHIBIT_SCHEME])


def _exhibits(ids: list[int]) -> list[Exhibit]:
    found = Exhibit.objects.select_related("producer").in_bulk(ids)
    return [found[pk] for pk in ids]


def generated_at(plan: dict) -> datetime:
    return datetime.fromisoformat(plan["generated_at"])


def scheduled(bundle: HandoverBundle, plan: dict, schedule: str) -> list:
    """The schedule's items as its disclosure officer signed them (fixed in the plan)."""
    signed = plan.get("schedules", {}).get(schedule)
    if signed is None:  # planned before schedules were signed
        return schedule_items(bundle.tasking, schedule)
    found = UnusedMaterial.objects.select_related("exhibit", "by").in_bulk(signed["items"])
    return [found[pk] for pk in signed["items"]]


def signature_view(plan: dict, schedule: str) -> dict | None:
    signed = plan.get("schedules", {}).get(schedule)
    return signed and {**signed, "when": datetime.fromisoformat(signed["signed_at"])}


def witness_label(plan: dict, user_id: int | None, name: str) -> str:
    """How the served bundle names a person: an identity-protected volunteer by their pseudonym only."""
    return plan.get("witnesses", {}).get(str(user_id)) or name


def statement_title(plan: dict, statement: Statement) -> str:
    who = witness_label(plan, statement.author_id, statement.signed_as or statement.author.get_full_name())
    return f"Statement of {who}, signed {timezone.localtime(statement.signed_at):%d %b %Y}"


def _chunk_body(bundle: HandoverBundle, plan: dict, chunk: dict) -> str:
    kind = chunk["kind"]
    context = {"bundle": bundle, "tasking": bundle.tasking, "first": chunk.get("first", False)}
    if kind == "summary":
        pass  # the served case summary: no authorisation detail, persona or conduct (the sensitive part has them)
    elif kind == "statements":
        ids = [c["statement"] for c in plan["chunks"] if c["kind"] == "mg11"]
        found = Statement.objects.select_related("author").in_bulk(ids)
        context["statements"] = [found[pk] for pk in ids]
        for statement in context["statements"]:
            statement.witness = witness_label(
                plan, statement.author_id, statement.signed_as or statement.author.get_full_name()
            )
    elif kind == "mg12":
        context["exhibits"] = _exhibits(chunk["exhibits"])
        for exhibit in context["exhibits"]:
            exhibit.producer_name = witness_label(plan, exhibit.producer_id, exhibit.producer.get_full_name())
    elif kind == "exhibits":
        entries = {f.get("exhibit"): f for f in plan["files"]}
        ranges = chunk.get("ranges") or [None] * len(chunk["exhibits"])
        exhibits = _exhibits(chunk["exhibits"])
        context["views"] = [_exhibit_view(e, entries[e.pk], r) for e, r in zip(exhibits, ranges, strict=True)]
    elif kind == "continuity":
        logs: dict[int, list] = {pk: [] for pk in chunk["exhibits"]}
        for event in CustodyEvent.objects.filter(exhibit_id__in=chunk["exhibits"]).order_by("exhibit_id", "id"):
            pseudonym = plan.get("witnesses", {}).get(str(event.actor_id))
            event.who = f"{pseudonym} (volunteer)" if pseudonym else f"{event.actor_email} ({event.actor_role})"
            logs[event.exhibit_id].append(event)
        context["logs"] = [(exhibit, logs[exhibit.pk]) for exhibit in _exhibits(chunk["exhibits"])]
    elif kind == "tail":
        context.update(
            mg6c=scheduled(bundle, plan, "MG6C"),
            mg6c_signature=signature_view(plan, "MG6C"),
            certificate=CERTIFICATE["MG6C"],
            generated_at=generated_at(plan),
            audit_chain_head=plan["audit_chain_head"],
            certificate_sha256=certificate_fingerprint(signing_pair()[1]),
            pdf_name=f"{bundle_file_stem(bundle)}.pdf",
            timestamped=bool(settings.PORTAL_TSA_URL),
            **case_context(plan),
        )
    else:
        raise ValueError(f"Unknown chunk kind {kind!r}")
    return render_to_string(f"evidence/bundle/{kind}.html", context)


@contextlib.contextmanager
def rendering() -> Iterator[None]:
    """Python's cycle collector tuned for a WeasyPrint render, which allocates millions of short-lived
    objects: at the default threshold (a collection every 700 allocations) the collector ran thousands of
    times a chunk and took about a sixth of its CPU (measured: 25-exhibit chunks, 11.3 s instead of 13.7 s
    for six, and no higher peak). What was alive before the render (Django, fonts, templates) is frozen out
    of collection, collections are rarer during it, and one collection afterwards frees what it left in
    cycles. The single-pass baseline renders under the same setting, so the comparison stays fair."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.collect()
        gc.unfreeze()


def html(bundle: HandoverBundle, body: str, *, single_pass: bool = False):
    """A WeasyPrint document of the bundle's page frame around `body`, fetching only its exhibit images."""
    from weasyprint import HTML

    plan = bundle_plan(bundle)
    document = render_to_string(
        "evidence/bundle/document.html",
        {**case_context(plan), "bundle": bundle, "tasking": bundle.tasking, "body": body, "single_pass": single_pass},
    )
    return HTML(string=document, url_fetcher=_fetcher(bundle, plan))


def case_context(plan: dict) -> dict:
    """The case as planned: its URN (as people read it), officer in the case and court."""
    case = plan.get("case", {})
    return {"urn": display_urn(case.get("urn", "")), "case": case}


def _flatten_bookmarks(tree, level: int = 1) -> list[list]:
    """[label, level, page, y] for each heading: y in PDF user space (points from the foot of the page)."""
    flat = []
    for label, (page, _x, y), children, _state in tree:
        flat.append([label, level, page, round(y, 2)])
        flat.extend(_flatten_bookmarks(children, level + 1))
    return flat


def first_anchors(document) -> dict[str, int]:
    """The page (0-based) where each anchor (an element's id) first appears."""
    anchors: dict[str, int] = {}
    for number, page in enumerate(document.pages):
        for anchor in page.anchors:
            anchors.setdefault(anchor, number)
    return anchors


def bundle_render_chunk(bundle: HandoverBundle, index: int) -> dict:
    """Render chunk `index` to its own PDF (once) and return its record: the PDF's storage name, its pages,
    anchors and bookmarks."""
    plan = bundle_plan(bundle)
    chunk = plan["chunks"][index]
    work = WorkArea(bundle)
    record_file = f"chunk-{index:04d}.json"
    if work.exists(record_file):
        return work.read_json(record_file)
    if chunk["kind"] == "mg11":  # the statement's own pages, exactly as signed: nothing to render
        import pikepdf

        statement = Statement.objects.select_related("author").get(pk=chunk["statement"])
        with local_copy(statement.pdf_name) as path, pikepdf.open(path) as pdf:
            pages = len(pdf.pages)
        title = statement_title(plan, statement)
        record = {
            "index": index,
            "name": statement.pdf_name,
            "pages": pages,
            "anchors": {f"statement-{statement.pk}": 0},
            "bookmarks": [[title, 2, 0, None]],
        }
    else:
        with rendering():
            document = html(bundle, _chunk_body(bundle, plan, chunk)).render()
            name = work.write(f"chunk-{index:04d}.pdf", lambda temp: write_tagged(document, temp))
        record = {
            "index": index,
            "name": name,
            "pages": len(document.pages),
            "anchors": first_anchors(document),
            # A continuation chunk starts below its section's heading, which an earlier chunk holds.
            "bookmarks": _flatten_bookmarks(
                document.make_bookmark_tree(scale=0.75, transform_pages=True),
                level=1 if chunk.get("first", True) else 2,
            ),
        }
        del document
    work.write(record_file, lambda temp: temp.write_text(json.dumps(record)))
    return record


def write_tagged(document, path) -> None:
    """A rendered part as a tagged PDF/A-3b, its line-by-line Spans folded into their paragraphs and cells."""
    document.write_pdf(path, pdf_variant="pdf/a-3b", pdf_tags=True)
    flatten_spans(path)


def bundle_chunks_done(bundle: HandoverBundle) -> int:
    return len(WorkArea(bundle).done())


def cover_context(bundle: HandoverBundle, plan: dict) -> dict:
    return {
        **case_context(plan),
        "bundle": bundle,
        "tasking": bundle.tasking,
        "generated_at": generated_at(plan),
        "exhibit_count": sum(1 for f in plan["files"] if f.get("exhibit")),
        "statement_count": sum(1 for c in plan["chunks"] if c["kind"] == "mg11"),
    }


def bundle_single_pass_pdf(bundle: HandoverBundle) -> bytes:
    """The same content in one WeasyPrint pass — no chunks, and (in its favour) no MG11 pages, index lines,
    page stamps or signature: the benchmark's baseline."""
    plan = bundle_plan(bundle)
    parts = [render_to_string("evidence/bundle/cover.html", {**cover_context(bundle, plan), "total_pages": None})]
    parts.append(render_to_string("evidence/bundle/index.html", {"pages": [], "first": True}))
    parts += [_chunk_body(bundle, plan, chunk) for chunk in plan["chunks"] if chunk["kind"] != "mg11"]
    with rendering():
        return html(bundle, "\n".join(parts), single_pass=True).write_pdf(pdf_variant="pdf/a-3b", pdf_tags=True)
