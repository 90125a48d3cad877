"""Folding WeasyPrint's line-by-line Spans into their parents keeps the tags meaningful and consistent: no
plain Span is left, a Span that says something (a language) stays, every marked-content item still
belongs to the element the parent tree names, and the text reads the same."""

from __future__ import annotations

import collections

import pikepdf
from pypdf import PdfReader
from weasyprint import HTML

from evidence.pdf_tags import flatten_spans

LONG = "evidence " * 400  # many lines, over a page break


def _elements(path) -> collections.Counter:
    with pikepdf.open(path) as pdf:
        return collections.Counter(
            str(obj.get("/S"))
            for obj in pdf.objects
            if isinstance(obj, pikepdf.Dictionary) and obj.get("/Type") == pikepdf.Name.StructElem
        )


def _orphans(path) -> int:
    """Marked-content items whose element, as the parent tree names it, does not list them."""
    with pikepdf.open(path) as pdf:
        tree = pikepdf.NumberTree(pdf.Root.StructTreeRoot.ParentTree)
        orphans = 0
        for page in pdf.pages:
            for mcid, element in enumerate(tree[int(page.obj.StructParents)]):
                kids = element.K if isinstance(element.K, pikepdf.Array) else [element.K]
                mcids = {k if isinstance(k, int) else k.get("/MCID") for k in kids if not isinstance(k, pikepdf.Array)}
                orphans += mcid not in mcids
        return orphans


def test_plain_spans_fold_into_their_parents_and_the_tags_stay_consistent(tmp_path):
    path = tmp_path / "part.pdf"
    html = (
        f"<html lang=en-GB><h1>Exhibit</h1><p><span class=meta>message 1</span> <b>dave_77:</b> {LONG}</p>"
        f"<table><tr><th>When</th><td>{LONG[:400]}</td></tr></table></html>"
    )
    HTML(string=html).write_pdf(path, pdf_variant="pdf/a-3b", pdf_tags=True)
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:  # one Span that says something: its language
        span = next(o for o in pdf.objects if isinstance(o, pikepdf.Dictionary) and o.get("/S") == pikepdf.Name.Span)
        span.Lang = pikepdf.String("fr")
        pdf.save(path)
    before, text = _elements(path), [page.extract_text() for page in PdfReader(path).pages]
    assert before["/Span"] > 40 and len(text) >= 2

    folded = flatten_spans(path)
    after = _elements(path)
    assert folded == before["/Span"] - after["/Span"] > 40
    assert after["/Span"] == 1  # the Span with a language stays
    assert {k: v for k, v in after.items() if k != "/Span"} == {k: v for k, v in before.items() if k != "/Span"}
    assert _orphans(path) == 0
    assert [page.extract_text() for page in PdfReader(path).pages] == text
    assert flatten_spans(path) == 0  # nothing left to fold
