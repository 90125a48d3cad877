"""Chat exports read as messages, whole and faithfully (no Django).

One reader per common export shape, chosen from the file's own content, never its name:

- ``android`` — a messenger's Android text export, ``12/01/2024, 19:02 - Dave: hi`` (day or month first,
  two- or four-digit years, dots or slashes, 24-hour or am/pm clocks);
- ``ios`` — the iOS text export, ``[12/01/2024, 19:02:11] Dave: hi``;
- ``bracket-time`` — a time-only log, ``[19:02] dave_77: hi``;
- ``csv`` — a table with a sender and a text column, and usually a time (or a date and a time) column;
- ``json`` — a list of message objects, or an object holding one under ``messages`` (Telegram, Facebook
  Messenger and similar exports), read as a stream so a file of any size is read in bounded memory;
- ``lines`` — anything else: every line, numbered, as it is.

In the three text shapes a line that does not start a new message continues the one before it
(multi-line messages), and a line without a sender is a system line ("Messages are end-to-end encrypted").
Each message keeps its date and time exactly as the export writes them; where the export states a time
zone it is kept too. Nothing is cut: a reader yields every message, and the caller decides what to print.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import BinaryIO

Opener = Callable[[], BinaryIO]

SAMPLE_BYTES = 64 * 1024
TEXT_TYPES = frozenset({"text/plain", "text/csv", "application/json"})

_DATE = r"(?P<date>\d{1,4}[./-]\d{1,2}[./-]\d{1,4})"
_TIME = r"(?P<time>\d{1,2}[:.]\d{2}(?:[:.]\d{2})?(?:[\s\u202f\u00a0]?[AaPp]\.?\s?[Mm]\.?)?)"
_SHAPES = {
    "android": re.compile(rf"^{_DATE},?\s{_TIME}\s[-\u2013]\s(?P<rest>.*)$"),
    "ios": re.compile(rf"^\[{_DATE},?\s{_TIME}\]\s(?P<rest>.*)$"),
    "bracket-time": re.compile(rf"^\[{_TIME}\]\s*(?P<rest>.*)$"),
}
_SENDER = re.compile(r"^(?P<sender>[^:\n]{1,80}?):(?:\s(?P<text>.*)|$)", re.DOTALL)
# What messengers write in place of a file that was not exported with the chat, or beside one that was.
_MEDIA = re.compile(
    r"^(?:<media omitted>|<attached: [^>]+>|(?:image|video|audio|sticker|gif|document|contact card) omitted"
    r"|\S+\.\w{2,5} \(file attached\)|<(?:media|image|video|audio) omitted>)",
    re.IGNORECASE,
)
_MARKS = "\u200e\u200f\ufeff"  # direction marks iOS writes before system lines and attachments

LABELS = {
    "android": "an Android messenger text export",
    "ios": "an iOS messenger text export",
    "bracket-time": "a chat log with bracketed times",
    "csv": "a CSV table of messages",
    "json": "a JSON export of messages",
    "lines": "text in a shape the portal does not recognise as a chat export, so every line is printed as it is",
}

SENDER_KEYS = ("sender", "sender_name", "from", "from_name", "author", "user", "username", "name", "sender name")
TEXT_KEYS = ("text", "message", "body", "content", "message text", "msg")
TIME_KEYS = (
    "timestamp",
    "datetime",
    "date_time",
    "date/time",
    "sent_at",
    "sent",
    "created_at",
    "time_sent",
    "timestamp_ms",
    "date_unixtime",
    "date",
    "time",
)
ZONE_KEYS = ("timezone", "time_zone", "time zone", "tz", "utc_offset", "utc offset")
MEDIA_KEYS = (
    "photo",
    "photos",
    "file",
    "files",
    "media",
    "media_type",
    "attachment",
    "attachments",
    "videos",
    "audio_files",
    "sticker",
)


@dataclass(frozen=True, slots=True)
class Message:
    """One message (``kind`` message, system or media) or, for an unrecognised shape, one raw line."""

    number: int  # message N, or line N for a raw line
    line: int  # where it starts in the file: its line (text), row (CSV) or position in the list (JSON)
    when: str = ""  # date and time exactly as the export writes them
    zone: str = ""  # the time zone where the export states one
    sender: str = ""
    text: str = ""
    kind: str = "message"  # message | system | media | line | notice (the portal's own words, not the export's)

    @property
    def label(self) -> str:
        if self.kind == "notice":
            return "note"
        return f"line {self.number}" if self.kind == "line" else f"message {self.number}"


@dataclass
class Survey:
    """What a whole pass over a transcript found: its shape, how many messages, and its date order."""

    shape: str
    messages: int
    date_order: str = ""
    zones: set[str] = field(default_factory=set)

    def as_dict(self) -> dict:
        return {"shape": self.shape, "messages": self.messages, "date_order": self.date_order}


def _text_stream(open_file: Opener, *, newline: str | None = None) -> io.TextIOWrapper:
    return io.TextIOWrapper(open_file(), encoding="utf-8-sig", errors="replace", newline=newline)


def _sample(open_file: Opener) -> str:
    with open_file() as handle:
        data = handle.read(SAMPLE_BYTES)
    return codecs.getincrementaldecoder("utf-8-sig")(errors="replace").decode(data)


def detect_shape(open_file: Opener, mime: str) -> str:
    """Which reader fits the file: from its sniffed type and its first lines."""
    if mime == "application/json":
        return "json" if _json_prefix(open_file) else "lines"
    if mime == "text/csv":
        return "csv" if _csv_columns(_sample(open_file)) else "lines"
    lines = [line.lstrip(_MARKS) for line in _sample(open_file).splitlines()[:200] if line.strip()]
    if not lines:
        return "lines"
    counts = {shape: sum(1 for line in lines if pattern.match(line)) for shape, pattern in _SHAPES.items()}
    shape, count = max(counts.items(), key=lambda item: item[1])
    # A chat export starts most of its lines with a timestamp (multi-line messages are the exception).
    return shape if count and count * 5 >= len(lines) else "lines"


def read_messages(open_file: Opener, mime: str, shape: str | None = None) -> Iterator[Message]:
    """Every message of the transcript, in order, each with its time, sender and whole text."""
    shape = shape or detect_shape(open_file, mime)
    if shape in _SHAPES:
        return _read_text(open_file, _SHAPES[shape])
    if shape == "csv":
        return _read_csv(open_file)
    if shape == "json":
        return _read_json(open_file)
    return _read_lines(open_file)


def survey(open_file: Opener, mime: str) -> Survey:
    """One pass over the whole file: its shape, its message count and (text exports) its date order."""
    shape = detect_shape(open_file, mime)
    found = Survey(shape=shape, messages=0)
    firsts, seconds = set(), set()
    for message in read_messages(open_file, mime, shape):
        if message.kind == "notice":
            continue
        found.messages += 1
        if message.zone:
            found.zones.add(message.zone)
        if shape in ("android", "ios") and message.when:
            parts = re.split(r"[./-]", message.when.split(",")[0].split(" ")[0])
            if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit():
                firsts.add(int(parts[0]))
                seconds.add(int(parts[1]))
                if len(parts[0]) == 4:
                    found.date_order = "year-month-day"
    if shape == "json" and not found.messages:  # JSON, but not a list of messages: print it as it is
        return survey_lines(open_file)
    if shape in ("android", "ios") and not found.date_order:
        if any(n > 12 for n in firsts):
            found.date_order = "day/month/year"
        elif any(n > 12 for n in seconds):
            found.date_order = "month/day/year"
        else:
            found.date_order = "unclear"
    return found


def survey_lines(open_file: Opener) -> Survey:
    with _text_stream(open_file) as stream:
        return Survey(shape="lines", messages=sum(1 for _ in stream))


def describe(survey_: dict) -> str:
    """One sentence for the reader of the bundle: how the transcript was read and what its times mean."""
    shape = survey_.get("shape", "lines")
    sentence = f"Read as {LABELS.get(shape, LABELS['lines'])}."
    if shape in ("android", "ios"):
        order = survey_.get("date_order", "")
        if order == "unclear":
            sentence += (
                " Dates are printed as the export writes them; whether the day or the month comes first cannot"
                " be told from this file (no day in it is after the 12th)."
            )
        elif order:
            sentence += f" Dates are printed as the export writes them ({order})."
        sentence += " The export states no time zone: times are the exporting device's local time."
    elif shape == "bracket-time":
        sentence += (
            " The export gives each message's time of day only, as printed, with no date and no time zone: the"
            " capture date is in the exhibit's details above."
        )
    elif shape in ("csv", "json"):
        sentence += " Dates and times are printed as the export writes them, with the time zone where it states one."
    return sentence


# --- text exports -----------------------------------------------------------------------------------


def _split_sender(rest: str) -> tuple[str, str, str]:
    """(sender, text, kind) of what follows a timestamp; a line with no sender is a system line."""
    match = _SENDER.match(rest)
    if match is None or match["sender"].strip() != match["sender"] or "http" in match["sender"]:
        return "", rest, "system"
    text = match["text"] or ""
    kind = "media" if _MEDIA.match(text.lstrip(_MARKS)) else "message"
    return match["sender"], text, kind


def _read_text(open_file: Opener, pattern: re.Pattern) -> Iterator[Message]:
    number, pending = 0, None
    with _text_stream(open_file) as stream:
        for line_number, raw in enumerate(stream, 1):
            line = raw.rstrip("\r\n")
            match = pattern.match(line.lstrip(_MARKS))
            if match is None:
                if pending is None:  # text before the first message: kept, as a system line
                    number += 1
                    pending = [number, line_number, "", "", line, "system"]
                else:
                    pending[4] += "\n" + line
                continue
            if pending is not None:
                yield _message(pending)
            number += 1
            groups = match.groupdict()
            when = ", ".join(part for part in (groups.get("date"), groups["time"]) if part)
            sender, text, kind = _split_sender(match["rest"])
            pending = [number, line_number, when, sender, text, kind]
    if pending is not None:
        yield _message(pending)


def _message(pending: list) -> Message:
    number, line, when, sender, text, kind = pending
    if kind == "message" and _MEDIA.match(text.lstrip(_MARKS)):
        kind = "media"
    return Message(number=number, line=line, when=when, sender=sender, text=text, kind=kind)


def _read_lines(open_file: Opener) -> Iterator[Message]:
    with _text_stream(open_file) as stream:
        for number, raw in enumerate(stream, 1):
            yield Message(number=number, line=number, text=raw.rstrip("\r\n"), kind="line")


# --- CSV ----------------------------------------------------------------------------------------------


def _pick(keys: Iterable[str], wanted: tuple[str, ...]) -> str | None:
    lowered = {key.strip().lower(): key for key in keys if key is not None}
    return next((lowered[name] for name in wanted if name in lowered), None)


def _csv_columns(sample: str) -> dict | None:
    try:
        header = next(csv.reader(io.StringIO(sample.split("\n", 1)[0])))
    except (StopIteration, csv.Error):
        return None
    sender, text = _pick(header, SENDER_KEYS), _pick(header, TEXT_KEYS)
    if sender is None or text is None:
        return None
    columns = {"sender": sender, "text": text, "zone": _pick(header, ZONE_KEYS)}
    lowered = {h.strip().lower() for h in header}
    if "date" in lowered and "time" in lowered:
        columns["date"], columns["time"] = _pick(header, ("date",)), _pick(header, ("time",))
    else:
        columns["time"] = _pick(header, TIME_KEYS)
    return columns


def _zone_of(when: str) -> str:
    """The offset an ISO 8601 time states (``Z``, ``+01:00``), as ``UTC`` or ``UTC+01:00``."""
    match = re.search(r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2}|UTC|GMT)$", when.strip())
    if not match:
        return ""
    offset = match[1]
    if offset in ("Z", "UTC", "GMT", "+00:00", "+0000", "-00:00"):
        return "UTC"
    return f"UTC{offset[:3]}:{offset[-2:]}"


def _read_csv(open_file: Opener) -> Iterator[Message]:
    with _text_stream(open_file, newline="") as stream:
        reader = csv.DictReader(stream)
        columns = _csv_columns(",".join(f'"{h}"' for h in (reader.fieldnames or [])))
        if columns is None:
            return
        for number, row in enumerate(reader, 1):
            if "date" in columns:
                when = " ".join(v for v in (row.get(columns["date"]) or "", row.get(columns["time"]) or "") if v)
            else:
                when = (row.get(columns["time"]) or "") if columns["time"] else ""
            zone = (row.get(columns["zone"]) or "").strip() if columns["zone"] else ""
            text = row.get(columns["text"]) or ""
            extra = row.get(None)  # more cells than headers: kept, not dropped
            if extra:
                text = ",".join([text, *extra])
            yield Message(
                number=number,
                line=reader.line_num,
                when=when.strip(),
                zone=zone or _zone_of(when),
                sender=(row.get(columns["sender"]) or "").strip(),
                text=text,
                kind="media" if _MEDIA.match(text.strip()) else "message",
            )


# --- JSON ---------------------------------------------------------------------------------------------


def _json_prefix(open_file: Opener) -> str | None:
    """Where the messages are: ``item`` (a list at the top) or ``messages.item``; None if neither."""
    sample = _sample(open_file).lstrip()
    if sample.startswith("["):
        return "item"
    if sample.startswith("{") and re.search(r'"messages"\s*:\s*\[', sample):
        return "messages.item"
    if sample.startswith("{") and len(sample) >= SAMPLE_BYTES - 4:
        return "messages.item"  # the key may come after a long header; the reader finds it or none
    return None


def _flat_text(value) -> str:
    """Telegram writes formatted text as a list of strings and {"type": ..., "text": ...} pieces."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(_flat_text(piece) for piece in value)
    if isinstance(value, dict):
        return _flat_text(value.get("text", ""))
    return str(value)


def _json_time(item: dict) -> tuple[str, str]:
    for key in TIME_KEYS:
        if key not in item or item[key] in (None, ""):
            continue
        value = item[key]
        numeric = isinstance(value, int | float) or (isinstance(value, str) and value.isdigit() and len(value) >= 9)
        if numeric:
            seconds = float(value) / (1000 if key.endswith("_ms") or float(value) > 1e11 else 1)
            at = datetime.fromtimestamp(seconds, UTC)
            return f"{value} ({at:%Y-%m-%d %H:%M:%S} UTC)", "UTC"
        text = str(value)
        return text, _zone_of(text)
    return "", ""


def _json_message(number: int, item) -> Message:
    if not isinstance(item, dict):
        return Message(number=number, line=number, text=_flat_text(item), kind="message")
    sender = next((_flat_text(item[k]) for k in SENDER_KEYS if item.get(k) not in (None, "")), "")
    text = next((_flat_text(item[k]) for k in TEXT_KEYS if item.get(k) not in (None, "", [])), "")
    when, zone = _json_time(item)
    zone = next((str(item[k]) for k in ZONE_KEYS if item.get(k)), zone)
    kind = "message"
    media = [key for key in MEDIA_KEYS if item.get(key)]
    if item.get("type") == "service" or (not sender and item.get("action")):
        kind, sender = "system", _flat_text(item.get("actor", ""))
        text = text or " ".join(str(item[k]) for k in ("action", "title") if item.get(k))
    elif media:
        kind = "media"
        described = "; ".join(
            f"{key}: {_flat_text(item[key]) if not isinstance(item[key], list) else len(item[key])}" for key in media
        )
        text = f"{text}\n[{described}]" if text else f"[{described}]"
    return Message(number=number, line=number, when=when, zone=zone, sender=sender, text=text, kind=kind)


def _read_json(open_file: Opener) -> Iterator[Message]:
    import ijson

    prefix = _json_prefix(open_file) or "item"
    with open_file() as handle:
        items = ijson.items(handle, prefix, use_float=True)
        number = 0
        try:
            for number, item in enumerate(items, 1):
                yield _json_message(number, item)
        except ijson.JSONError as error:
            yield Message(
                number=number,
                line=number,
                text=f"The file is not valid JSON after message {number} ({error}): what follows is not printed"
                " here and is in the native file.",
                kind="notice",
            )


def first(messages: Iterable[Message], count: int) -> list[Message]:
    return list(itertools.islice(messages, count))
