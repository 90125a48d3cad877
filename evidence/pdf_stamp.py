"""Stamping a line of text at the foot of every page of a PDF, fast and PDF/A-clean.

Rendering thousands of one-line pages with WeasyPrint just to number them costs several seconds per
thousand pages, on the one worker that assembles the bundle. Instead the font (Liberation Sans, metric-
compatible with Arial, which the bundle's own pages use) is embedded once, whole, as a simple TrueType
font with WinAnsi encoding and widths read from the font program — what PDF/A asks of an embedded font —
and each page gets a few bytes of content that draw the line, centred.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pikepdf
from pikepdf import Array, Dictionary, Name, Stream

FONT_FAMILY = "Liberation Sans"
KNOWN_PATHS = (
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
)
RESOURCE = Name("/PortalStamp")


class StampFontMissing(RuntimeError):
    pass


def font_path() -> Path:
    for candidate in KNOWN_PATHS:
        if Path(candidate).is_file():
            return Path(candidate)
    if shutil.which("fc-match"):
        found = subprocess.run(
            ["fc-match", "-f", "%{file}", f"{FONT_FAMILY}:style=Regular"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if found.endswith(".ttf") and "iberation" in found and Path(found).is_file():
            return Path(found)
    raise StampFontMissing(
        f"The font {FONT_FAMILY} is not installed: install the fonts-liberation package (apt) and try again."
    )


@dataclass(frozen=True)
class StampFont:
    program: bytes
    widths: tuple[int, ...]  # for WinAnsi codes 32..255, in thousandths of the font size
    name: str
    bbox: tuple[int, int, int, int]
    ascent: int
    descent: int
    cap_height: int

    def width(self, text: bytes, size: float) -> float:
        return sum(self.widths[code - 32] if code >= 32 else 0 for code in text) * size / 1000


@functools.lru_cache(maxsize=1)
def load_font() -> StampFont:
    from fontTools.ttLib import TTFont

    path = font_path()
    program = path.read_bytes()
    font = TTFont(path)
    scale = 1000 / font["head"].unitsPerEm
    cmap, metrics = font.getBestCmap(), font["hmtx"].metrics
    widths = []
    for code in range(32, 256):
        char = bytes([code]).decode("cp1252", errors="ignore")
        glyph = cmap.get(ord(char)) if char else None
        widths.append(round(metrics[glyph][0] * scale) if glyph else 0)
    head, os2 = font["head"], font["OS/2"]
    return StampFont(
        program=program,
        widths=tuple(widths),
        name=font["name"].getDebugName(6) or "LiberationSans",
        bbox=tuple(round(v * scale) for v in (head.xMin, head.yMin, head.xMax, head.yMax)),
        ascent=round(font["hhea"].ascent * scale),
        descent=round(font["hhea"].descent * scale),
        cap_height=round(getattr(os2, "sCapHeight", 700 / scale) * scale),
    )


def _font_dictionary(pdf: pikepdf.Pdf, font: StampFont) -> pikepdf.Object:
    program = Stream(pdf, font.program)
    program.Length1 = len(font.program)
    descriptor = Dictionary(
        Type=Name.FontDescriptor,
        FontName=Name("/" + font.name),
        Flags=32,  # non-symbolic
        FontBBox=Array(list(font.bbox)),
        ItalicAngle=0,
        Ascent=font.ascent,
        Descent=font.descent,
        CapHeight=font.cap_height,
        StemV=80,
        FontFile2=pdf.make_indirect(program),
    )
    return pdf.make_indirect(
        Dictionary(
            Type=Name.Font,
            Subtype=Name.TrueType,
            BaseFont=Name("/" + font.name),
            FirstChar=32,
            LastChar=255,
            Widths=Array(list(font.widths)),
            Encoding=Name.WinAnsiEncoding,
            FontDescriptor=pdf.make_indirect(descriptor),
        )
    )


def _literal(text: bytes) -> bytes:
    return b"(" + text.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def stamp_footers(pdf: pikepdf.Pdf, line_for_page, *, size: float = 7.5, bottom: float = 14.2) -> None:
    """Draw `line_for_page(number, total)` centred `bottom` points above the foot of every page."""
    font = load_font()
    font_ref = _font_dictionary(pdf, font)
    save = pdf.make_indirect(Stream(pdf, b"q\n"))  # whatever the page's own content leaves behind is undone
    total = len(pdf.pages)
    for number, page in enumerate(pdf.pages, start=1):
        text = line_for_page(number, total).encode("cp1252", errors="replace")
        left, lower, right, _upper = (float(v) for v in page.mediabox)
        x = left + (right - left - font.width(text, size)) / 2
        draw = b"Q\nq BT /PortalStamp %.2f Tf %.2f %.2f Td %s Tj ET Q\n" % (size, x, lower + bottom, _literal(text))
        page.add_resource(font_ref, Name.Font, RESOURCE)
        page.contents_add(save, prepend=True)
        page.contents_add(Stream(pdf, draw), prepend=False)
