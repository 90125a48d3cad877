"""evidence.sniff: every allowed type is known by its bytes, and nothing else gets in, whatever its name."""

import json
import struct

import pytest

from evidence.sniff import HEAD_BYTES, Sniffed, sniff

PADDING = bytes(range(256)) * 20  # binary filler after a header, so the head is as long as a real one


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    brands = major + b"\x00\x00\x02\x00" + b"".join(compatible)
    return struct.pack(">I", 8 + len(brands)) + b"ftyp" + brands


def ebml_header(doctype: bytes) -> bytes:
    # EBMLVersion 1, then DocType; sizes are one-byte vints (0x80 | size).
    body = b"\x42\x86\x81\x01" + b"\x42\x82" + bytes([0x80 | len(doctype)]) + doctype
    return b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(body)]) + body


def riff(form: bytes) -> bytes:
    return b"RIFF" + struct.pack("<I", 4 + len(PADDING)) + form


ALLOWED = {
    "jpeg": (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + PADDING, "image/jpeg", "image"),
    "png": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + PADDING, "image/png", "image"),
    "gif87": (b"GIF87a" + PADDING, "image/gif", "image"),
    "gif89": (b"GIF89a" + PADDING, "image/gif", "image"),
    "webp": (riff(b"WEBP") + b"VP8 " + PADDING, "image/webp", "image"),
    "heic": (ftyp(b"heic", b"mif1", b"heic") + PADDING, "image/heic", "image"),
    "heix": (ftyp(b"heix", b"mif1") + PADDING, "image/heic", "image"),
    "heif": (ftyp(b"mif1", b"mif1") + PADDING, "image/heif", "image"),
    "pdf": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + PADDING, "application/pdf", "pdf"),
    "mp4 isom": (ftyp(b"isom", b"isom", b"iso2", b"avc1", b"mp41") + PADDING, "video/mp4", "video"),
    "mp4 mp41": (ftyp(b"mp41") + PADDING, "video/mp4", "video"),
    "mp4 mp42": (ftyp(b"mp42", b"isom") + PADDING, "video/mp4", "video"),
    "mp4 avc1": (ftyp(b"avc1") + PADDING, "video/mp4", "video"),
    "m4v": (ftyp(b"M4V ", b"M4V ", b"mp42") + PADDING, "video/mp4", "video"),
    "fragmented mp4": (ftyp(b"iso5", b"iso5", b"iso6", b"mp41") + PADDING, "video/mp4", "video"),
    "webm": (ebml_header(b"webm") + PADDING, "video/webm", "video"),
    "wav": (riff(b"WAVE") + b"fmt " + PADDING, "audio/wav", "audio"),
    "mp3 id3": (b"ID3\x04\x00\x00\x00\x00\x01\x00" + PADDING, "audio/mpeg", "audio"),
    "mp3 frame fffb": (b"\xff\xfb\x90\x64" + PADDING, "audio/mpeg", "audio"),
    "mp3 frame fff3": (b"\xff\xf3\x48\xc4" + PADDING, "audio/mpeg", "audio"),
    "mp3 frame fff2": (b"\xff\xf2\x48\xc4" + PADDING, "audio/mpeg", "audio"),
}


@pytest.mark.parametrize(("head", "mime", "kind"), ALLOWED.values(), ids=ALLOWED.keys())
def test_each_allowed_binary_type_is_known_by_its_bytes(head, mime, kind):
    found = sniff(head)
    assert found is not None
    assert (found.mime, found.kind) == (mime, kind)
    assert found.label  # something a person can read


@pytest.mark.parametrize(("head", "mime", "kind"), ALLOWED.values(), ids=ALLOWED.keys())
def test_the_name_does_not_change_a_binary_verdict(head, mime, kind):
    assert sniff(head, name_hint="notes.txt") == sniff(head, name_hint="data.csv") == sniff(head)


def test_plain_text_in_utf8_with_and_without_a_bom():
    statement = b"Statement of Jane Doe\r\nI saw the van at 21:40.\n"
    assert sniff(statement) == Sniffed("text/plain", "text", "Plain text")
    assert sniff(b"\xef\xbb\xbfCaf\xc3\xa9 receipt\n").mime == "text/plain"


def test_utf16_text_needs_its_bom():
    assert sniff("\ufeffWitness notes: café\n".encode("utf-16-le")).mime == "text/plain"
    assert sniff("\ufeffWitness notes\n".encode("utf-16-be")).mime == "text/plain"
    # Without a BOM, UTF-16 ASCII is full of NUL bytes: refused.
    assert sniff("Witness notes\n".encode("utf-16-le")) is None


def test_a_multibyte_character_cut_by_the_end_of_the_head_is_still_text():
    text = ("é" * HEAD_BYTES).encode()  # two bytes per character
    assert sniff(text[: HEAD_BYTES + 1]).mime == "text/plain"  # ends on half a character


def test_invalid_utf8_in_the_middle_is_not_text():
    assert sniff(b"abc \xff\xfe def\n" * 10) is None


def test_nul_bytes_make_text_binary_whatever_the_name():
    assert sniff(b"looks like text\x00but is not\n", name_hint="notes.txt") is None
    assert sniff(b"a,b\n1,2\x00\n", name_hint="table.csv") is None


def test_other_control_characters_make_text_binary():
    assert sniff(b"PK\x03\x04 almost text\n") is None
    assert sniff(b"tab\tand ansi \x1b[1mbold\x1b[0m\n").mime == "text/plain"


def test_json_when_it_parses_whatever_the_name():
    doc = json.dumps({"exhibit": "JD/1", "items": [1, 2, 3]}).encode()
    assert sniff(doc).mime == "application/json"
    assert sniff(b"  \n[1, 2, 3]").mime == "application/json"


def test_cut_off_json_needs_the_json_name_to_be_called_json():
    head = b'{"messages": [' + b'{"from": "a", "text": "hello"},' * 200
    assert sniff(head).mime == "text/plain"
    assert sniff(head, name_hint="chat.JSON").mime == "application/json"


def test_a_bare_scalar_is_not_called_json():
    assert sniff(b"42\n").mime == "text/plain"


def test_html_by_its_start_case_insensitive():
    assert sniff(b"\n  <!DOCTYPE html>\n<html><body>hi</body></html>").mime == "text/html"
    assert sniff(b"<HTML lang='en'><body>hi</body></HTML>").mime == "text/html"
    assert sniff(b"\xef\xbb\xbf<!doctype html><p>saved page").mime == "text/html"


def test_html_after_a_saved_from_comment_or_xml_declaration():
    assert sniff(b"<!-- saved from url=(0014)about:internet -->\n<html><body>").mime == "text/html"
    xhtml = b'<?xml version="1.0"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "x">\n<html>'
    assert sniff(xhtml).mime == "text/html"


def test_text_that_mentions_html_later_is_plain_text():
    assert sniff(b"The page said <html> somewhere\n").mime == "text/plain"


def test_mhtml_by_its_mime_headers():
    mhtml = (
        b"From: <Saved by Blink>\r\n"
        b"Snapshot-Content-Location: https://example.org/\r\n"
        b"Subject: Example\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: multipart/related;\r\n"
        b'\ttype="text/html";\r\n'
        b'\tboundary="----MultipartBoundary--abc"\r\n'
        b"\r\n"
        b"------MultipartBoundary--abc\r\n"
        b"Content-Type: text/html\r\n"
    )
    found = sniff(mhtml)
    assert (found.mime, found.kind) == ("multipart/related", "text")


def test_an_email_that_is_not_multipart_related_is_plain_text():
    assert sniff(b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nHello\r\n").mime == "text/plain"


def test_csv_needs_the_name_and_consistent_commas():
    table = b'time,place,note\n21:40,"High St, north",van\n21:45,Market Sq,car\n'
    assert sniff(table, name_hint="log.csv") == Sniffed("text/csv", "text", "CSV data")
    assert sniff(table, name_hint="log.txt").mime == "text/plain"
    assert sniff(table).mime == "text/plain"
    ragged = b"a,b,c\n1,2\n3,4,5,6\n"
    assert sniff(ragged, name_hint="log.csv").mime == "text/plain"
    assert sniff(b"no commas\nat all\n", name_hint="log.csv").mime == "text/plain"


def test_csv_whose_last_row_is_cut_by_the_head():
    head = b"a,b,c\n" + b"1,2,3\n" * 100 + b"4,5"
    assert sniff(head, name_hint="big.csv").mime == "text/csv"


@pytest.mark.parametrize(
    ("head", "name"),
    [
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + PADDING, "photo.jpg"),
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + PADDING, "statement.txt"),
        (b"\x7fELF\x02\x01\x01\x00" + PADDING, "clip.mp4"),
        (b"PK\x03\x04\x14\x00\x06\x00" + PADDING, "report.pdf"),  # ZIP, DOCX, XLSX alike
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + PADDING, "old.doc"),  # legacy Office
        (riff(b"AVI ") + b"LIST" + PADDING, "film.mp4"),
        (ebml_header(b"matroska") + PADDING, "film.webm"),
        (ftyp(b"qt  ", b"qt  ") + PADDING, "clip.mp4"),
        (b"\x00\x00\x00\x00" + PADDING, "blank.csv"),
    ],
    ids=["exe as jpg", "exe as txt", "elf", "zip", "ole2", "avi", "matroska", "quicktime", "zeros"],
)
def test_refused_binaries_stay_refused_whatever_their_name(head, name):
    assert sniff(head, name_hint=name) is None


@pytest.mark.parametrize(
    "head",
    [
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        b'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" onload="x()"/>',
        b'<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x">\n<svg/>',
        b"<!-- drawn by hand -->\n<SVG\nwidth='10'></SVG>",
        b'<?xml version="1.0"?>\n<?xml-stylesheet href="x.xsl"?><data/>',
    ],
    ids=["svg", "svg with prolog", "svg doctype", "svg after comment", "other xml"],
)
def test_svg_and_other_xml_are_refused(head):
    assert sniff(head, name_hint="picture.png") is None
    assert sniff(head, name_hint="notes.txt") is None


def test_html_with_inline_svg_is_still_html():
    assert sniff(b"<!doctype html><body><svg width='1'></svg></body>").mime == "text/html"


def test_scripts_are_refused():
    assert sniff(b"#!/bin/sh\nrm -rf /\n", name_hint="notes.txt") is None
    assert sniff(b"#!/usr/bin/env python3\nprint(1)\n") is None


def test_nothing_is_not_a_type():
    assert sniff(b"") is None
    assert sniff(b"\xef\xbb\xbf") is None
    assert sniff(b"\xe2\x82") is None  # only half a character


def test_truncated_headers_are_refused_not_guessed():
    assert sniff(b"\xff\xfb") is None  # too short to check an MP3 frame header
    assert sniff(b"\xff\xfb\xf0\x00" + PADDING) is None  # "bad" bitrate index
    assert sniff(b"\x00\x00\x00\x08ftyp") is None  # ftyp box too small for a brand
    assert sniff(b"\x1a\x45\xdf\xa3") is None  # EBML magic and nothing else


def test_a_missing_name_is_no_name():
    assert sniff(b"plain words\n", name_hint=None).mime == "text/plain"


def test_the_name_hint_cannot_rescue_a_binary():
    exe = b"MZ\x90\x00" + PADDING
    for name in ("photo.jpg", "clip.mp4", "table.csv", "data.json", "page.html", "statement.txt", ""):
        assert sniff(exe, name_hint=name) is None
