"""Text the database can store as it was given: PostgreSQL refuses the NUL character in text, and no
UTF-8 encoder accepts a lone surrogate (half of a damaged emoji or accented letter). Pure: no Django
models, so every layer — forms, services, middleware — asks the same question the same way."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_count(text: str) -> int:
    return len(UNSTORABLE.findall(text)) if isinstance(text, str) else 0


def without_unstorable(text: str, replacement: str = "") -> tuple[str, int]:
    """The text with every unstorable character replaced, and how many there were."""
    return UNSTORABLE.subn(replacement, text)


def unstorable_message(what: str, count: int) -> str:
    characters = "a character" if count == 1 else f"{count} characters"
    return (
        f"{what} contains {characters} that cannot be stored: a hidden 'null' control character or a damaged "
        "emoji, usually pasted from another program. Retype the part you pasted, then try again."
    )


def require_storable(text: str, *, what: str) -> None:
    """Evidence is stored exactly as written or not at all: refuse, never alter, what cannot be stored."""
    count = unstorable_count(text)
    if count:
        raise ValidationError(unstorable_message(what, count), code="unstorable")
