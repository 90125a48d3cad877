"""Identify an uploaded file's type from its first bytes against the exhibit allow-list (pure Python, no Django)."""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from typing import NamedTuple

__all__ = ["HEAD_BYTES", "Sniffed", "extension_for", "sniff"]

# Callers pass at least this many leading bytes (or the whole file when it is shorter).
HEAD_BYTES = 4096


class Sniffed(NamedTuple):
    mime: str  # the type we store and serve: never the client's Content-Type
    kind: str  # image | pdf | text | video | audio
    label: str  # short English name for people ("JPEG image")


JPEG = Sniffed("image/jpeg", "image", "JPEG image")
PNG = Sniffed("image/png", "image", "PNG image")
GIF = Sniffed("image/gif", "image", "GIF image")
WEBP = Sniffed("image/webp", "image", "WebP image")
HEIC = Sniffed("image/heic", "image", "HEIC image")
HEIF = Sniffed("image/heif", "image", "HEIF image")
PDF = Sniffed("application/pdf", "pdf", "PDF document")
TEXT = Sniffed("text/plain", "text", "Plain text")
CSV = Sniffed("text/csv", "text", "CSV data")
JSON = Sniffed("application/json", "text", "JSON data")
HTML = Sniffed("text/html", "text", "HTML page")
MHTML = Sniffed("multipart/related", "text", "MHTML web archive")
MP4 = Sniffed("video/mp4", "video", "MP4 video")
WEBM = Sniffed("video/webm", "video", "WebM video")
WAV = Sniffed("audio/wav", "audio", "WAV audio")
MP3 = Sniffed("audio/mpeg", "audio", "MP3 audio")

# ISO base media (ftyp) brands. HEIF stills share the container with MP4 video, so the brand, not the box, decides.
_FTYP_BRANDS = {
    b"heic": HEIC,
    b"heix": HEIC,
    b"mif1": HEIF,
    b"isom": MP4,
    b"mp41": MP4,
    b"mp42": MP4,
    b"avc1": MP4,
    b"M4V ": MP4,
}

# The extension a stored file is given when it leaves the portal (a download, a bundle's natives): from its
# sniffed type, never from the name the browser sent.
EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/heic": ".heic",
    "image/heif": ".heif",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
    "text/csv": ".csv",
    "application/json": ".json",
    "text/html": ".html",
    "multipart/related": ".mhtml",
    "video/mp4": ".mp4",
    "video/webm": ".webm",
    "audio/wav": ".wav",
    "audio/mpeg": ".mp3",
}


def extension_for(mime: str) -> str:
    return EXTENSIONS.get(mime, ".bin")


# C0 controls that real text files carry (tab, newlines, form feed, backspace, Ctrl-Z end marker, ANSI escape).
# Any other control character, NUL above all, means the bytes are binary that happen to decode.
_BINARY_CONTROLS = re.compile("[\x00-\x07\x0e-\x19\x1c-\x1f]")
_SVG_TAG = re.compile(r"<svg[\s/>]|<!doctype\s+svg", re.IGNORECASE)
# Preamble an HTML page may carry before its root: XML declaration, processing instructions, comments
# (browsers' "saved from url" marker). Skipped only to find the root element.
_PREAMBLE = re.compile(r"\A(?:\s+|<\?.*?\?>|<!--.*?-->)*", re.DOTALL)
_HTML_ROOT = re.compile(r"<!doctype\s+html[\s>]|<html[\s>]", re.IGNORECASE)
_HEADER_LINE = re.compile(r"[!-9;-~]+:")  # RFC 5322 field name: printable ASCII except colon


def sniff(head: bytes, *, name_hint: str | None = "") -> Sniffed | None:
    """Return the allowed type of a file whose first bytes are `head`, or None when it is not allowed.

    `head` is at least HEAD_BYTES bytes or the whole file. The name hint only chooses between text formats
    (CSV or JSON versus plain text); binary signatures and the text test never look at it.
    """
    if not head:
        return None  # nothing to identify; an empty exhibit is refused, not guessed
    binary = _sniff_binary(head)
    if binary is not None or _is_container(head):
        # A container magic whose contents failed the check (AVI in RIFF, Matroska in EBML, a QuickTime
        # ftyp) is refused outright: those bytes can happen to decode as text, but they are not text.
        return binary
    text = _decode_text(head)
    if not text:
        return None  # not text, or only a byte-order mark / a cut-off character: nothing to identify
    return _sniff_text(text, ends_mid_line=not text.endswith(("\n", "\r")), hint=(name_hint or "").lower())


def _sniff_binary(head: bytes) -> Sniffed | None:
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head.startswith(b"RIFF") and len(head) >= 12:
        # RIFF also wraps AVI and others: only these two forms are allowed.
        return {b"WEBP": WEBP, b"WAVE": WAV}.get(head[8:12])
    if head.startswith(b"%PDF-"):
        # Strictly at offset 0: readers tolerate junk before the header, which is how PDF polyglots are made.
        return PDF
    if head[4:8] == b"ftyp":
        return _sniff_ftyp(head)
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return WEBM if _ebml_doctype(head) == b"webm" else None
    if _is_id3(head) or _is_mp3_frame(head):
        return MP3
    return None


def _is_container(head: bytes) -> bool:
    return head.startswith((b"RIFF", b"\x1a\x45\xdf\xa3")) or head[4:8] == b"ftyp"


def _sniff_ftyp(head: bytes) -> Sniffed | None:
    box_size = int.from_bytes(head[0:4], "big")
    if not 16 <= box_size <= 1024 or box_size % 4 or len(head) < 16:
        # Real ftyp boxes hold a major brand, a minor version and a few 4-byte brands: a few dozen bytes.
        return None
    # The major brand decides; a file whose major brand we do not know may still declare an allowed
    # compatible brand (fragmented MP4 from phones and browsers: major "iso5", compatible "mp41").
    brands = [head[8:12]] + [head[i : i + 4] for i in range(16, min(box_size, len(head)) - 3, 4)]
    for brand in brands:
        if brand in _FTYP_BRANDS:
            return _FTYP_BRANDS[brand]
    return None


def _read_vint(data: bytes, pos: int, *, keep_marker: bool) -> tuple[int, int] | None:
    """An EBML variable-length integer at `pos`: (value, next position), or None when malformed."""
    if pos >= len(data) or data[pos] == 0:
        return None
    first = data[pos]
    length = 8 - first.bit_length() + 1
    if pos + length > len(data):
        return None
    value = first if keep_marker else first & (0xFF >> length)
    for byte in data[pos + 1 : pos + length]:
        value = (value << 8) | byte
    return value, pos + length


def _ebml_doctype(head: bytes) -> bytes | None:
    """The DocType string of the EBML header ("webm", "matroska"), or None."""
    header_size = _read_vint(head, 4, keep_marker=False)
    if header_size is None:
        return None
    size, pos = header_size
    end = min(pos + size, len(head))
    while pos < end:
        element_id = _read_vint(head, pos, keep_marker=True)
        if element_id is None:
            return None
        element_size = _read_vint(head, element_id[1], keep_marker=False)
        if element_size is None:
            return None
        data_start, data_end = element_size[1], element_size[1] + element_size[0]
        if element_id[0] == 0x4282:  # DocType
            return head[data_start:data_end].rstrip(b"\x00")
        pos = data_end
    return None


def _is_id3(head: bytes) -> bool:
    # "ID3", major version 2-4, revision, flags, then a 28-bit "syncsafe" size whose bytes never set bit 7.
    return (
        len(head) >= 10
        and head.startswith(b"ID3")
        and head[3] in (2, 3, 4)
        and head[4] != 0xFF
        and all(b < 0x80 for b in head[6:10])
    )


def _is_mp3_frame(head: bytes) -> bool:
    # MPEG-1/2 layer III frame sync. Two bytes alone are weak evidence, so the third byte must hold a
    # usable bitrate (not "bad") and sample rate (not "reserved").
    if len(head) < 4 or head[:2] not in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return False
    bitrate_index, rate_index = head[2] >> 4, (head[2] >> 2) & 0b11
    return bitrate_index != 0b1111 and rate_index != 0b11


def _decode_text(head: bytes) -> str | None:
    """The head as text (UTF-8, or UTF-16 with a byte-order mark), or None when it is not text."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        codec, body = ("utf-16-le" if head[0] == 0xFF else "utf-16-be"), head[2:]
    else:
        codec, body = "utf-8", head.removeprefix(b"\xef\xbb\xbf")
    # An incremental decoder with final=False keeps a multi-byte sequence (or surrogate pair, or odd
    # byte) cut off by the end of the head instead of calling it invalid; anything invalid before then raises.
    try:
        text = codecs.getincrementaldecoder(codec)("strict").decode(body, final=False)
    except UnicodeDecodeError:
        return None
    if _BINARY_CONTROLS.search(text):
        return None
    return text


def _sniff_text(text: str, *, ends_mid_line: bool, hint: str) -> Sniffed | None:
    stripped = text.lstrip()
    if stripped.startswith("#!"):
        return None  # a script, however harmless its name
    if _is_mhtml(stripped):
        return MHTML
    root = stripped[_PREAMBLE.match(stripped).end() :]
    if _HTML_ROOT.match(root):
        return HTML
    # SVG is XML a browser runs scripts in; other XML (XSLT, XHTML in disguise) is not on the list either.
    if _SVG_TAG.search(text) or stripped.startswith("<?xml"):
        return None
    if stripped.startswith(("{", "[")) and (_parses_as_json(text) or hint.endswith(".json")):
        return JSON
    if hint.endswith(".csv") and _looks_like_csv(text, ends_mid_line=ends_mid_line):
        return CSV
    return TEXT


def _is_mhtml(text: str) -> bool:
    """A MIME message header block (up to the first blank line) with MIME-Version and multipart/related."""
    lines = re.split(r"\r?\n", text)
    header: list[str] = []
    for line in lines[:-1]:  # the last piece may be cut off mid-line by the end of the head
        if not line:
            break
        if line[0] in " \t" and header:
            header[-1] += " " + line.strip()  # folded continuation of the previous field
        elif _HEADER_LINE.match(line):
            header.append(line)
        else:
            return False
    else:
        return False  # no end of header block within the head
    fields = {}
    for line in header:
        name, _, value = line.partition(":")
        fields.setdefault(name.strip().lower(), value.strip().lower())
    return "mime-version" in fields and fields.get("content-type", "").startswith("multipart/related")


def _parses_as_json(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict | list)
    except ValueError:
        return False


def _looks_like_csv(text: str, *, ends_mid_line: bool) -> bool:
    """Every complete record has the same number (two or more) of comma-separated fields."""
    try:
        rows = [row for row in csv.reader(io.StringIO(text)) if row]
    except csv.Error:
        return False
    if ends_mid_line and len(rows) > 1:
        rows = rows[:-1]  # the head cut the last record short
    widths = {len(row) for row in rows}
    return len(widths) == 1 and widths.pop() >= 2
