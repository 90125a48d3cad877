"""Withdrawing a bundle's files from storage once an exhibit it holds is disposed of: the bundle's record stays.

A bundle built before a disposal still holds the exhibit (its native embedded in the signed PDF, its pages rendered
there, its native beside the PDF in the package, which also holds the PDF). Disposal removes the exhibit's content
from storage, so it removes those copies too: every stored file of the bundle that holds the content, every
version of it, decided from the bundle's plan. The record (version, manifest, hashes, page count, who asked for it)
stays, and says when, why and which files were withdrawn. Copies already handed to a court are beyond the portal:
they verify as before, since the verifier checks the file it is given, not storage.

Called by the retention app's `disposal_remove_content`; evidence knows of the disposal only through the exhibit's
own `disposed_at` and its "disposed" custody event.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from evidence.bundles.plan import INLINE_IMAGE_BYTES, INLINE_IMAGE_TYPES, WorkArea
from evidence.models import Exhibit, HandoverBundle
from evidence.transcripts import TEXT_TYPES
from portal.audit import audit_record
from portal.display import when
from portal.storage import delete_every_version, delete_folder_every_version, walk_files

log = logging.getLogger(__name__)

PARTS = {
    "pdf": "the signed PDF",
    "package": "the package (ZIP) of the signed PDF and the files too large to embed",
    "work": "the parts rendered while it was built",
}


class BundleWithdrawalRefused(PermissionDenied):
    """A bundle's files are withdrawn only for an exhibit whose disposal stands; the message says why not."""


def _pdf_holds(entry: dict) -> bool:
    """Whether the signed PDF carries the exhibit's content: its native embedded, or its content rendered on the
    pages (a transcript message by message, an image inline), as evidence.bundles.render draws an exhibit of the
    plan. Material withheld as quarantined is never embedded or rendered, and an exhibit only described (a video,
    a document) is there as its record alone."""
    if entry["location"] == "withheld":
        return False
    if entry.get("embedded"):
        return True
    if entry["type"] in TEXT_TYPES:
        return "transcript" in entry
    return entry["type"] in INLINE_IMAGE_TYPES and entry["size"] <= INLINE_IMAGE_BYTES


def bundle_files_holding(*, bundle: HandoverBundle, exhibit: Exhibit) -> list[dict]:
    """The bundle's stored files that hold the exhibit's content, as {"part", "name"}, read from its plan: the
    signed PDF if it embeds or renders it; the package if it carries the native beside the PDF or carries that PDF;
    the parts rendered into its work area, if any are stored. Empty if the bundle does not hold the content (the
    exhibit is not in it, or only withheld under police control)."""
    entry = next((f for f in (bundle.plan or {}).get("files", []) if f.get("exhibit") == exhibit.pk), None)
    if entry is None or entry["location"] == "withheld":
        return []
    files = []
    pdf = _pdf_holds(entry)
    if pdf and bundle.pdf_name:
        files.append({"part": "pdf", "name": bundle.pdf_name})
    if bundle.package_name and (pdf or entry["location"] == "beside"):
        files.append({"part": "package", "name": bundle.package_name})
    work = WorkArea(bundle).prefix + "/"
    if next(iter(_stored_under(work)), None) is not None:
        files.append({"part": "work", "name": work})
    return files


def _stored_under(prefix: str) -> list[str]:
    try:
        return list(walk_files(default_storage, prefix))
    except FileNotFoundError:
        return []


def withdraw_bundles_holding(exhibit: Exhibit) -> list[HandoverBundle]:
    """Withdraw from storage every file of every bundle that holds the disposed exhibit's content, every version of
    each; record on each bundle when, for which exhibit and which files, and audit it. Returns the bundles that
    hold it. Idempotent: run again, it removes whatever is still stored and records nothing new.

    A bundle not built yet (queued, building or failed) that holds it or was to is withdrawn too: whatever it
    rendered is removed and it is marked failed, so it is never finished or sent again. Rows first, storage last, as the
    disposal itself: if storage fails, the record already says the files are withdrawn and a second run removes
    them."""
    exhibit = Exhibit.objects.select_related("tasking").get(pk=exhibit.pk)
    if exhibit.disposed_at is None:
        raise BundleWithdrawalRefused(
            f"Exhibit {exhibit.reference} has not been disposed of: the bundles holding it keep their files."
        )
    holding: list[tuple[HandoverBundle, list[dict]]] = []
    with transaction.atomic():
        bundles = (
            HandoverBundle.objects.select_for_update(of=("self",))
            .select_related("tasking")
            .filter(tasking_id=exhibit.tasking_id)
            .order_by("version")
        )
        for bundle in bundles:
            if not _held(bundle, exhibit):
                continue
            files = bundle_files_holding(bundle=bundle, exhibit=exhibit)
            holding.append((bundle, files))
            _record(bundle, exhibit, files)
    for bundle, files in holding:
        removed = sum(delete_every_version(f["name"]) for f in files if f["part"] != "work")
        # The work area goes whole, even when nothing is listed there: a bucket keeps, unlisted, the versions of the
        # parts a finished build cleared.
        removed += delete_folder_every_version(WorkArea(bundle).prefix)
        log.info("bundle %s: %d stored objects or versions removed for %s", bundle.pk, removed, exhibit.reference)
    return [HandoverBundle.objects.select_related("tasking").get(pk=bundle.pk) for bundle, _files in holding]


def _record(bundle: HandoverBundle, exhibit: Exhibit, files: list[dict]) -> None:
    """Say on the bundle which of its files go, for which exhibit (the first withdrawal also says when and why),
    with its audit row; nothing if every one of them is recorded already."""
    recorded = {f["name"] for f in bundle.files_withdrawn}
    new = [{**f, "exhibit": exhibit.reference} for f in files if f["name"] not in recorded]
    first = bundle.files_withdrawn_at is None
    if not new and not first:
        return
    fields: dict = {"files_withdrawn": [*bundle.files_withdrawn, *new]}
    if first:
        fields.update(files_withdrawn_at=timezone.now(), files_withdrawn_for=exhibit)
        if bundle.state != HandoverBundle.State.READY:
            fields.update(
                state=HandoverBundle.State.FAILED,
                error=f"Exhibit {exhibit.reference}, which this bundle was to hold, was disposed of on "
                f"{when(exhibit.disposed_at)}: what was rendered of the bundle was withdrawn, and it will not be "
                "built.",
            )
    HandoverBundle.objects.filter(pk=bundle.pk).update(**fields)
    audit_record(
        action="evidence.bundle_files_withdrawn",
        obj=bundle,
        scheme_id=bundle.tasking.scheme_id,
        detail={
            "bundle": bundle.pk,
            "tasking": bundle.tasking.reference,
            "version": bundle.version,
            "exhibit": exhibit.reference,
            "exhibit_disposed_at": exhibit.disposed_at.isoformat(),
            "files": new,
            "first": first,
            "pdf_sha256": bundle.pdf_sha256,
            "package_sha256": bundle.package_sha256,
        },
    )


def bundles_withdrawn_for(exhibit: Exhibit) -> list[HandoverBundle]:
    """The built bundles whose files were withdrawn because they held this disposed exhibit, oldest version first,
    each with its tasking (reference), version, pdf_sha256 and package_sha256 as built: what the disposal
    certificate lists. A bundle that also held another exhibit disposed of before this one was withdrawn then: it
    is listed here too (its `files_withdrawn_for` names the exhibit whose disposal withdrew it first), since it held
    this exhibit and its files are gone. A build that never finished has no file or hash to list; its own record
    says what was withdrawn."""
    bundles = (
        HandoverBundle.objects.filter(
            tasking_id=exhibit.tasking_id, state=HandoverBundle.State.READY, files_withdrawn_at__isnull=False
        )
        .select_related("tasking", "files_withdrawn_for")
        .order_by("version")
    )
    return [bundle for bundle in bundles if _held(bundle, exhibit)]


def _held(bundle: HandoverBundle, exhibit: Exhibit) -> bool:
    """Whether the bundle holds the exhibit's content, or was to: its plan carries it (not withheld), or, for a
    bundle asked for and not planned yet, the plan would (the exhibit is accepted and not quarantined)."""
    if not bundle.plan:
        return (
            bundle.state != HandoverBundle.State.READY
            and exhibit.review_state == Exhibit.Review.ACCEPTED
            and not exhibit.quarantined
        )
    entry = next((f for f in bundle.plan.get("files", []) if f.get("exhibit") == exhibit.pk), None)
    return entry is not None and entry["location"] != "withheld"


# --- what people read instead of a withdrawn bundle's files -------------------------------------------------------


def withdrawn_summary(bundle: HandoverBundle) -> str:
    """What a list shows in place of a withdrawn bundle's download links: 'Files withdrawn (exhibit VD/3, which it
    held, was disposed of on 4 December 2026)'."""
    exhibit = bundle.files_withdrawn_for
    return (
        f"Files withdrawn (exhibit {exhibit.reference}, which it held, was disposed of on "
        f"{when(timezone.localdate(exhibit.disposed_at))})"
    )


def withdrawn_notice(bundle: HandoverBundle) -> str:
    """The sentence saying when the bundle's files were withdrawn, and why."""
    exhibit = bundle.files_withdrawn_for
    return (
        f"The portal withdrew the files of bundle {bundle.tasking.reference} version {bundle.version} on "
        f"{when(bundle.files_withdrawn_at)}, because exhibit {exhibit.reference}, which it held, was disposed of."
    )


def withdrawn_files_text(bundle: HandoverBundle) -> str:
    """Which of the bundle's files were withdrawn, in words: 'the signed PDF; the package (ZIP) of …'."""
    parts = []
    for f in bundle.files_withdrawn:
        label = f"{PARTS.get(f['part'], f['name'])} (for exhibit {f['exhibit']})"
        if label not in parts:
            parts.append(label)
    return "; ".join(parts)
