"""What of an exhibit a reviewing officer may see inline on its review page, and how: images as images,
text as text (HTML and web archives too, as their source, never rendered), PDFs and media not at all, and
quarantined material never — only the warning."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.files.storage import default_storage

from evidence.models import Exhibit

# What every browser draws as an image. SVG is never accepted as an exhibit; HEIC and HEIF browsers do not draw.
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
# Shown as text in a <pre>, escaped: an HTML page or an MHTML archive is read as its source, never run.
TEXT_TYPES = frozenset({"text/plain", "text/csv", "application/json", "text/html", "multipart/related"})
SOURCE_TYPES = frozenset({"text/html", "multipart/related"})
TEXT_PREVIEW_BYTES = 200_000  # about 60 pages of chat; the whole file is one download away


@dataclass(frozen=True)
class PreviewPlan:
    """How the review page treats an exhibit's content."""

    kind: str  # "image", "text", "none" (not previewable) or "withheld" (quarantined)
    why_not: str = ""  # for "none" and "withheld": what the officer reads instead


def preview_plan(exhibit: Exhibit) -> PreviewPlan:
    if exhibit.disposed_at is not None:  # described, never opened: its content is gone
        from evidence.custody import disposed_notice

        return PreviewPlan("withheld", disposed_notice(exhibit))
    if exhibit.quarantined:
        return PreviewPlan(
            "withheld",
            "Quarantined: possible indecent imagery of a child. It is never shown in the portal. Opening the "
            "original needs the specific permission, is recorded in custody and counts towards your welfare "
            "exposure; route it for police grading.",
        )
    if exhibit.sniffed_type in IMAGE_TYPES:
        return PreviewPlan("image")
    if exhibit.sniffed_type in TEXT_TYPES:
        return PreviewPlan("text")
    if exhibit.sniffed_type == "application/pdf":
        return PreviewPlan("none", "PDF documents are not previewed here: download the original to read it.")
    return PreviewPlan("none", "This kind of file is not previewed here: download the original to open it.")


def preview_text(exhibit: Exhibit, *, limit: int = TEXT_PREVIEW_BYTES) -> tuple[str, bool]:
    """The first `limit` bytes of a text exhibit as text, and whether there is more."""
    with default_storage.open(exhibit.stored_name, "rb") as handle:
        head = handle.read(limit + 1)
    more = len(head) > limit
    head = head[:limit]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head.decode("utf-16", errors="replace"), more
    return head.decode("utf-8-sig", errors="replace"), more
