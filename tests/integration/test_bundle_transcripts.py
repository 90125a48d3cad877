"""Transcripts in a built bundle, as a court reads them: every message of every export shape, with its
time, in order; nothing left out without saying so; long text inside the margin; no empty boxes."""

import io
import re

import pikepdf
import pytest
from django.core.files.storage import default_storage
from pypdf import PdfReader

from evidence import bundles
from evidence.bundles import render
from evidence.statements import statement_save_draft, statement_sign
from evidence.verify import verify
from tests import transcript_samples as samples
from tests.integration.bundle_helpers import sign_schedules
from tests.integration.test_bundles import _exhibit, signing_key  # noqa: F401 (fixture)
from tests.pdf_glyphs import body_text, notdef_glyphs

COUNT = 120
SHAPES = {
    "android": lambda: samples.android(COUNT),
    "android-us": lambda: samples.android(COUNT, day_first=False, clock24=False),
    "ios": lambda: samples.ios(COUNT),
    "ios-us": lambda: samples.ios(COUNT, day_first=False),
    "bracket-time": lambda: samples.bracket_time(COUNT),
    "csv": lambda: samples.csv_export(COUNT),
    "json": lambda: samples.json_export(COUNT),
    "lines": lambda: samples.plain_text(COUNT),
}
RTL_OR_JOINED = re.compile(r"[\u0590-\u06ff]")  # text extraction reorders right-to-left runs


def _mime(shape: str) -> str:
    return samples.MIME.get(shape, "text/plain")


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.fixture
def transcripts(assigned_vera, tasking, owen, tmp_path, settings):
    """One exhibit of each export shape, COUNT messages each, in chunks of 40 messages."""
    from evidence import services

    settings.PORTAL_BUNDLE_CHUNK_PAGES = 2  # 40 messages a chunk: each transcript is rendered in three runs
    user = assigned_vera.user
    made = {}
    for shape, generate in SHAPES.items():
        data, expected = generate()
        base = shape.split("-")[0]
        exhibit = _exhibit(user, tasking, tmp_path, f"{shape}.txt", data, _mime(base))
        services.exhibit_review(exhibit=exhibit, decision="accepted", reason="", by=owen)
        made[shape] = (exhibit, expected)
    statement = statement_save_draft(tasking=tasking, author=user, body="I produce them.", exhibit_ids=[])
    statement_sign(statement=statement, by=user)
    return made


@pytest.fixture
def built(transcripts, tasking, owen, signing_key):  # noqa: F811
    sign_schedules(tasking, owen)
    bundle = bundles.bundle_build(bundles.bundle_request(tasking=tasking, by=owen))
    with default_storage.open(bundle.pdf_name, "rb") as handle:
        return bundle, handle.read()


def _expected_line(number: int, message, shape: str) -> str:
    label = "line" if shape == "lines" else "message"
    meta = f"{label} {number}"
    if message.when:
        meta += f" · {message.when}" + (f" {message.zone}" if message.zone else "")
    if message.kind == "system":
        meta += " · system message"
    elif message.kind == "media":
        meta += " · media"
    sender = f"{message.sender}:" if message.sender else ""
    return _squeeze(f"{meta} {sender} {message.text}".replace("\u200e", ""))


def test_a_bundle_of_every_export_shape(built, transcripts):
    """One build, checked as a court would read it (each check below says what it proves)."""
    every_message_of_every_shape_is_printed_in_order_with_its_time(built, transcripts)
    long_transcripts_are_cut_into_runs_so_no_chunk_holds_more_than_its_pages(built, transcripts)
    the_index_lists_a_transcript_cut_into_runs_once(built, transcripts)
    no_character_is_drawn_as_an_empty_box(built, transcripts)
    a_3000_character_url_wraps_inside_the_margin(built, transcripts)
    natives_keep_the_extension_of_their_type(built, transcripts)


def every_message_of_every_shape_is_printed_in_order_with_its_time(built, transcripts):
    bundle, pdf = built
    assert verify(pdf, _cert()).ok
    pages = PdfReader(io.BytesIO(pdf)).pages
    text = body_text(pages, reference=bundle.tasking.reference, urn=bundle.manifest["urn"], version=1)
    text = text.replace("\u200e", "")
    for shape, (exhibit, expected) in transcripts.items():
        position = text.index(_squeeze(f"{exhibit.reference}"))
        for number, message in enumerate(expected, 1):
            wanted = _expected_line(number, message, shape)
            if rtl := RTL_OR_JOINED.search(wanted):  # up to the right-to-left text; its glyphs are checked below
                wanted = wanted[: rtl.start()]
            found = text.find(wanted, position)
            assert found != -1, f"{shape} {exhibit.reference}: message {number} missing: {wanted[:120]}"
            position = found + len(wanted)
        assert f"{COUNT}{'lines' if shape == 'lines' else 'messages'}inall" in text


def long_transcripts_are_cut_into_runs_so_no_chunk_holds_more_than_its_pages(built, transcripts):
    bundle, _pdf = built
    runs = [c for c in bundle.plan["chunks"] if c["kind"] == "exhibits"]
    for exhibit, _ in transcripts.values():
        mine = [c["ranges"][c["exhibits"].index(exhibit.pk)] for c in runs if exhibit.pk in c["exhibits"]]
        assert mine == [[0, 40], [40, 80], [80, 120]]


def the_index_lists_a_transcript_cut_into_runs_once(built, transcripts):
    _bundle, pdf = built
    pages = PdfReader(io.BytesIO(pdf)).pages
    index = "\n".join(page.extract_text() for page in pages[1:3])
    for exhibit, _ in transcripts.values():
        assert index.count(f"{exhibit.reference} — ") == 1, exhibit.reference


def no_character_is_drawn_as_an_empty_box(built, transcripts):
    """Emoji, Arabic, Hebrew, Cyrillic and Chinese all have a real glyph: the prerequisites install fonts
    that cover them, and a character no font covers would be drawn with glyph 0."""
    _bundle, pdf = built
    with pikepdf.open(io.BytesIO(pdf)) as document:
        assert notdef_glyphs(document) == []


def test_the_glyph_check_catches_an_uncovered_character():
    from weasyprint import HTML

    pdf = HTML(string="<p lang=en>covered, then not: \U0010fffd</p>").write_pdf()
    with pikepdf.open(io.BytesIO(pdf)) as document:
        assert len(notdef_glyphs(document)) == 1


def a_3000_character_url_wraps_inside_the_margin(built, transcripts):
    bundle, _pdf = built
    plan = bundle.plan
    exhibit = transcripts["bracket-time"][0]
    chunk = next(c for c in plan["chunks"] if c["kind"] == "exhibits" and exhibit.pk in c["exhibits"])
    document = render.html(bundle, render._chunk_body(bundle, plan, chunk)).render()
    widest, text = 0.0, ""
    for page in document.pages:
        box = page._page_box
        right = box.content_box_x() + box.width
        for line in _lines(box):
            if line.position_x + line.width > right + 0.5:
                widest = max(widest, line.position_x + line.width - right)
            text += "".join(getattr(child, "text", "") for child in _leaves(line))
    assert widest == 0.0, f"a line runs {widest:.1f}px past the right margin"
    assert "see this https://example.org/share?k0=v0000" in text and samples.LONG_URL[-20:] in text  # it was laid out


def _lines(box):
    from weasyprint.formatting_structure.boxes import LineBox

    for child in getattr(box, "children", []):
        if isinstance(child, LineBox):
            yield child
        else:
            yield from _lines(child)


def _leaves(box):
    children = getattr(box, "children", None)
    if not children:
        yield box
        return
    for child in children:
        yield from _leaves(child)


def test_past_the_ceiling_the_page_names_the_messages_not_printed_and_where_they_are(
    assigned_vera,
    tasking,
    owen,
    tmp_path,
    settings,
    signing_key,  # noqa: F811
):
    from evidence import services

    settings.PORTAL_BUNDLE_TRANSCRIPT_MAX_MESSAGES = 100
    data, expected = samples.bracket_time(250)
    exhibit = _exhibit(assigned_vera.user, tasking, tmp_path, "long.txt", data, "text/plain")
    services.exhibit_review(exhibit=exhibit, decision="accepted", reason="", by=owen)
    statement = statement_save_draft(tasking=tasking, author=assigned_vera.user, body="I produce it.", exhibit_ids=[])
    statement_sign(statement=statement, by=assigned_vera.user)
    sign_schedules(tasking, owen)
    bundle = bundles.bundle_build(bundles.bundle_request(tasking=tasking, by=owen))
    with default_storage.open(bundle.pdf_name, "rb") as handle:
        text = " ".join("".join(p.extract_text() for p in PdfReader(handle).pages).split())
    assert "message 100 · " + expected[99].when in text
    assert "message 101 · " not in text
    name = f"{exhibit.reference.replace('/', '_')}.txt"
    notice = (
        f"Messages 101 to 250 of {exhibit.reference} are not printed in this PDF: a transcript prints at most "
        f"100 messages. They are in the native file {name}, embedded in this file, SHA-256 {exhibit.sha256}."
    )
    assert notice in text


def natives_keep_the_extension_of_their_type(built, transcripts):
    bundle, pdf = built
    names = {entry["reference"]: entry["name"] for entry in bundle.plan["files"] if entry.get("reference")}
    for shape, (exhibit, _) in transcripts.items():
        extension = {"csv": ".csv", "json": ".json"}.get(shape, ".txt")
        assert names[exhibit.reference] == exhibit.reference.replace("/", "_") + extension
    with pikepdf.open(io.BytesIO(pdf)) as document:
        assert set(names.values()) <= set(document.attachments)


def _cert():
    from django.conf import settings

    return settings.PORTAL_SIGNING_CERT_PATH
