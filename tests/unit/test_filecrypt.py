"""The stored-file encryption format (portal/filecrypt.py), without Django: what goes in comes out, any change,
cut, reordering or wrong key is refused with a reason, rotation leaves the chunks untouched, and memory
stays about a chunk whatever the file's size."""

from __future__ import annotations

import io
import os
import tracemalloc

import pytest

from portal import filecrypt
from portal.filecrypt import CHUNK, HEADER, TAG, DecryptingReader, EncryptingStream, FileDecryptionError

KEK = bytes(range(32))
OTHER = bytes(range(1, 33))
SMALL = 64  # a small chunk size makes multi-chunk files cheap to test


def _encrypt(data: bytes, kek: bytes = KEK, *, piece: int = 7, chunk_size: int = SMALL) -> bytes:
    pieces = [data[at : at + piece] for at in range(0, len(data), piece)]
    return b"".join(filecrypt.encrypt_chunks(pieces, kek, chunk_size=chunk_size))


@pytest.mark.parametrize("size", [0, 1, SMALL - 1, SMALL, SMALL + 1, 3 * SMALL, 3 * SMALL + 5])
@pytest.mark.parametrize("piece", [1, 7, SMALL, 200])
def test_what_goes_in_comes_out_whatever_the_sizes(size, piece):
    data = os.urandom(size)
    sealed = _encrypt(data, piece=piece)
    assert filecrypt.plaintext_size(len(sealed), SMALL) == size
    reader = DecryptingReader(io.BytesIO(sealed), [KEK])
    assert reader.size == size and reader.read() == data
    reader.seek(size // 2)
    assert reader.read(10) == data[size // 2 : size // 2 + 10]
    assert reader.seek(0, os.SEEK_END) == size and reader.read(5) == b""


def test_the_stream_a_storage_reads_is_the_same_format():
    data = os.urandom(3 * CHUNK + 17)
    stream = EncryptingStream(io.BytesIO(data), KEK)
    sealed = b"".join(iter(lambda: stream.read(65536), b""))
    assert DecryptingReader(io.BytesIO(sealed), [KEK]).read() == data
    assert len(sealed) == HEADER + 4 * TAG + len(data)


def test_the_same_file_twice_is_encrypted_under_two_data_keys():
    data = b"the same capture" * 10
    first, second = _encrypt(data), _encrypt(data)
    assert first[HEADER:] != second[HEADER:] and data not in first


def _flip(data: bytes, at: int) -> bytes:
    changed = bytearray(data)
    changed[at] ^= 1
    return bytes(changed)


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (lambda s: _flip(s, HEADER + 3), "chunk 1 of the encrypted file .* does not authenticate"),
        (lambda s: _flip(s, len(s) - 1), "chunk 4 .* does not authenticate"),
        # Cut at a chunk boundary: what is now the last chunk was not sealed as the last.
        (lambda s: s[: HEADER + 2 * (SMALL + TAG)], "chunk 2 .* does not authenticate"),
        # Two chunks swapped.
        (
            lambda s: (
                s[:HEADER]
                + s[HEADER + SMALL + TAG : HEADER + 2 * (SMALL + TAG)]
                + s[HEADER : HEADER + SMALL + TAG]
                + s[HEADER + 2 * (SMALL + TAG) :]
            ),
            "chunk 1 .* does not authenticate",
        ),
        (lambda s: s[: HEADER + 5], "shorter than its format allows"),
        (lambda s: b"%PDF-1.7" + s[8:], "not one the portal encrypted"),
        (lambda s: _flip(s, HEADER - 3), "does not unwrap: its header was altered"),
    ],
)
def test_any_change_cut_or_reordering_is_refused_with_its_reason(damage, said):
    sealed = damage(_encrypt(os.urandom(3 * SMALL + 5)))
    with pytest.raises(FileDecryptionError, match=said):
        DecryptingReader(io.BytesIO(sealed), [KEK], name="exhibits/1/VD_1.png").read()


def test_a_file_whose_key_is_not_configured_names_the_key_it_needs():
    sealed = _encrypt(b"capture")
    with pytest.raises(FileDecryptionError, match=f"key-encryption key {filecrypt.key_id(KEK).hex()}, which is not"):
        DecryptingReader(io.BytesIO(sealed), [OTHER])


def test_rotation_rewraps_the_data_key_and_leaves_every_chunk_as_it_was():
    data = os.urandom(5 * SMALL)
    sealed = _encrypt(data)
    header = filecrypt.rewrap_header(sealed[:HEADER], [KEK], OTHER)
    rotated = header + sealed[HEADER:]
    assert len(header) == HEADER and header[filecrypt.KEY_ID_SLICE] == filecrypt.key_id(OTHER)
    assert DecryptingReader(io.BytesIO(rotated), [OTHER]).read() == data  # the old key is no longer needed
    with pytest.raises(FileDecryptionError, match="not configured"):
        DecryptingReader(io.BytesIO(rotated), [KEK])


def _peak_encrypting(chunks: int) -> int:
    pieces = (b"x" * CHUNK for _ in range(chunks))
    tracemalloc.start()
    sealed_size = 0
    for piece in filecrypt.encrypt_chunks(pieces, KEK):
        sealed_size += len(piece)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert sealed_size == HEADER + chunks * (CHUNK + TAG)
    return peak


def test_memory_stays_a_few_chunks_whatever_the_size():
    small, large = _peak_encrypting(4), _peak_encrypting(64)
    # The piece read, the chunk held back, the sealed chunk out and the caller's previous one: four at most.
    assert large < 5 * CHUNK, f"{large / CHUNK:.1f} chunks held at once"
    assert large - small < CHUNK // 2, "memory grew with the file's size"
