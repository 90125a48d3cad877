"""Decoy conduct guard (no Django): flag decoy-side messages that may instigate (Looseley).

An aid for the reviewing officer, never a block: it reads a copy of a chat export's text and returns
the matched lines; the exhibit itself is never altered.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from portal.text import without_unstorable

# Proposing to meet, and initiating sexual content: the two things a decoy must never do.
DEFAULT_PATTERNS = [
    r"\b(meet|meeting) (up|me|you)\b",
    r"\bwant to meet\b",
    r"\bwhere (do|d) (you|u) live\b",
    r"\bcome (over|round) to\b",
    r"\b(send|show) (me )?(a )?(pic|pics|photo|photos|picture|nudes?)\b",
    r"\b(sexy|naked|nude|horny)\b",
    r"\bhave (you|u) ever (had|done|kissed)\b",
    r"\bwhat are (you|u) wearing\b",
]

_LINE = re.compile(
    r"^\s*(?:\[[^\]]*\]\s*)?(?:\d{1,2}[:.]\d{2}(?::\d{2})?\s*[-\u2013]?\s*)?(?P<sender>[^:]{1,60}):\s(?P<text>.*)$"
)


@dataclass(frozen=True)
class Message:
    line: int
    sender: str
    text: str


@dataclass(frozen=True)
class Flag:
    line: int
    text: str
    pattern: str

    def as_dict(self) -> dict:
        # A quotation for the reviewer, not the evidence: characters no database can hold (a NUL in the
        # export, a lone surrogate from JSON) become U+FFFD; the file itself is kept byte for byte.
        return {"line": self.line, "text": without_unstorable(self.text[:300], "\ufffd")[0], "pattern": self.pattern}


def parse_transcript(text: str, mime: str) -> list[Message]:
    """Messages from plain-text ("[time] name: text"), CSV (sender/from + message/text columns) or JSON
    (a list of objects with sender/from/author and text/message/body) exports."""
    if mime == "application/json":
        try:
            data = json.loads(text)
        except ValueError:
            return []
        items = data.get("messages", []) if isinstance(data, dict) else data
        messages = []
        for number, item in enumerate(items if isinstance(items, list) else [], 1):
            if isinstance(item, dict):
                sender = next((str(item[k]) for k in ("sender", "from", "author", "user") if k in item), "")
                body = next((str(item[k]) for k in ("text", "message", "body", "content") if k in item), "")
                messages.append(Message(number, sender, body))
        return messages
    if mime == "text/csv":
        reader = csv.DictReader(io.StringIO(text))
        messages = []
        for number, row in enumerate(reader, 2):
            lowered = {(k or "").strip().lower(): (v or "") for k, v in row.items()}
            sender = next((lowered[k] for k in ("sender", "from", "author", "user") if k in lowered), "")
            body = next((lowered[k] for k in ("text", "message", "body", "content") if k in lowered), "")
            messages.append(Message(number, sender, body))
        return messages
    messages = []
    for number, line in enumerate(text.splitlines(), 1):
        match = _LINE.match(line)
        if match:
            messages.append(Message(number, match["sender"].strip(), match["text"]))
    return messages


def check(messages: Iterable[Message], decoy_handles: Iterable[str], patterns: Iterable[str]) -> list[Flag]:
    handles = {handle.strip().lower() for handle in decoy_handles if handle.strip()}
    compiled = [(pattern, re.compile(pattern, re.IGNORECASE)) for pattern in patterns]
    flags = []
    for message in messages:
        if message.sender.strip().lower() not in handles:
            continue
        for pattern, regex in compiled:
            if regex.search(message.text):
                flags.append(Flag(message.line, message.text, pattern))
                break
    return flags
