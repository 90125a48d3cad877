"""The footer line drawn on every page of a bundle ("OFFICIAL-SENSITIVE · … · Page X of Y"), fast and PDF/A-clean.

Rendering thousands of one-line pages with WeasyPrint just to number them costs several seconds per
thousand pages, on the one worker that assembles the bundle. Instead the font (Liberation Sans, metric-
compatible with Arial, which the bundle's own pages use) is embedded once, whole, as a simple TrueType
font with WinAnsi encoding and widths read from the font program — what PDF/A asks of an embedded font —
and each page gets a few bytes of content that draw the line, centred. `evidence.pdf_join` writes them.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pikepdf import Name

FONT_FAMILY = "Liberation Sans"
KNOWN_PATHS = (
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
)


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


def font_dictionaries(font: StampFont) -> tuple[bytes, bytes]:
    """The font descriptor and font dictionary as PDF syntax, each with one `%d` for the object number it
    refers to (the font program's, the descriptor's): a simple TrueType font, WinAnsi encoded, with the
    widths of codes 32..255 and the whole program embedded (PDF/A)."""
    name = Name("/" + font.name).unparse()
    descriptor = (
        b"<</Type/FontDescriptor/FontName%s/Flags 32/FontBBox[%s]/ItalicAngle 0/Ascent %d/Descent %d"
        % (
            name,
            b" ".join(b"%d" % value for value in font.bbox),
            font.ascent,
            font.descent,
        )
        + b"/CapHeight %d/StemV 80/FontFile2 %%d 0 R>>" % font.cap_height
    )
    widths = b" ".join(b"%d" % width for width in font.widths)
    dictionary = (
        b"<</Type/Font/Subtype/TrueType/BaseFont%s/FirstChar 32/LastChar 255/Widths[%s]/Encoding/WinAnsiEncoding"
        b"/FontDescriptor %%d 0 R>>" % (name, widths)
    )
    return descriptor, dictionary


def _literal(text: bytes) -> bytes:
    return b"(" + text.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def footer_content(font: StampFont, line: str, box: list[float], *, size: float = 7.5, bottom: float = 14.2) -> bytes:
    """Content that draws `line` centred `bottom` points above the foot of a page whose media box is `box`,
    in the font named /PortalStamp; it first restores the graphics state the page's own content began with
    (the page's content is preceded by a `q`)."""
    text = line.encode("cp1252", errors="replace")
    left, lower, right, _upper = box
    x = left + (right - left - font.width(text, size)) / 2
    # Marked as a pagination artifact: in a tagged PDF a screen reader skips it, as it skips a printed footer.
    return (
        b"Q\nq /Artifact<</Type/Pagination/Subtype/Footer>>BDC BT /PortalStamp %.2f Tf %.2f %.2f Td %s Tj ET EMC Q\n"
        % (
            size,
            x,
            lower + bottom,
            _literal(text),
        )
    )
