"""Every export shape is read whole: each message with its time as the export writes it, its sender, its
whole text and its kind; an unknown shape falls back to numbered lines, never to a character cap."""

import io
import json

import pytest

from evidence.transcripts import describe, detect_shape, read_messages, survey
from tests import transcript_samples as samples


def opener(data: bytes):
    return lambda: io.BytesIO(data)


def read(data: bytes, mime: str = "text/plain"):
    return list(read_messages(opener(data), mime))


CASES = {
    "android day first, 24-hour": ("android", lambda n: samples.android(n), "day/month/year"),
    "android month first, am/pm": (
        "android",
        lambda n: samples.android(n, day_first=False, clock24=False),
        "month/day/year",
    ),
    "ios day first": ("ios", lambda n: samples.ios(n), "day/month/year"),
    "ios month first": ("ios", lambda n: samples.ios(n, day_first=False), "month/day/year"),
    "bracket time": ("bracket-time", samples.bracket_time, ""),
    "csv": ("csv", samples.csv_export, ""),
    "json": ("json", samples.json_export, ""),
    "plain text": ("lines", samples.plain_text, ""),
}


@pytest.mark.parametrize("case", CASES)
def test_each_shape_gives_every_message_with_its_time_sender_and_whole_text(case):
    shape, generate, order = CASES[case]
    data, expected = generate(3000)
    mime = samples.MIME.get(shape, "text/plain")
    assert detect_shape(opener(data), mime) == shape
    found = read(data, mime)
    assert len(found) == len(expected) == 3000
    for number, (message, wanted) in enumerate(zip(found, expected, strict=True), 1):
        got = (message.when, message.sender, message.text, message.kind, message.zone)
        assert got == (wanted.when, wanted.sender, wanted.text, wanted.kind, wanted.zone), f"message {number}"
        assert message.number == number
        assert message.label == (f"line {number}" if shape == "lines" else f"message {number}")
    assert survey(opener(data), mime).as_dict() == {"shape": shape, "messages": 3000, "date_order": order}


def test_a_multi_line_message_keeps_every_line_and_a_system_line_has_no_sender():
    data = (
        b"13/01/2024, 19:02 - Messages and calls are end-to-end encrypted.\n"
        b"13/01/2024, 19:03 - dave_77: first line\n"
        b"second: line\n"
        b"\n"
        b"fourth line\n"
        b"13/01/2024, 19:04 - dave_77 changed this group's icon\n"
    )
    system, message, icon = read(data)
    assert (system.sender, system.kind) == ("", "system")
    assert message.text == "first line\nsecond: line\n\nfourth line"
    assert (icon.when, icon.kind, icon.text) == ("13/01/2024, 19:04", "system", "dave_77 changed this group's icon")


def test_other_date_shapes_of_android_exports_are_read():
    data = b"13.01.24, 19:02 - Dave: hallo\n2024-01-13, 19:03 - Dave: hi\n"
    assert [(m.when, m.text) for m in read(data)] == [("13.01.24, 19:02", "hallo"), ("2024-01-13, 19:03", "hi")]


def test_an_ambiguous_date_order_is_said_to_be_unclear():
    data, _ = samples.android(3)
    data = data.replace(b"13/01/2024", b"12/01/2024")
    found = survey(opener(data), "text/plain").as_dict()
    assert found["date_order"] == "unclear"
    assert "cannot be told from this file" in describe(found)


def test_an_unknown_shape_prints_every_line_of_any_length():
    line = "x" * 30_000
    data = ("free notes\n" + line + "\n" * 600 + "end\n").encode()
    found = read(data)
    assert len(found) == 602  # the line, 599 empty lines, "end"
    assert found[1].text == line and found[-1].text == "end"
    assert {m.kind for m in found} == {"line"}


def test_csv_with_separate_date_and_time_columns_and_extra_cells():
    data = b'date,time,from,text\n13/01/2024,19:02,dave,"a, b"\n13/01/2024,19:03,dave,c,d\n'
    first, second = read(data, "text/csv")
    assert (first.when, first.sender, first.text) == ("13/01/2024 19:02", "dave", "a, b")
    assert second.text == "c,d"


def test_json_lists_epoch_times_and_states_utc():
    data = json.dumps(
        [
            {"sender_name": "Dave", "timestamp_ms": 1705172531000, "content": "hi"},
            {"sender_name": "Amy", "timestamp_ms": 1705172532000, "photos": [{"uri": "a.jpg"}]},
        ]
    ).encode()
    first, second = read(data, "application/json")
    assert (first.when, first.zone, first.sender) == ("1705172531000 (2024-01-13 19:02:11 UTC)", "UTC", "Dave")
    assert (second.kind, second.text) == ("media", "[photos: 1]")


def test_json_that_is_not_a_list_of_messages_is_printed_line_by_line():
    data = json.dumps({"case": "x", "items": [1, 2, 3]}, indent=1).encode()
    assert survey(opener(data), "application/json").as_dict()["shape"] == "lines"


def test_broken_json_keeps_what_was_read_and_says_where_it_stopped():
    data = b'[{"from": "a", "text": "one"}, {"from": "b", "text": "two"}, {"from": '
    found = read(data, "application/json")
    assert [m.text for m in found[:2]] == ["one", "two"]
    assert found[-1].kind == "notice" and "not valid JSON after message 2" in found[-1].text
    assert survey(opener(data), "application/json").messages == 2


def test_a_byte_order_mark_and_invalid_utf8_do_not_hide_messages():
    data = b"\xef\xbb\xbf[19:02] dave: caf\xe9\n[19:03] amy: ok\n"
    first, second = read(data)
    assert (first.sender, first.text) == ("dave", "caf\ufffd")
    assert second.when == "19:03"


def test_a_time_only_log_says_it_has_no_dates():
    data, _ = samples.bracket_time(3)
    assert "time of day only, as printed, with no date and no time zone" in describe(
        survey(opener(data), "text/plain").as_dict()
    )
