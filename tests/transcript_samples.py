"""Realistic chat exports of every shape the bundle reads, generated with what each should print.

Each generator returns the file's bytes and the messages a faithful reader must find in it: their date
and time as the export writes them, sender, whole text and kind. The texts mix what real chats hold:
multi-line messages, system lines, media placeholders, a 3,000-character URL (once), emoji and Arabic, Hebrew,
Cyrillic and Chinese, so one sample checks parsing, wrapping and glyph coverage together.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

START = datetime(2024, 1, 13, 19, 2, 11)  # the 13th: a day-first date cannot be read month-first
LONG_URL = "https://example.org/share?" + "&".join(f"k{n}=v{n:04d}" for n in range(330))[:2970] + "#end"
TEXTS = [
    "hi, how was school today?",
    "I'm on the bus 🚌 home 😀",
    "مرحبا كيف حالك",
    "שלום, מה שלומך?",
    "Привет, как дела?",
    "你好，你在哪里？",  # noqa: RUF001 (Chinese punctuation, as a Chinese chat writes it)
    "line one of three\nline two: with a colon\nline three",
    "ok 👍🏽",
]


@dataclass(frozen=True)
class Expected:
    when: str
    sender: str
    text: str
    kind: str = "message"
    zone: str = ""


def _people(n: int) -> str:
    return ("dave_77", "Amy (decoy)")[n % 2]


def _text(n: int) -> str:
    if n == 6:  # once in each export, as in a real chat
        return f"see this {LONG_URL} #{n}"
    return f"{TEXTS[n % len(TEXTS)]} #{n}"


def android(count: int, *, day_first: bool = True, clock24: bool = True) -> tuple[bytes, list[Expected]]:
    """`13/01/2024, 19:02 - dave_77: hi`: system lines, media placeholders and multi-line messages."""
    lines, expected = [], []
    for n in range(count):
        at = START + timedelta(minutes=n)
        date = f"{at:%d/%m/%Y}" if day_first else f"{at.month}/{at.day}/{at:%y}"
        time = f"{at:%H:%M}" if clock24 else at.strftime("%I:%M\u202f%p").lstrip("0")
        when = f"{date}, {time}"
        if n == 0:
            text = "Messages and calls are end-to-end encrypted. No one outside of this chat can read them."
            lines.append(f"{when} - {text}")
            expected.append(Expected(when, "", text, "system"))
        elif n % 50 == 7:
            lines.append(f"{when} - {_people(n)}: <Media omitted>")
            expected.append(Expected(when, _people(n), "<Media omitted>", "media"))
        else:
            text = _text(n)
            lines.append(f"{when} - {_people(n)}: {text}")
            expected.append(Expected(when, _people(n), text))
    return ("\n".join(lines) + "\n").encode(), expected


def ios(count: int, *, day_first: bool = True) -> tuple[bytes, list[Expected]]:
    """`[13/01/2024, 19:02:11] dave_77: hi`, with the direction marks iOS writes before attachments."""
    lines, expected = [], []
    for n in range(count):
        at = START + timedelta(seconds=37 * n)
        date = f"{at:%d/%m/%Y}" if day_first else f"{at.month}/{at.day}/{at:%y}"
        when = f"{date}, {at:%H:%M:%S}"
        if n == 0:
            text = "\u200eMessages and calls are end-to-end encrypted."
            lines.append(f"[{when}] Chat with dave_77: {text}")
            expected.append(Expected(when, "Chat with dave_77", text))
        elif n % 40 == 5:
            text = f"\u200e<attached: {n:08d}-PHOTO-2024-01-13-19-02-11.jpg>"
            lines.append(f"\u200e[{when}] {_people(n)}: {text}")
            expected.append(Expected(when, _people(n), text, "media"))
        else:
            text = _text(n)
            lines.append(f"[{when}] {_people(n)}: {text}")
            expected.append(Expected(when, _people(n), text))
    return ("\r\n".join(lines) + "\r\n").encode(), expected


def bracket_time(count: int) -> tuple[bytes, list[Expected]]:
    """`[19:02] dave_77: hi`: a time-only log."""
    lines, expected = [], []
    for n in range(count):
        at = START + timedelta(minutes=n)
        text = _text(n)
        lines.append(f"[{at:%H:%M}] {_people(n)}: {text}")
        expected.append(Expected(f"{at:%H:%M}", _people(n), text))
    return ("\n".join(lines) + "\n").encode(), expected


def csv_export(count: int) -> tuple[bytes, list[Expected]]:
    """Timestamp with its offset, sender, message; quoted multi-line cells."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Timestamp", "Sender", "Message"])
    expected = []
    for n in range(count):
        when = (START + timedelta(seconds=61 * n)).replace(tzinfo=UTC).isoformat()
        text = _text(n)
        writer.writerow([when, _people(n), text])
        expected.append(Expected(when, _people(n), text, zone="UTC"))
    return out.getvalue().encode(), expected


def json_export(count: int) -> tuple[bytes, list[Expected]]:
    """A Telegram-style export: {"messages": [...]} with formatted text pieces, photos and service lines."""
    messages, expected = [], []
    for n in range(count):
        at = START + timedelta(seconds=53 * n)
        when = at.isoformat()
        if n == 0:
            messages.append({"id": n, "type": "service", "date": when, "actor": "dave_77", "action": "create_group"})
            expected.append(Expected(when, "dave_77", "create_group", "system"))
        elif n % 30 == 3:
            messages.append(
                {"id": n, "type": "message", "date": when, "from": _people(n), "photo": "photos/p.jpg", "text": ""}
            )
            expected.append(Expected(when, _people(n), "[photo: photos/p.jpg]", "media"))
        else:
            text = _text(n)
            pieces = [text[:5], {"type": "bold", "text": text[5:]}] if n % 3 == 0 else text
            messages.append({"id": n, "type": "message", "date": when, "from": _people(n), "text": pieces})
            expected.append(Expected(when, _people(n), text))
    data = {"name": "dave_77", "type": "personal_chat", "id": 4242, "messages": messages}
    return json.dumps(data, ensure_ascii=False, indent=1).encode(), expected


def plain_text(count: int) -> tuple[bytes, list[Expected]]:
    """Notes in no chat shape: every line is printed as a numbered line."""
    lines = [f"Observation {n}: {TEXTS[n % len(TEXTS)].splitlines()[0]}" for n in range(count)]
    return ("\n".join(lines) + "\n").encode(), [Expected("", "", line, "line") for line in lines]


SHAPES = {
    "android": android,
    "ios": ios,
    "bracket-time": bracket_time,
    "csv": csv_export,
    "json": json_export,
    "lines": plain_text,
}
MIME = {"csv": "text/csv", "json": "application/json"}
