"""Encryption of a resumable upload's partial file while it grows: seekable, so bytes append at any offset.

No Django here. The stored format (portal/filecrypt.py) is sealed chunk by chunk and cannot be appended to
at an arbitrary byte, cut back to one, or resumed after a killed server; a partial file must be all three.
So it is AES-256-CTR of the original bytes under a data key of its own (one per upload, random), wrapped by
a key-encryption key (RFC 3394, as in filecrypt) and kept beside the upload's record, never on the disk
that holds the file. Byte N of the original is byte N of the partial file: appending at offset N starts the
keystream at block N // 16 and skips N % 16 bytes, and cutting the file back to N keeps exactly N bytes.

CTR has no integrity of its own: the partial file is read once, when complete, and sealed in the stored
format (which has); its SHA-256 is taken of the original bytes then. A byte rewritten after a cut (a request
cut short by a killed server, sent again) reuses the keystream at its place, for the same byte of the same
file the client resends from the server's offset, so nothing is learnt from it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from portal.filecrypt import FileDecryptionError, key_id

KEY_BYTES = 32
BLOCK = 16


@dataclass(frozen=True)
class WrappedSpoolKey:
    """What the upload's record keeps: the id of the key-encryption key and the data key it wrapped."""

    kek_id: bytes  # 8 bytes: filecrypt.key_id(kek)
    wrapped: bytes  # 40 bytes


def spool_key_new(kek: bytes) -> tuple[bytes, WrappedSpoolKey]:
    """A fresh data key for one upload, and its wrapped form to record."""
    if len(kek) != KEY_BYTES:
        raise ValueError("A key-encryption key is 32 bytes (256 bits).")
    key = os.urandom(KEY_BYTES)
    return key, WrappedSpoolKey(kek_id=key_id(kek), wrapped=aes_key_wrap(kek, key))


def spool_key_unwrap(wrapped: WrappedSpoolKey, keks: Sequence[bytes]) -> bytes:
    """The upload's data key, from whichever configured key-encryption key wrapped it (after a rotation,
    an older one). Raises FileDecryptionError when none did or the wrapped key was altered."""
    for kek in keks:
        if key_id(kek) == wrapped.kek_id:
            try:
                return aes_key_unwrap(kek, wrapped.wrapped)
            except InvalidUnwrap:
                raise FileDecryptionError("the partial upload's data key does not unwrap: it was altered") from None
    raise FileDecryptionError(
        f"the partial upload's data key was wrapped by key-encryption key {wrapped.kek_id.hex()}, which is not "
        "configured (PORTAL_FILE_KEYS): its bytes cannot be read"
    )


def keystream_at(key: bytes, offset: int) -> CipherContext:
    """A CTR context positioned at byte `offset` of the file: its update() encrypts (or, the same, decrypts)
    the bytes from there on, in any pieces."""
    if offset < 0:
        raise ValueError("negative offset")
    block, skip = divmod(offset, BLOCK)
    # The counter starts at zero for byte 0: the key is this file's alone, so no counter block repeats
    # under it (2**128 blocks is beyond any file).
    context = Cipher(algorithms.AES(key), modes.CTR(block.to_bytes(BLOCK, "big"))).encryptor()
    if skip:
        context.update(bytes(skip))
    return context
