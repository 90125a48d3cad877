"""Authenticated encryption of stored files in streamed chunks, each file under its own data key.

No Django here: the format is specified so that anyone holding the key-encryption key can decrypt a file.

File = header, then chunks.
- header (60 bytes): MAGIC (8 bytes, b"PORTENC1"), the chunk size (4 bytes, big-endian), the id of the
  key-encryption key (KEK) that wrapped the data key (8 bytes: the first 8 bytes of SHA-256 of the KEK), and
  the file's 32-byte data key wrapped by that KEK (RFC 3394 AES key wrap, 40 bytes).
- chunk i: AES-256-GCM of the next `chunk size` bytes of the original (fewer for the last; the last may be
  empty), 16-byte tag appended, under the data key, with the 12-byte nonce = i as 11 bytes big-endian
  followed by 0x01 for the last chunk and 0x00 otherwise (the STREAM construction: chunks cannot be
  reordered, dropped or the file cut short unnoticed), and MAGIC + chunk size as associated data.
A file's data key is used for that file only, so counter nonces never repeat under one key. Rotating the KEK
rewrites only the 20 bytes of key id and wrapped key (rewrap_header); the chunks are never re-encrypted.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
from collections.abc import Iterable, Iterator, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

MAGIC = b"PORTENC1"
CHUNK = 1024 * 1024
TAG = 16
HEADER = len(MAGIC) + 4 + 8 + 40
KEY_ID_SLICE = slice(len(MAGIC) + 4, len(MAGIC) + 12)
WRAPPED_SLICE = slice(len(MAGIC) + 12, HEADER)


class FileDecryptionError(Exception):
    """The file cannot be decrypted: not in this format, no key for it, or altered, truncated or reordered."""


def key_id(kek: bytes) -> bytes:
    return hashlib.sha256(kek).digest()[:8]


def _check_kek(kek: bytes) -> bytes:
    if len(kek) != 32:
        raise ValueError("A key-encryption key is 32 bytes (256 bits).")
    return kek


def _nonce(index: int, final: bool) -> bytes:
    return index.to_bytes(11, "big") + (b"\x01" if final else b"\x00")


def _aad(chunk_size: int) -> bytes:
    return MAGIC + struct.pack(">I", chunk_size)


def new_header(kek: bytes, *, chunk_size: int = CHUNK) -> tuple[bytes, AESGCM]:
    """A fresh data key: the file's header and the cipher to encrypt its chunks."""
    data_key = AESGCM.generate_key(bit_length=256)
    header = _aad(chunk_size) + key_id(_check_kek(kek)) + aes_key_wrap(kek, data_key)
    return header, AESGCM(data_key)


def encrypt_chunks(plaintext: Iterable[bytes], kek: bytes, *, chunk_size: int = CHUNK) -> Iterator[bytes]:
    """The encrypted file, piece by piece, from the original's pieces (any sizes): memory stays about two
    chunks whatever the file's size."""
    header, cipher = new_header(kek, chunk_size=chunk_size)
    aad = _aad(chunk_size)
    yield header
    index = 0
    pending: bytes | None = None  # a whole chunk, not encrypted until we know whether it is the last
    held: list[bytes] = []
    held_size = 0
    for piece in plaintext:
        if not piece:
            continue
        if not held_size and len(piece) == chunk_size:  # the usual case: pieces of exactly a chunk, no copy
            chunks = [bytes(piece)]
        else:
            held.append(bytes(piece))
            held_size += len(piece)
            if held_size < chunk_size:
                continue
            joined = b"".join(held)
            whole = held_size - held_size % chunk_size
            chunks = [joined[at : at + chunk_size] for at in range(0, whole, chunk_size)]
            rest = joined[whole:]
            held, held_size = ([rest], len(rest)) if rest else ([], 0)
        for chunk in chunks:
            if pending is not None:
                yield cipher.encrypt(_nonce(index, False), pending, aad)
                index += 1
            pending = chunk
    if held_size:
        if pending is not None:
            yield cipher.encrypt(_nonce(index, False), pending, aad)
            index += 1
        pending = b"".join(held)
    yield cipher.encrypt(_nonce(index, True), pending if pending is not None else b"", aad)


class Sealer:
    """The same format, pushed a piece at a time (an upload as it arrives): update() returns the chunks
    sealed so far, finish() the last one. The header is written first."""

    def __init__(self, kek: bytes, *, chunk_size: int = CHUNK) -> None:
        self.header, self._cipher = new_header(kek, chunk_size=chunk_size)
        self._aad = _aad(chunk_size)
        self._size = chunk_size
        self._held = bytearray()
        self._index = 0

    def update(self, data: bytes | memoryview) -> bytes:
        self._held += data
        if len(self._held) <= self._size:
            return b""
        sealed = []
        while len(self._held) > self._size:  # one byte at least is kept back: the last chunk is sealed apart
            # Sealed from a view of the buffer, not a copy of it (memory is counted per upload worker).
            with memoryview(self._held) as view, view[: self._size] as chunk:
                sealed.append(self._cipher.encrypt(_nonce(self._index, False), chunk, self._aad))
            del self._held[: self._size]
            self._index += 1
        return b"".join(sealed)

    def finish(self) -> bytes:
        return self._cipher.encrypt(_nonce(self._index, True), bytes(self._held), self._aad)


def plaintext_size(encrypted_size: int, chunk_size: int = CHUNK) -> int:
    body = encrypted_size - HEADER
    full, rest = divmod(body, chunk_size + TAG)
    if body < TAG or (rest and rest < TAG):
        raise FileDecryptionError("the file is shorter than its format allows: it was cut short")
    return full * chunk_size + (rest - TAG if rest else 0)


def unwrap(header: bytes, keks: Sequence[bytes]) -> tuple[AESGCM, int]:
    """The data key's cipher and the chunk size, from a header and the key-encryption keys on hand."""
    if len(header) < HEADER or header[: len(MAGIC)] != MAGIC:
        raise FileDecryptionError("the file is not one the portal encrypted (its header is missing)")
    (chunk_size,) = struct.unpack(">I", header[len(MAGIC) : len(MAGIC) + 4])
    wanted = header[KEY_ID_SLICE]
    for kek in keks:
        if key_id(kek) == wanted:
            try:
                return AESGCM(aes_key_unwrap(kek, header[WRAPPED_SLICE])), chunk_size
            except InvalidUnwrap:
                raise FileDecryptionError("the file's data key does not unwrap: its header was altered") from None
    raise FileDecryptionError(
        f"the file's data key was wrapped by key-encryption key {wanted.hex()}, which is not configured "
        "(PORTAL_FILE_KEYS): without it the file cannot be read"
    )


def rewrap_header(header: bytes, keks: Sequence[bytes], new_kek: bytes) -> bytes:
    """The same header with its data key wrapped by `new_kek` instead (KEK rotation)."""
    unwrap(header, keks)  # the old key must work, or the file would be lost
    wanted = header[KEY_ID_SLICE]
    old = next(kek for kek in keks if key_id(kek) == wanted)
    data_key = aes_key_unwrap(old, header[WRAPPED_SLICE])
    return header[: KEY_ID_SLICE.start] + key_id(_check_kek(new_kek)) + aes_key_wrap(new_kek, data_key)


class DecryptingReader(io.RawIOBase):
    """A read-only, seekable view of the original bytes of an encrypted file (`raw`: binary, seekable).

    Only the chunk being read is held in memory. Each chunk is authenticated before any of its bytes are
    returned; a chunk that fails raises FileDecryptionError naming its place.
    """

    def __init__(self, raw, keks: Sequence[bytes], *, name: str = "") -> None:
        super().__init__()
        self.raw = raw
        self.name = name
        raw.seek(0)
        header = raw.read(HEADER)
        self._cipher, self.chunk_size = unwrap(header, keks)
        self._aad = _aad(self.chunk_size)
        raw.seek(0, os.SEEK_END)
        encrypted = raw.tell()
        self.size = plaintext_size(encrypted, self.chunk_size)
        body = encrypted - HEADER
        self._last = max(0, -(-body // (self.chunk_size + TAG)) - 1)
        self._pos = 0
        self._chunk_index = -1
        self._chunk = b""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            position = offset
        elif whence == os.SEEK_CUR:
            position = self._pos + offset
        elif whence == os.SEEK_END:
            position = self.size + offset
        else:
            raise ValueError(f"invalid whence ({whence})")
        if position < 0:
            raise ValueError("negative seek position")
        self._pos = position
        return position

    def _load(self, index: int) -> None:
        if index == self._chunk_index:
            return
        self.raw.seek(HEADER + index * (self.chunk_size + TAG))
        sealed = self.raw.read(self.chunk_size + TAG)
        try:
            self._chunk = self._cipher.decrypt(_nonce(index, index == self._last), sealed, self._aad)
        except InvalidTag:
            where = f" ({self.name})" if self.name else ""
            raise FileDecryptionError(
                f"chunk {index + 1} of the encrypted file{where} does not authenticate: the stored file was "
                "altered, truncated or reordered"
            ) from None
        self._chunk_index = index

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = max(0, self.size - self._pos)
        pieces = []
        while size > 0 and self._pos < self.size:
            index, offset = divmod(self._pos, self.chunk_size)
            self._load(index)
            piece = self._chunk[offset : offset + size]
            pieces.append(piece)
            self._pos += len(piece)
            size -= len(piece)
        return b"".join(pieces)

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readall(self) -> bytes:
        return self.read(-1)

    def close(self) -> None:
        if not self.closed:
            self.raw.close()
            self._chunk = b""
        super().close()


def read_pieces(source, size: int) -> Iterator[bytes]:
    """`source`'s content, `size` at a time, as bytes (a text file's as UTF-8, as Django stores text)."""
    while True:
        piece = source.read(size)
        if not piece:
            return
        yield piece.encode("utf-8") if isinstance(piece, str) else piece


class EncryptingStream(io.RawIOBase):
    """A read-only stream of the encrypted form of `source` (anything with read(n)), for a storage's save:
    it pulls the original a chunk at a time."""

    def __init__(self, source, kek: bytes, *, chunk_size: int = CHUNK) -> None:
        super().__init__()
        self._pieces = encrypt_chunks(read_pieces(source, chunk_size), kek, chunk_size=chunk_size)
        self._buffer = b""
        self._offset = 0
        self._pos = 0

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        # Storages rewind before reading; only that is possible on a stream not yet read.
        if (offset, whence) in ((0, os.SEEK_SET), (0, os.SEEK_CUR)) and self._pos == 0:
            return 0
        raise io.UnsupportedOperation("an encrypting stream can only be read once, from its start")

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = 1 << 62
        pieces = []
        while size > 0:
            if self._offset >= len(self._buffer):
                self._buffer, self._offset = next(self._pieces, b""), 0
                if not self._buffer:
                    break
            piece = self._buffer[self._offset : self._offset + size]
            self._offset += len(piece)
            size -= len(piece)
            pieces.append(piece)
        data = b"".join(pieces) if len(pieces) != 1 else pieces[0]
        self._pos += len(data)
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
