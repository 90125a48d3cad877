"""A resumable upload's partial file encryption (portal/spoolcrypt.py), without Django: pieces appended at any
offset decrypt to the original byte for byte, a file cut back and continued still does, and a key that is
not the upload's is refused when unwrapped or gives bytes whose SHA-256 is not the original's."""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import random

import pytest

from portal.filecrypt import FileDecryptionError, key_id
from portal.spoolcrypt import WrappedSpoolKey, keystream_at, spool_key_new, spool_key_unwrap

KEK = bytes(range(32))
NEWER = bytes(range(1, 33))


def _append(part: io.BytesIO, key: bytes, offset: int, data: bytes) -> None:
    part.seek(offset)
    part.write(keystream_at(key, offset).update(data))


def _decrypt(part: bytes, key: bytes, *, piece: int = 1000) -> bytes:
    keystream = keystream_at(key, 0)
    return b"".join(keystream.update(part[at : at + piece]) for at in range(0, len(part), piece))


@pytest.mark.parametrize("seed", range(8))
def test_pieces_appended_at_random_offsets_decrypt_to_the_original_byte_for_byte(seed):
    chooser = random.Random(seed)
    original = os.urandom(chooser.randint(1, 5000))
    key, _ = spool_key_new(KEK)
    cuts = sorted({0, len(original), *(chooser.randint(1, len(original)) for _ in range(chooser.randint(0, 6)))})
    part = io.BytesIO()
    for start, end in itertools.pairwise(cuts):
        _append(part, key, start, original[start:end])
    on_disk = part.getvalue()
    assert len(on_disk) == len(original)  # byte N of the file is byte N of the original
    assert _decrypt(on_disk, key, piece=chooser.randint(1, 64)) == original
    if len(original) >= 64:
        assert original[:64] not in on_disk


def test_a_file_cut_back_to_its_durable_offset_and_continued_decrypts_to_the_original():
    original = os.urandom(10_000)
    key, _ = spool_key_new(KEK)
    part = io.BytesIO()
    _append(part, key, 0, original[:4099])
    _append(part, key, 4099, b"half of a request the server never finished")
    part.truncate(4099)  # back to the last recorded offset, as after a killed server
    _append(part, key, 4099, original[4099:])
    assert _decrypt(part.getvalue(), key) == original


def test_the_keystream_at_an_offset_is_the_whole_files_keystream_from_there():
    key, _ = spool_key_new(KEK)
    whole = keystream_at(key, 0).update(bytes(300))
    for offset in (0, 1, 15, 16, 17, 31, 32, 255, 299):
        assert keystream_at(key, offset).update(bytes(300 - offset)) == whole[offset:]


def test_each_upload_has_its_own_data_key_which_unwraps_after_a_rotation():
    key, wrapped = spool_key_new(KEK)
    other, _ = spool_key_new(KEK)
    assert key != other and len(key) == 32
    assert wrapped.kek_id == key_id(KEK) and len(wrapped.wrapped) == 40 and key not in wrapped.wrapped
    assert spool_key_unwrap(wrapped, [KEK]) == key
    assert spool_key_unwrap(wrapped, [NEWER, KEK]) == key  # a newer key first; the older still unwraps


def test_a_missing_or_wrong_key_encryption_key_is_refused_by_the_unwrap():
    _, wrapped = spool_key_new(KEK)
    with pytest.raises(FileDecryptionError, match=key_id(KEK).hex()):
        spool_key_unwrap(wrapped, [NEWER])  # the key that wrapped it is no longer configured
    posing = WrappedSpoolKey(kek_id=key_id(NEWER), wrapped=wrapped.wrapped)
    with pytest.raises(FileDecryptionError, match="does not unwrap"):
        spool_key_unwrap(posing, [NEWER])  # a key claiming to be the one that wrapped it
    altered = WrappedSpoolKey(kek_id=wrapped.kek_id, wrapped=bytes([wrapped.wrapped[0] ^ 1]) + wrapped.wrapped[1:])
    with pytest.raises(FileDecryptionError, match="does not unwrap"):
        spool_key_unwrap(altered, [KEK])


def test_another_uploads_key_gives_bytes_whose_sha256_is_not_the_originals():
    original = os.urandom(5000)
    key, _ = spool_key_new(KEK)
    other, _ = spool_key_new(KEK)
    part = io.BytesIO()
    _append(part, key, 0, original)
    assert hashlib.sha256(_decrypt(part.getvalue(), other)).digest() != hashlib.sha256(original).digest()


def test_a_key_encryption_key_must_be_32_bytes_and_offsets_cannot_be_negative():
    with pytest.raises(ValueError):
        spool_key_new(b"short")
    key, _ = spool_key_new(KEK)
    with pytest.raises(ValueError):
        keystream_at(key, -1)
