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
from evidence.sniff import extension_for
from evidence.transcripts import TEXT_TYPES, survey
from portal.models import AuditEvent
from portal.storage import delete_folder, list_files, write_file

INLINE_IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}
INLINE_IMAGE_BYTES = 8 * 1024 * 1024
# Estimating an exhibit's pages before it is rendered, to cut chunks of about PORTAL_BUNDLE_CHUNK_PAGES: a
# transcript prints about this many messages a page (measured on the generated exports of every shape,
# which mix one-line messages, multi-line ones and a long URL); a photograph fills a page. A transcript
# longer than a chunk is cut into runs of messages, each its own chunk, so no render holds more than a
# chunk's pages whatever the export's length.
MESSAGES_PER_PAGE = 20
CONTINUITY_ROWS_PER_PAGE = 8  # a continuity chunk holds at most PORTAL_BUNDLE_CHUNK_PAGES times this many rows

# How long a chunk of each kind takes to render, per exhibit in it, measured (2-core machine, 25-exhibit
# chunks): an exhibit rendered in full ~0.13 s, its continuity log ~0.02 s, its MG12 row ~0.01 s.
COST_PER_EXHIBIT = {"exhibits": 13, "continuity": 2, "mg12": 1}


def estimated_pages(exhibit: Exhibit, messages: int = 0) -> float:
    """About how many pages an exhibit (or `messages` of its transcript) takes when rendered in full
    (quarantined material never is)."""
    if exhibit.quarantined:
        return 0.25
    if exhibit.sniffed_type in TEXT_TYPES:
        return 0.5 + messages / MESSAGES_PER_PAGE
    if exhibit.sniffed_type in INLINE_IMAGE_TYPES and exhibit.size <= INLINE_IMAGE_BYTES:
        return 1.0
    return 0.25


def transcript_survey(exhibit: Exhibit) -> dict:
    """A transcript's shape, message count and date order, from one pass over the stored file."""
    found = survey(lambda: default_storage.open(exhibit.stored_name, "rb"), exhibit.sniffed_type).as_dict()
    found["printed"] = min(found["messages"], settings.PORTAL_BUNDLE_TRANSCRIPT_MAX_MESSAGES)
    return found


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


def signing_pair() -> tuple[str, str]:
    """The scheme's signing key and certificate paths; a plain message if either is missing."""
    from django.core.exceptions import ValidationError

    key, cert = settings.PORTAL_SIGNING_KEY_PATH, settings.PORTAL_SIGNING_CERT_PATH
    if not (Path(key).exists() and Path(cert).exists()):
        raise ValidationError(
            f"No signing key at {key}: run `python manage.py create_signing_key` (development) or install the "
            "force's key and certificate."
        )
    from evidence.signing import check_not_revoked

    check_not_revoked(cert)
    return key, cert


def bundle_file_stem(bundle: HandoverBundle) -> str:
    """The bundle's file name without extension: `OP-LANTERN-1-v2` (the PDF adds .pdf, the package .zip)."""
    return f"{bundle.tasking.reference.replace('/', '_')}-v{bundle.version}"


def native_name(exhibit: Exhibit) -> str:
    """The name an exhibit's native file travels under: its reference (`AB/1` becomes `AB_1`, as a file
    name cannot hold a slash) and the extension of its type as sniffed from its bytes, so the file opens
    in the program that reads it."""
    return exhibit.reference.replace("/", "_") + extension_for(exhibit.sniffed_type)


def _exhibit_runs(exhibits: list[Exhibit], transcripts: dict[int, dict]) -> list[list[tuple[int, list | None]]]:
    """The exhibits cut into chunks of about PORTAL_BUNDLE_CHUNK_PAGES pages and at most
    PORTAL_BUNDLE_CHUNK_EXHIBITS exhibits; a transcript longer than a chunk becomes runs of messages, each
    a chunk of its own. Each item is (exhibit id, [first, stop) of its printed messages or None)."""
    size, pages = settings.PORTAL_BUNDLE_CHUNK_EXHIBITS, settings.PORTAL_BUNDLE_CHUNK_PAGES
    per_chunk = max(1, pages * MESSAGES_PER_PAGE)
    units: list[tuple[int, list | None]] = []
    weights: dict[int, float] = {}
    for exhibit in exhibits:
        printed = transcripts.get(exhibit.pk, {}).get("printed", 0)
        if printed > per_chunk:
            for start in range(0, printed, per_chunk):
                weights[len(units)] = pages  # a chunk of its own
                units.append((exhibit.pk, [start, min(printed, start + per_chunk)]))
        else:
            weights[len(units)] = estimated_pages(exhibit, printed)
            units.append((exhibit.pk, None))
    runs = _cut(list(range(len(units))), weights, count=size, budget=pages)
    return [[units[n] for n in run] for run in runs]


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
    transcripts = {e.pk: transcript_survey(e) for e in exhibits if e.sniffed_type in TEXT_TYPES and not e.quarantined}
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
        if exhibit.pk in transcripts:
            files[-1]["transcript"] = transcripts[exhibit.pk]
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
        "continuity": _cut(
            ids, {pk: 1 + rows.get(pk, 0) for pk in ids}, count=size * 2, budget=pages * CONTINUITY_ROWS_PER_PAGE
        ),
    }
    chunks: list[dict] = [{"kind": "summary"}, {"kind": "statements"}]
    chunks += [{"kind": "mg11", "statement": statement.pk} for statement in statements]
    chunks += [{"kind": "mg12", "exhibits": run, "first": n == 0} for n, run in enumerate(cuts["mg12"])]
    chunks += [
        {"kind": "exhibits", "exhibits": [pk for pk, _ in run], "ranges": [r for _, r in run], "first": n == 0}
        for n, run in enumerate(_exhibit_runs(exhibits, transcripts))
    ]
    chunks += [{"kind": "continuity", "exhibits": run, "first": n == 0} for n, run in enumerate(cuts["continuity"])]
    if not ids:
        chunks += [{"kind": "mg12", "exhibits": [], "first": True}, {"kind": "exhibits", "exhibits": [], "first": True}]
    chunks.append({"kind": "tail"})
    plan = {
        # The schedules as the disclosure officer signed them, and the pseudonym of every identity-protected
        # volunteer the bundle would otherwise name: fixed with the plan, like everything it prints.
        "schedules": _signed_schedules(tasking),
        "witnesses": _witnesses(exhibits, statements),
        # The case as it stood when the bundle was planned: every page and the manifest say the same.
        "case": {"urn": tasking.urn, "officer_in_case": tasking.officer_in_case, "court": tasking.court},
        "generated_at": timezone.now().isoformat(),
        "audit_chain_head": AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first() or "",
        "files": files,
        "chunks": chunks,
    }
    HandoverBundle.objects.filter(pk=bundle.pk, plan={}).update(plan=plan)
    bundle.refresh_from_db(fields=["plan"])  # whoever planned first wins; everyone uses that plan
    return bundle.plan


def _signed_schedules(tasking) -> dict:
    from django.core.exceptions import ValidationError

    from evidence.disclosure import SCHEDULES, schedule_signature

    signed = {}
    for schedule in SCHEDULES:
        signature = schedule_signature(tasking, schedule)
        if signature is None:
            raise ValidationError(
                f"The {schedule} schedule changed after the bundle was requested. The disclosure officer must sign "
                "it again; then request the bundle again."
            )
        signed[schedule] = {
            "items": signature.items,
            "digest": signature.digest,
            "signed_by": signature.signed_by_name,
            "signed_at": signature.signed_at.isoformat(),
        }
    return signed


def _witnesses(exhibits: list[Exhibit], statements: list[Statement]) -> dict[str, str]:
    """{user id: pseudonym} of the identity-protected volunteers among the producers, witnesses and
    custody actors of this bundle."""
    from volunteers.services import witness_names

    people = {e.producer_id for e in exhibits} | {s.author_id for s in statements}
    people |= set(
        CustodyEvent.objects.filter(exhibit_id__in=[e.pk for e in exhibits], actor_id__isnull=False)
        .values_list("actor_id", flat=True)
        .distinct()
    )
    return {str(pk): name for pk, name in witness_names(people).items()}


def chunk_cost(chunk: dict) -> int:
    """A chunk's expected rendering time, relative, so the longest start first and two or more workers
    finish together rather than one waiting on a long part it started last."""
    messages = sum(stop - start for start, stop in filter(None, chunk.get("ranges", [])))
    return COST_PER_EXHIBIT.get(chunk["kind"], 0) * len(chunk.get("exhibits", [])) + messages // 8 or 1


def bundle_manifest(bundle: HandoverBundle) -> dict:
    plan = bundle_plan(bundle)
    return {
        "bundle": bundle.pk,
        "version": bundle.version,
        "part": "served",
        "urn": plan.get("case", {}).get("urn", ""),
        "tasking": bundle.tasking.reference,
        "scheme": bundle.tasking.scheme.name,
        "officer_in_case": plan.get("case", {}).get("officer_in_case", ""),
        "court": plan.get("case", {}).get("court", ""),
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
