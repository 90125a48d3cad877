"""Anchors the head of every hash chain to an RFC 3161 time-stamping authority, and checks each chain still
passes through every head it ever anchored.

A hash chain alone shows only that it is self-consistent: whoever can write the database (a database
superuser bypasses the append-only triggers) can delete its newest rows, or rewrite it whole, and it still
checks. Once a day the portal writes a statement of where each chain stands (the audit chain's last row,
and the last event of every exhibit's custody chain written to since the previous anchor), has the
authority time-stamp the statement's SHA-256, and keeps the statement and the authority's token twice: in
the database (ChainAnchor) and as a file in storage, outside the database. The authority's signature
cannot be forged, so a chain that no longer passes through an anchored head was cut or rewritten after it
was anchored. Rows written since the newest anchor are only self-consistent until the next one.

Statement (canonical JSON as in portal/hashchain.py, so anyone can re-check it):
    {"version": 1, "made_at": <UTC ISO>, "previous": <the previous anchor's digest, or 64 zeros>,
     "heads": [[<chain>, <row id>, <row hash>], ...], "watermarks": {<source>: <last row id seen>}}
digest = hex SHA-256 of the statement's canonical JSON; the token's message imprint is that SHA-256.
Chains are named "audit" and "custody:<exhibit id>".

Apps register their chains' heads with register_chain (the ground floor imports no app).
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone

from portal import hashchain
from portal.models import AuditEvent, ChainAnchor

VERSION = 1
STAMP_TOLERANCE = datetime.timedelta(minutes=10)
STORAGE_FOLDER = "anchors"
# A fixed key for pg_advisory_xact_lock: two anchoring runs never fork the chain of anchors.
_ANCHOR_LOCK_KEY = 0x5045_414E_4348_4F52 & 0x7FFF_FFFF_FFFF_FFFF  # "PEANCHOR"

# A source answers, given the watermark it returned last time (None the first time), the heads of its chains
# written to since then and its new watermark.
HeadSource = Callable[[Any], tuple[list[list], Any]]
_sources: dict[str, HeadSource] = {}


def register_chain(name: str, source: HeadSource) -> None:
    """Called from an app's ready(): include this source's chain heads in every anchor."""
    _sources[name] = source


def _audit_heads(_watermark: Any) -> tuple[list[list], Any]:
    # The audit chain's head is anchored every time, even when nothing was written since.
    last = AuditEvent.objects.order_by("-id").values_list("id", "hash").first()
    if last is None:
        return [], None
    return [["audit", last[0], last[1]]], last[0]


register_chain("audit", _audit_heads)


class AnchoringUnavailable(Exception):
    """No time-stamping authority is configured, or it could not be reached: nothing was anchored."""


def tsa_configured() -> bool:
    return bool(settings.PORTAL_TSA_URL)


def anchor_chains() -> ChainAnchor:
    """Time-stamp where every chain stands now (daily, by Celery beat; or `manage.py anchor_chains`)."""
    if not tsa_configured():
        raise AnchoringUnavailable(
            "No time-stamping authority is configured (PORTAL_TSA_URL), so nothing was anchored: the audit and "
            "custody chains can then only be shown to be self-consistent."
        )
    from portal.audit import audit_record

    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ANCHOR_LOCK_KEY])
        previous = ChainAnchor.objects.order_by("-id").first()
        # Recorded first, so that the audit chain's newest row when the heads are read is anchored too; the
        # anchor it starts is the one chained to `previous`.
        audit_record(action="audit.chain_anchored", detail={"previous": previous.digest if previous else ""})
        before = previous.statement.get("watermarks", {}) if previous else {}
        heads: list[list] = []
        watermarks: dict[str, Any] = {}
        for name, source in sorted(_sources.items()):
            found, watermarks[name] = source(before.get(name))
            heads.extend(found)
        made_at = timezone.now()
        statement = {
            "version": VERSION,
            "made_at": hashchain.utc_iso(made_at),
            "previous": previous.digest if previous else hashchain.GENESIS,
            "heads": sorted(heads, key=lambda head: (head[0], head[1])),
            "watermarks": watermarks,
        }
        data = hashchain.canonical_json(statement)
        digest = hashlib.sha256(data).digest()
        token = _timestamp(digest)
        anchor = ChainAnchor.objects.create(
            made_at=made_at,
            digest=digest.hex(),
            previous_digest=statement["previous"],
            statement=statement,
            token=token.dump(),
            stamped_at=_gen_time(token),
            tsa_url=settings.PORTAL_TSA_URL[:500],
        )
        default_storage.save(_storage_name(anchor), ContentFile(_storage_copy(anchor)))
    return anchor


def _run(coroutine_factory: Callable[[], Any]) -> Any:
    # pyHanko's clients are async; asyncio.run fails inside a running loop (ASGI), so use a thread then.
    # (evidence.verify.outside_event_loop does the same for the standalone verifier, which must not import the
    # portal package, and the ground floor imports no app: hence two.)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine_factory())
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(coroutine_factory())).result()


def _timestamp(digest: bytes):
    from pyhanko.sign.timestamps import HTTPTimeStamper

    stamper = HTTPTimeStamper(settings.PORTAL_TSA_URL, timeout=30)
    try:
        return _run(lambda: stamper.async_timestamp(digest, "sha256"))
    except Exception as exc:  # network failure, or the authority refused: say which authority and why
        raise AnchoringUnavailable(
            f"The time-stamping authority at {settings.PORTAL_TSA_URL} did not time-stamp the chains' heads "
            f"({exc.__class__.__name__}: {exc}). Nothing was anchored; the next run tries again."
        ) from exc


def _tst_info(token):
    return token["content"]["encap_content_info"]["content"].parsed


def _gen_time(token) -> datetime.datetime:
    return _tst_info(token)["gen_time"].native


def _storage_name(anchor: ChainAnchor) -> str:
    return f"{STORAGE_FOLDER}/{anchor.made_at:%Y/%m/%d}/{anchor.digest}.json"


def _storage_copy(anchor: ChainAnchor) -> bytes:
    return json.dumps(
        {"statement": anchor.statement, "token": base64.b64encode(bytes(anchor.token)).decode("ascii")},
        indent=1,
        sort_keys=True,
    ).encode("utf-8")


# --- Checking ---------------------------------------------------------------------------------------------


@dataclass
class AnchorReport:
    """What the anchors themselves show: each genuine (statement, digest, token), chained, kept in both
    places and recent; `heads` maps each chain to the heads anchored for it, oldest first."""

    tsa_configured: bool
    anchors: int = 0
    newest: ChainAnchor | None = None
    problems: list[str] = field(default_factory=list)
    heads: dict[str, list[tuple[int, str, ChainAnchor]]] = field(default_factory=dict)

    def describe_newest(self) -> str:
        anchor = self.newest
        if anchor is None:
            return ""
        return f"{timezone.localtime(anchor.stamped_at):%-d %B %Y %H:%M %Z} by {anchor.tsa_url}"


def anchors_check() -> AnchorReport:
    report = AnchorReport(tsa_configured=tsa_configured())
    anchors = list(ChainAnchor.objects.order_by("id"))
    report.anchors = len(anchors)
    report.newest = anchors[-1] if anchors else None
    if anchors and not settings.PORTAL_TSA_CERT_PATH:
        report.problems.append(
            "the anchors' time-stamps cannot be checked: PORTAL_TSA_CERT_PATH (the time-stamping authority's "
            "certificate) is not set"
        )
    tsa_cert = _tsa_certificate(report) if anchors and settings.PORTAL_TSA_CERT_PATH else None
    previous = hashchain.GENESIS
    for anchor in anchors:
        problem = _anchor_problem(anchor, previous, tsa_cert)
        if problem:
            report.problems.append(f"anchor {anchor.digest[:12]}… of {anchor.made_at:%Y-%m-%d %H:%M} UTC: {problem}")
        previous = anchor.digest
        for chain, row_id, row_hash in anchor.statement.get("heads", []):
            report.heads.setdefault(chain, []).append((row_id, row_hash, anchor))
    report.problems.extend(_copies_problems(anchors))
    report.problems.extend(_freshness_problems(report))
    return report


def _tsa_certificate(report: AnchorReport):
    from pyhanko.keys import load_cert_from_pemder

    try:
        return load_cert_from_pemder(settings.PORTAL_TSA_CERT_PATH)
    except Exception as exc:
        report.problems.append(
            f"the time-stamping authority's certificate {settings.PORTAL_TSA_CERT_PATH} could not be read ({exc})"
        )
        return None


def _anchor_problem(anchor: ChainAnchor, previous: str, tsa_cert) -> str | None:
    data = hashchain.canonical_json(anchor.statement)
    if hashlib.sha256(data).hexdigest() != anchor.digest:
        return "its statement no longer matches its digest (the statement was altered)"
    if anchor.statement.get("previous") != previous or anchor.previous_digest != previous:
        return "it does not follow the anchor before it (an anchor was removed, inserted or reordered)"
    if tsa_cert is None:
        return None
    problem = token_problem(bytes(anchor.token), data, tsa_cert)
    if problem:
        return problem
    # An authority time-stamps whatever it is sent: a statement written today about yesterday would carry
    # today's time. The statement's own time must agree with the authority's.
    from asn1crypto import cms

    stamped = _gen_time(cms.ContentInfo.load(bytes(anchor.token)))
    stated = datetime.datetime.fromisoformat(anchor.statement.get("made_at", "").replace("Z", "+00:00"))
    if abs(stamped - stated) > STAMP_TOLERANCE:
        return (
            f"the authority time-stamped it at {stamped:%Y-%m-%d %H:%M} UTC, but the statement says it "
            f"was made at {stated:%Y-%m-%d %H:%M} UTC"
        )
    return None


def token_problem(token_der: bytes, data: bytes, tsa_cert) -> str | None:
    """None when `token_der` is the authority's genuine time-stamp of SHA-256(data); otherwise why not."""
    from asn1crypto import cms
    from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
    from pyhanko.sign.validation.status import TimestampSignatureStatus
    from pyhanko_certvalidator import ValidationContext

    try:
        token = cms.ContentInfo.load(token_der)
        signed_data = token["content"]
        moment = _gen_time(token)
    except Exception as exc:
        return f"its time-stamp token cannot be read ({exc.__class__.__name__})"
    context = ValidationContext(
        trust_roots=[tsa_cert], allow_fetching=False, revocation_mode="soft-fail", moment=moment
    )
    try:
        kwargs = _run(
            lambda: validate_tst_signed_data(
                signed_data, context, lambda algorithm: hashlib.new(algorithm, data).digest()
            )
        )
        status = TimestampSignatureStatus(**kwargs)
    except Exception as exc:
        return f"its time-stamp token does not verify ({exc.__class__.__name__}: {exc})"
    if not status.intact:
        return "the time-stamp was not made over this statement (its message imprint differs)"
    if not status.valid:
        return "the time-stamp's signature is not valid"
    if not status.trusted:
        return "the time-stamp was not signed by the configured time-stamping authority"
    return None


def _copies_problems(anchors: list[ChainAnchor]) -> list[str]:
    """The database and storage must hold the same anchors: deleting one (or all) from either shows."""
    problems = []
    in_storage: dict[str, str] = {}
    for name in _storage_files(STORAGE_FOLDER):
        digest = name.rsplit("/", 1)[-1].removesuffix(".json")
        in_storage[digest] = name
    in_database = {anchor.digest for anchor in anchors}
    for anchor in anchors:
        name = in_storage.get(anchor.digest)
        if name is None:
            problems.append(f"anchor {anchor.digest[:12]}… is in the database but its copy in storage is missing")
            continue
        with default_storage.open(name, "rb") as handle:
            copy = json.loads(handle.read())
        if copy.get("statement") != anchor.statement or base64.b64decode(copy.get("token", "")) != bytes(anchor.token):
            problems.append(f"anchor {anchor.digest[:12]}…: its copy in storage differs from the database's")
    for digest, name in sorted(in_storage.items()):
        if digest not in in_database:
            problems.append(
                f"storage holds anchor {digest[:12]}… ({name}) that the database no longer has: anchors were "
                "removed from the database"
            )
    return problems


def _storage_files(folder: str) -> list[str]:
    from portal.storage import walk_files

    try:
        return [name for name in walk_files(default_storage, f"{folder}/") if name.endswith(".json")]
    except (FileNotFoundError, NotADirectoryError):
        return []


def _freshness_problems(report: AnchorReport) -> list[str]:
    # Removing the newest anchors everywhere would reopen the window they closed: anchors are made every
    # PORTAL_ANCHOR_HOURS, so a gap of two periods means the job stopped or anchors went missing.
    if not report.tsa_configured:
        return []
    period = datetime.timedelta(hours=settings.PORTAL_ANCHOR_HOURS)
    now = timezone.now()
    if report.newest is not None:
        if now - report.newest.made_at > 2 * period:
            return [
                f"the newest anchor is from {report.newest.made_at:%Y-%m-%d %H:%M} UTC, but anchors are made every "
                f"{settings.PORTAL_ANCHOR_HOURS} hours: either the anchoring job has stopped or newer anchors were "
                "removed"
            ]
        return []
    first = AuditEvent.objects.order_by("id").values_list("at", flat=True).first()
    if first is not None and now - first > 2 * period:
        return [
            f"no anchor exists, though the audit chain began on {first:%Y-%m-%d} and anchors are made every "
            f"{settings.PORTAL_ANCHOR_HOURS} hours: either the anchoring job has never run or every anchor was removed"
        ]
    return []


def heads_problems(report: AnchorReport, chain: str, rows: dict[int, str]) -> list[str]:
    """Each head anchored for `chain` must still be in it, unchanged: `rows` maps the chain's row ids to
    their hashes (the chain itself already checked to be self-consistent)."""
    problems = []
    for row_id, row_hash, anchor in report.heads.get(chain, []):
        stamped = f"{timezone.localtime(anchor.stamped_at):%-d %B %Y %H:%M %Z}"
        actual = rows.get(row_id)
        if actual is None:
            problems.append(
                f"row {row_id}, its newest when time-stamped on {stamped}, is no longer in the chain: rows were "
                "deleted or the chain was rewritten after it was anchored"
            )
        elif actual != row_hash:
            problems.append(
                f"row {row_id} no longer has the hash time-stamped on {stamped} ({row_hash[:16]}…): the chain "
                "was rewritten after it was anchored"
            )
    return problems
