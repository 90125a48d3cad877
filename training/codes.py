"""Certificate verification codes a person can read off paper and type: twelve characters of Crockford's
base32 (no I, L, O or U to confuse), shown in groups of four, read in any case, with or without the dashes.
Pure: no Django."""

from __future__ import annotations

import re
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 12  # 60 random bits: guessing one, at the verification page's rate limit, takes millennia
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015_.]+")  # spaces, dashes of every width


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise(typed: str) -> str:
    """What a person typed, as the stored form: capitals, no dashes or spaces, O read as 0 and I or L as 1."""
    return _SEPARATORS.sub("", typed).upper().translate(_CONFUSABLE)


def is_short_code(code: str) -> bool:
    return len(code) == LENGTH and all(character in ALPHABET for character in code)


def grouped(code: str) -> str:
    """XXXX-XXXX-XXXX for a short code; an older long code as it is."""
    return "-".join(code[i : i + 4] for i in range(0, LENGTH, 4)) if is_short_code(code) else code
