"""Handover bundles: what must be done before one may be requested, and how one is built and signed.

A bundle is built in bounded chunks so that no worker's memory grows with the bundle's size:

1. `bundle_plan` (plan.py) fixes, once, what goes in (exhibits, statements, the manifest's files and
   where each travels: embedded, beside the PDF in the package, or withheld) and how it is cut into chunks.
2. `bundle_render_chunk` (render.py) renders one chunk with WeasyPrint to its own PDF in the bundle's
   work area in private storage (`WorkArea`: written whole or not at all, a folder on one host or a
   bucket shared by several machines) beside a small JSON record of its page count, anchors and
   bookmarks. Any number of workers render chunks at once (a Celery chord); a chunk already rendered is
   not rendered again, so a re-run after a crash repeats only what was lost.
3. `bundle_assemble` (assemble.py) renders the front matter (cover, and the index with the real page
   numbers), then writes the whole PDF in one streaming pass (evidence.pdf_join): the manifest and the
   embedded natives as PDF/A-3 associated files, every page of every part with "OFFICIAL-SENSITIVE · … ·
   Page X of Y" drawn on it, the bookmarks; signs it last (PAdES), packages the natives too large to
   embed beside the PDF in a ZIP, and only then moves the files into place and commits — under a row
   lock, so two assemblies never both land.

Requests and the bundle's state are in requests.py. When an exhibit a bundle holds is disposed of, withdraw.py
removes every file of the bundle holding its content (the record stays). Everything callers use is importable
from here.
"""

import importlib
from typing import TYPE_CHECKING, Any

# Where each name lives. Loaded on first use (PEP 562), not when evidence.bundles is imported: rendering and
# signing bring WeasyPrint and pyHanko, which a web worker that never builds a bundle should not carry.
_SOURCES = {
    "assemble": ("bundle_assemble", "bundle_build", "sign_pdf", "sign_pdf_file"),
    "plan": ("WorkArea", "bundle_manifest", "bundle_plan", "chunk_cost", "native_name"),
    "render": ("bundle_chunks_done", "bundle_render_chunk", "bundle_single_pass_pdf"),
    "requests": (
        "BundleRefused",
        "bundle_fail",
        "bundle_job",
        "bundle_missing",
        "bundle_request",
        "bundle_retry",
        "bundle_start",
        "newer_version",
    ),
    "withdraw": (
        "BundleWithdrawalRefused",
        "bundle_files_holding",
        "bundles_withdrawn_for",
        "withdraw_bundles_holding",
    ),
}
_MODULE_OF = {name: module for module, names in _SOURCES.items() for name in names}

if TYPE_CHECKING:
    from evidence.bundles.assemble import bundle_assemble, bundle_build, sign_pdf, sign_pdf_file
    from evidence.bundles.plan import WorkArea, bundle_manifest, bundle_plan, chunk_cost, native_name
    from evidence.bundles.render import bundle_chunks_done, bundle_render_chunk, bundle_single_pass_pdf
    from evidence.bundles.requests import (
        BundleRefused,
        bundle_fail,
        bundle_job,
        bundle_missing,
        bundle_request,
        bundle_retry,
        bundle_start,
        newer_version,
    )
    from evidence.bundles.withdraw import (
        BundleWithdrawalRefused,
        bundle_files_holding,
        bundles_withdrawn_for,
        withdraw_bundles_holding,
    )


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # once loaded, an ordinary attribute (tests may replace it)
    return value


__all__ = [
    "BundleRefused",
    "BundleWithdrawalRefused",
    "WorkArea",
    "bundle_assemble",
    "bundle_build",
    "bundle_chunks_done",
    "bundle_fail",
    "bundle_files_holding",
    "bundle_job",
    "bundle_manifest",
    "bundle_missing",
    "bundle_plan",
    "bundle_render_chunk",
    "bundle_request",
    "bundle_retry",
    "bundle_single_pass_pdf",
    "bundle_start",
    "bundles_withdrawn_for",
    "chunk_cost",
    "native_name",
    "newer_version",
    "sign_pdf",
    "sign_pdf_file",
    "withdraw_bundles_holding",
]
