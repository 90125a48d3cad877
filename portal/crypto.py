"""Encryption at rest for special-category data (welfare): Fernet tokens under a rotatable key list.

PORTAL_FIELD_KEYS lists Fernet keys, newest first. New values are encrypted with the first; any key in
the list decrypts. To rotate: put a new key first, run `manage.py rotate_field_keys`, then drop the old.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

TOKEN_PREFIX = "fernet:"  # noqa: S105  (a marker, not a secret)


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("PORTAL_FIELD_KEYS is empty: welfare data cannot be encrypted.")
    try:
        return MultiFernet([Fernet(key.encode("ascii")) for key in keys])
    except (ValueError, TypeError):
        raise ImproperlyConfigured(
            "PORTAL_FIELD_KEYS holds a value that is not a Fernet key: generate one with "
            '`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`.'
        ) from None


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.PORTAL_FIELD_KEYS))


def encrypt(plaintext: str) -> str:
    if plaintext == "":
        return ""
    return TOKEN_PREFIX + fernet().encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(stored: str) -> str:
    if stored == "":
        return ""
    if not stored.startswith(TOKEN_PREFIX):
        raise ValueError("An encrypted column holds a value that is not a token: refusing to read it as text.")
    try:
        return fernet().decrypt(stored[len(TOKEN_PREFIX) :].encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise ValueError("No key in PORTAL_FIELD_KEYS decrypts this value: was a key removed too early?") from None


def rotate(stored: str) -> str:
    """Re-encrypt under the newest key (no-op for empty values)."""
    if stored == "":
        return ""
    token = stored[len(TOKEN_PREFIX) :].encode("ascii")
    return TOKEN_PREFIX + fernet().rotate(token).decode("ascii")
