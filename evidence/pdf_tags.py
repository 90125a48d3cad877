"""Lighter tags for a rendered PDF: WeasyPrint tags every line of text as a /Span structure element of its
own, which says nothing a reader needs (a Span with no attributes is "no particular meaning" in PDF 1.7,
14.8.4.4) but is an object of its own. A bundle of 2,000 exhibits held 570,000 of them among its 750,000
objects, and everything that reads the signed file pays per object: pyHanko, signing it, held 200 MiB of
cross-reference entries alone. Each such Span is replaced by its content in its parent element, so the
parent (a paragraph, a table cell) marks the same content directly; Spans that say something (a language,
alternate or actual text, attributes, an ID) are kept."""

from __future__ import annotations

from pathlib import Path

import pikepdf
from pikepdf import Array, Dictionary, Name

# A Span with any of these says something about its content, so it stays.
MEANINGFUL = {"/Lang", "/Alt", "/ActualText", "/E", "/A", "/C", "/ID", "/T"}
PLAIN = {"/Type", "/S", "/P", "/K", "/Pg"}


def _is_element(obj) -> bool:
    return isinstance(obj, Dictionary) and obj.get("/Type", Name.StructElem) == Name.StructElem and "/S" in obj


def _plain_span(obj) -> bool:
    return _is_element(obj) and Name.Span == obj.S and not (set(obj.keys()) - PLAIN) and obj.is_indirect


def _kids(element) -> list:
    kids = element.get("/K")
    if kids is None:
        return []
    return list(kids) if isinstance(kids, Array) else [kids]


def _same(a, b) -> bool:
    return a is not None and b is not None and a.objgen == b.objgen


def flatten_spans(path: Path | str) -> int:
    """Rewrite the tagged PDF at `path` with its plain Spans folded into their parents; returns how many
    were folded (the file is left as it was when there are none)."""
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        root = pdf.Root.get("/StructTreeRoot")
        if root is None:
            return 0
        replaced: dict[tuple[int, int], pikepdf.Object] = {}  # each folded Span -> the element now holding its content
        stack = [element for element in _kids(root) if _is_element(element)]
        while stack:
            element = stack.pop()
            page = element.get("/Pg")
            kids, changed, pending = [], False, _kids(element)
            while pending:
                kid = pending.pop(0)
                if _plain_span(kid):
                    changed = True
                    replaced[kid.objgen] = element
                    span_page = kid.get("/Pg")
                    inner = []
                    for item in _kids(kid):
                        # A bare MCID is on the Span's page: say so if the parent's page is another.
                        if isinstance(item, int) and span_page is not None and not _same(span_page, page):
                            item = Dictionary(Type=Name.MCR, Pg=span_page, MCID=item)
                        inner.append(item)
                    pending[:0] = inner  # folded in order; a Span within the Span is folded in turn
                    continue
                if _is_element(kid):
                    if "/P" in kid and kid.P.objgen in replaced:
                        kid.P = element
                    stack.append(kid)
                kids.append(kid)
            if changed:
                element.K = Array(kids) if len(kids) != 1 else kids[0]
        if not replaced:
            return 0
        if "/ParentTree" in root:
            tree = pikepdf.NumberTree(root.ParentTree)
            for key, value in list(tree.items()):
                if isinstance(value, Array):
                    if any(isinstance(v, Dictionary) and v.is_indirect and v.objgen in replaced for v in value):
                        tree[key] = Array(
                            [
                                replaced.get(v.objgen, v) if isinstance(v, Dictionary) and v.is_indirect else v
                                for v in value
                            ]
                        )
                elif isinstance(value, Dictionary) and value.is_indirect and value.objgen in replaced:
                    tree[key] = replaced[value.objgen]
        pdf.save(path)
        return len(replaced)
