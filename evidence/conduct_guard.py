"""Decoy conduct guard (no Django): flag decoy-side messages that may instigate (Looseley).

An aid for the reviewing officer, never a block: it reads a copy of a chat export's text and returns
the matched lines; the exhibit itself is never altered.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from dataclasses import dataclass

from evidence.transcripts import Message, read_messages
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
    """The messages of a chat export of any shape `evidence.transcripts` reads (raw lines carry no sender
    and so are never the decoy's)."""
    data = text.encode("utf-8", errors="replace")
    return list(read_messages(lambda: io.BytesIO(data), mime))


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
