"""What a bundle holds and how it is cut into chunks: fixed once, at the first build attempt, so every
worker and every re-run works to the same plan."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import Count
from django.utils import timezone

from evidence.models import CustodyEvent, Exhibit, HandoverBundle, Statement
from portal.models import AuditEvent
from portal.storage import delete_folder, list_files, write_file

TEXT_TYPES = {"text/plain", "text/csv", "application/json"}
INLINE_IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}
RENDER_TEXT_BYTES = 512 * 1024  # a transcript longer than this is summarised; the native file is in the bundle
INLINE_IMAGE_BYTES = 8 * 1024 * 1024
# Estimating an exhibit's pages before it is rendered, to cut chunks of about PORTAL_BUNDLE_CHUNK_PAGES: a
# 40-line chat export of 3 KB renders as about a page and a half (measured); a photograph fills a page.
TEXT_BYTES_PER_PAGE = 2048
CONTINUITY_ROWS_PER_PAGE = 8  # a continuity chunk holds at most PORTAL_BUNDLE_CHUNK_PAGES times this many rows

# How long a chunk of each kind takes to render, per exhibit in it, measured (2-core machine, 25-exhibit
# chunks): an exhibit rendered in full ~0.13 s, its continuity log ~0.02 s, its MG12 row ~0.01 s.
COST_PER_EXHIBIT = {"exhibits": 13, "continuity": 2, "mg12": 1}


def estimated_pages(exhibit: Exhibit) -> float:
    """About how many pages an exhibit takes when rendered in full (quarantined material never is)."""
    if exhibit.quarantined:
        return 0.25
    if exhibit.sniffed_type in TEXT_TYPES:
        return 0.25 + min(exhibit.size, RENDER_TEXT_BYTES) / TEXT_BYTES_PER_PAGE
    if exhibit.sniffed_type in INLINE_IMAGE_TYPES and exhibit.size <= INLINE_IMAGE_BYTES:
        return 1.0
    return 0.25


def _cut(ids: list[int], weights: dict[int, float], *, count: int, budget: float) -> list[list[int]]:
    """Consecutive runs of `ids`, each at most `count` long and, unless one item outweighs it alone, at
    most `budget` heavy."""
    runs, current, total = [], [], 0.0
    for pk in ids:
        weight = weights.get(pk, 1.0)
        if current and (len(current) >= count or total + weight > budget):
            runs.append(current)
            current, total = [], 0.0
        current.append(pk)
        total += weight
    if current:
        runs.append(current)
    return runs


def native_name(exhibit: Exhibit) -> str:
    """The name an exhibit's native file travels under (CrimPR: `AB/1` becomes `AB_1`)."""
    return exhibit.reference.replace("/", "_")


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
                "name": native_name(exhibit),
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
    size, pages = settings.PORTAL_BUNDLE_CHUNK_EXHIBITS, settings.PORTAL_BUNDLE_CHUNK_PAGES
    ids = [e.pk for e in exhibits]
    rows = dict(
        CustodyEvent.objects.filter(exhibit_id__in=ids)
        .values("exhibit_id")
        .annotate(rows=Count("id"))
        .values_list("exhibit_id", "rows")
    )
    cuts = {
        "mg12": _cut(ids, {}, count=size * 4, budget=size * 4),
        "exhibits": _cut(ids, {e.pk: estimated_pages(e) for e in exhibits}, count=size, budget=pages),
        "continuity": _cut(
            ids, {pk: 1 + rows.get(pk, 0) for pk in ids}, count=size * 2, budget=pages * CONTINUITY_ROWS_PER_PAGE
        ),
    }
    chunks: list[dict] = [{"kind": "summary"}, {"kind": "statements"}]
    chunks += [{"kind": "mg11", "statement": statement.pk} for statement in statements]
    for kind in ("mg12", "exhibits", "continuity"):
        chunks += [{"kind": kind, "exhibits": run, "first": n == 0} for n, run in enumerate(cuts[kind])]
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
    """A chunk's expected rendering time, relative, so the longest start first and two or more workers
    finish together rather than one waiting on a long part it started last."""
    return COST_PER_EXHIBIT.get(chunk["kind"], 0) * len(chunk.get("exhibits", [])) or 1


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


CHUNK_RECORD = re.compile(r"^chunk-(\d{4})\.json$")


class WorkArea:
    """Where a bundle's rendered chunks wait until it is assembled: `bundle-work/<id>/` in private storage,
    which every worker sees (a folder on one host's disk, or a prefix of a bucket shared by several
    machines). A chunk is its PDF and then its JSON record; the record's presence means the chunk is done."""

    def __init__(self, bundle: HandoverBundle) -> None:
        self.prefix = f"bundle-work/{bundle.pk}"

    def name(self, file: str) -> str:
        return f"{self.prefix}/{file}"

    def exists(self, file: str) -> bool:
        return default_storage.exists(self.name(file))

    def read_json(self, file: str):
        with default_storage.open(self.name(file), "rb") as handle:
            return json.loads(handle.read())

    def write(self, file: str, write: Callable[[Path], None]) -> str:
        """Store `file`, which `write(path)` produces, whole or not at all; returns its storage name."""
        return write_file(self.name(file), write)

    def files(self) -> list[str]:
        return list_files(self.prefix)

    def done(self) -> set[int]:
        """The indices of the chunks already rendered."""
        return {int(match[1]) for file in self.files() if (match := CHUNK_RECORD.match(file))}

    def clear(self) -> None:
        delete_folder(self.prefix)
