"""The keyed blind index identifiers are matched on: HMAC-SHA-256 of an identifier's canonical key under
the platform's deconfliction key (PORTAL_DECONFLICTION_KEYS, or its _FILE).

Every scheme and every force that deconflicts with another computes the same index for the same
identifier only when they hold the same key, and nobody can turn an index back into the identifier
without it: matching across schemes and forces needs no plaintext to leave its owner. The key is shared by
the installations that deconflict with each other and kept like the field-encryption keys
(docs/deployment.md).

Rotation: PORTAL_DECONFLICTION_KEYS lists keys newest first. New indexes are computed under the first;
a check looks an identifier up under every listed key, so entries indexed under an older key still match
until they are indexed again under the new one. Each index is stored with its key's id (`key_id`), a
digest of the key that says which key made it and nothing about the key itself.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

MIN_KEY_BYTES = 32
KEY_HINT = (
    "Each key is at least 32 random bytes, base64-encoded: generate one with "
    '`python -c "import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())"`.'
)


@dataclass(frozen=True)
class Key:
    id: str  # 16 hex digits naming the key; the key cannot be worked out from it
    secret: bytes


class BlindIndex(NamedTuple):  # made for every identity checked: a tuple costs a fifth of a frozen dataclass
    key_id: str
    value: str  # 64 hex digits


@lru_cache(maxsize=4)
def _keys(configured: tuple[str, ...]) -> tuple[Key, ...]:
    if not configured:
        raise ImproperlyConfigured(f"PORTAL_DECONFLICTION_KEYS is empty: identifiers cannot be matched. {KEY_HINT}")
    keys = []
    for text in configured:
        try:
            secret = base64.urlsafe_b64decode(text.strip().encode("ascii"))
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raise ImproperlyConfigured(
                f"PORTAL_DECONFLICTION_KEYS holds a value that is not base64. {KEY_HINT}"
            ) from None
        if len(secret) < MIN_KEY_BYTES:
            raise ImproperlyConfigured(f"PORTAL_DECONFLICTION_KEYS holds a key shorter than 32 bytes. {KEY_HINT}")
        key_id = hashlib.sha256(b"portal-deconfliction-key-id:" + secret).hexdigest()[:16]
        keys.append(Key(key_id, secret))
    return tuple(keys)


def keys() -> tuple[Key, ...]:
    """The configured keys, newest first."""
    return _keys(tuple(settings.PORTAL_DECONFLICTION_KEYS))


def _index(key: Key, identifier_key: str) -> BlindIndex:
    digest = hmac.digest(key.secret, identifier_key.encode("utf-8"), "sha256").hex()
    return BlindIndex(key.id, digest)


def blind_index(identifier_key: str) -> BlindIndex:
    """The index to store for an identifier (its canonical `Identifier.key`), under the newest key."""
    return _index(keys()[0], identifier_key)


def blind_indexes(identifier_key: str) -> list[BlindIndex]:
    """The identifier's index under every configured key: what a check looks up."""
    return [_index(key, identifier_key) for key in keys()]


def blind_indexes_many(identifier_keys: Iterable[str]) -> list[list[BlindIndex]]:
    """blind_indexes() of each identifier, in order, for a list checked at once (a transcript's senders): the
    keys are read once and each HMAC keyed once for the list, then copied for each identifier (cheaper than
    keying it afresh). Nothing is kept after the call."""
    keyed = [(key.id, hmac.new(key.secret, digestmod=hashlib.sha256).copy) for key in keys()]
    found = []
    for identifier_key in identifier_keys:
        message, every = identifier_key.encode("utf-8"), []
        for key_id, fresh in keyed:
            mac = fresh()
            mac.update(message)
            every.append(BlindIndex(key_id, mac.hexdigest()))
        found.append(every)
    return found
