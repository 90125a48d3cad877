"""The portal's own PDFs (statements, certificates, personal-data files) rendered from a template's HTML.

WeasyPrint is imported here, when a PDF is made, not when the portal starts: it costs every web worker
~45 MiB of memory, and most requests never render a PDF (tests/unit/test_web_process_imports.py)."""

from __future__ import annotations


def render_pdf(html: str, *, variant: str | None = None) -> bytes:
    """A tagged PDF (language and title from the template, read in order by screen readers); `variant` is a
    WeasyPrint PDF variant such as "pdf/a-3b". The HTML may fetch nothing but data: URLs."""
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    document = HTML(string=html, url_fetcher=URLFetcher(allowed_protocols=["data"]))
    return document.write_pdf(pdf_tags=True, **({"pdf_variant": variant} if variant else {}))
