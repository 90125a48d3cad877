"""Which characters of a PDF are drawn with glyph 0 (`.notdef`, an empty box): what a renderer does,
silently, for a character no installed font covers, and what PDF/A forbids."""

from __future__ import annotations

import re

import pikepdf

_CIDCHAR = re.compile(rb"<([0-9a-fA-F]+)>\s+(\d+)")
_CIDRANGE = re.compile(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>\s+(\d+)")


def _notdef_codes(font) -> set[int] | None:
    """The codes a composite (Type0) font maps to CID 0, or None for Identity-H (code 0 is .notdef)."""
    encoding = font.get("/Encoding")
    if isinstance(encoding, pikepdf.Name):
        return None
    data = encoding.read_bytes()
    codes = set()
    for block in re.findall(rb"begincidchar(.*?)endcidchar", data, re.DOTALL):
        codes |= {int(code, 16) for code, cid in _CIDCHAR.findall(block) if int(cid) == 0}
    for block in re.findall(rb"begincidrange(.*?)endcidrange", data, re.DOTALL):
        codes |= {int(low, 16) for low, _high, cid in _CIDRANGE.findall(block) if int(cid) == 0}
    return codes


def _strings(operands) -> list[bytes]:
    found = []
    for operand in operands:
        if isinstance(operand, pikepdf.String):
            found.append(bytes(operand))
        elif isinstance(operand, pikepdf.Array):
            found += [bytes(item) for item in operand if isinstance(item, pikepdf.String)]
    return found


def notdef_glyphs(pdf: pikepdf.Pdf) -> list[tuple[int, str]]:
    """(page number, font name) for every character drawn with `.notdef` in a composite font."""
    found: list[tuple[int, str]] = []
    for number, page in enumerate(pdf.pages, 1):
        _walk(page.obj, page.obj.get("/Resources", pikepdf.Dictionary()), number, found, set())
    return found


def _walk(owner, resources, number: int, found: list, seen: set) -> None:
    fonts = resources.get("/Font", pikepdf.Dictionary())
    notdef: dict[str, set[int] | None] = {}
    current = None
    for operands, operator in pikepdf.parse_content_stream(owner):
        op = str(operator)
        if op == "Tf":
            name = str(operands[0])
            font = fonts.get(name)
            current = None
            if font is not None and font.get("/Subtype") == "/Type0":
                if name not in notdef:
                    notdef[name] = _notdef_codes(font)
                current = (name, notdef[name], str(font.get("/BaseFont")))
        elif op in ("Tj", "TJ", "'", '"') and current is not None:
            _name, codes, base = current
            for data in _strings(operands):
                for i in range(0, len(data) - 1, 2):
                    code = int.from_bytes(data[i : i + 2], "big")
                    if (code == 0) if codes is None else (code in codes):
                        found.append((number, base))
        elif op == "Do":
            xobject = resources.get("/XObject", pikepdf.Dictionary()).get(str(operands[0]))
            if xobject is not None and xobject.get("/Subtype") == "/Form" and xobject.objgen not in seen:
                seen.add(xobject.objgen)
                _walk(xobject, xobject.get("/Resources", resources), number, found, seen)


def body_text(pages, *, reference: str, urn: str, version: int) -> str:
    """The text of a bundle's pages with all whitespace removed and the running head and foot taken out
    (text extraction puts them wherever a message crosses a page): what a message search can rely on."""
    text = re.sub(r"\s+", "", "".join(page.extract_text() for page in pages))
    reference, urn = re.escape(re.sub(r"\s+", "", reference)), re.sub(r"\s+", "", urn)
    foot = rf"OFFICIAL-SENSITIVE·URN{urn}·{reference}handoverbundlev{version}·Page\d+of{len(pages)}"
    text = re.sub(foot, "", text)
    for piece in (f"URN{urn}", "OFFICIAL-SENSITIVE", re.sub(r"\\(.)", r"\1", reference) + f"v{version}"):
        text = text.replace(piece, "")
    return text
