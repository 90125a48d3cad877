"""Private storage that encrypts every file the portal stores, whatever lies beneath (a folder or a bucket).

Each file is encrypted as it is saved, under its own data key, wrapped by the newest key-encryption key of
PORTAL_FILE_KEYS (portal/filecrypt.py has the format), and decrypted as it is read: code opens and saves
as before and sees the original bytes, so an exhibit's SHA-256 stays the hash of what was captured. A
stolen disk, bucket or backup holds only ciphertext. A file's bytes on disk are not the file, so
portal.storage.is_folder() answers no for these storages and code that needs a local file takes a
decrypted temporary copy (portal.storage.local_copy), as it does on an object store.
"""

from __future__ import annotations

import base64
import binascii
import os
import shutil
import tempfile
import uuid
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files import File
from django.core.files.storage import FileSystemStorage

from portal import filecrypt


@lru_cache(maxsize=4)
def _decode(keys: tuple[str, ...]) -> tuple[bytes, ...]:
    if not keys:
        raise ImproperlyConfigured("PORTAL_FILE_KEYS is empty: stored files cannot be encrypted.")
    decoded = []
    for key in keys:
        try:
            value = base64.urlsafe_b64decode(key.strip().encode("ascii"))
        except (binascii.Error, ValueError):
            value = b""
        if len(value) != 32:
            raise ImproperlyConfigured(
                "PORTAL_FILE_KEYS holds a value that is not a 32-byte key in URL-safe base64: generate one with "
                '`python -c "import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())"`.'
            )
        decoded.append(value)
    return tuple(decoded)


def file_keys() -> tuple[bytes, ...]:
    """The key-encryption keys, newest first: the first wraps new files' data keys, any unwraps."""
    return _decode(tuple(settings.PORTAL_FILE_KEYS))


class DecryptedFile(File):
    """A stored file opened for reading: its original bytes, its original size."""

    def __init__(self, raw, name: str) -> None:
        reader = filecrypt.DecryptingReader(raw, file_keys(), name=name)
        super().__init__(reader, name=name)
        self.mode = "rb"

    @property
    def size(self) -> int:
        return self.file.size


# The bucket variant is portal.encrypted_s3.EncryptedS3Storage (apart, so that a folder installation never
# loads boto3).


class EncryptingMixin:
    """Encrypts in _save, decrypts in _open; everything else (exists, listdir, delete) is the backend's."""

    encrypts = True

    def _save(self, name, content):
        source = content.file if isinstance(content, File) and content.file is not None else content
        if hasattr(source, "seek"):
            source.seek(0)
        stream = filecrypt.EncryptingStream(source, file_keys()[0])
        return super()._save(name, File(stream, name=name))

    def _open(self, name, mode="rb"):
        if any(flag in mode for flag in "wa+"):
            raise ValueError("A stored file is written only by save(): it cannot be opened for writing.")
        raw = super()._open(name, "rb")
        return DecryptedFile(raw.file if isinstance(raw, File) else raw, name)

    def size(self, name) -> int:
        # The portal always writes filecrypt.CHUNK-sized chunks, so the size needs no read (on a bucket, a
        # read would fetch the whole object).
        return filecrypt.plaintext_size(super().size(name))

    def raw_path(self, name) -> str:
        """Where the encrypted bytes lie on disk (folder storage only): for re-wrapping keys and for tests.
        (The backend's own path() stays, for its own use; portal.storage.is_folder() is false here, so the
        portal's code never takes a stored file's bytes on disk for the file.)"""
        return self.path(name)

    def open_raw(self, name):
        """The encrypted bytes as stored (backups, key rotation, checks)."""
        return super()._open(name, "rb")

    def rewrap(self, name) -> str:
        """Wrap the file's data key by the newest key-encryption key, if another wrapped it; the chunks are
        left as they are. A file stored before the portal encrypted (no header) is encrypted now. Returns
        "rewrapped", "encrypted" or "" (already under the newest key)."""
        keys = file_keys()
        with self.open_raw(name) as raw:
            header = raw.read(filecrypt.HEADER)
        if not header.startswith(filecrypt.MAGIC):
            self._encrypt_in_place(name)
            return "encrypted"
        if header[filecrypt.KEY_ID_SLICE] == filecrypt.key_id(keys[0]):
            return ""
        self.write_header(name, filecrypt.rewrap_header(header, keys, keys[0]))
        return "rewrapped"

    def _encrypt_in_place(self, name) -> None:
        with self.open_raw(name) as raw, tempfile.NamedTemporaryFile(prefix="portal-plain-", delete=False) as copy:
            shutil.copyfileobj(raw, copy, filecrypt.CHUNK)
        try:
            self.put_replacing(name, Path(copy.name))
        finally:
            Path(copy.name).unlink(missing_ok=True)

    def save_raw(self, name, content) -> str:
        """Store bytes already in the encrypted format, as they are (restoring a backup)."""
        return super()._save(name, content)


class EncryptedFileSystemStorage(EncryptingMixin, FileSystemStorage):
    def _save(self, name, content):
        # Recorded as evidence once saved: the bytes must survive a crash, not just sit in the page cache.
        name = super()._save(name, content)
        fd = os.open(self.path(name), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return name

    def write_header(self, name: str, header: bytes) -> None:
        # The header has a fixed length: rewritten in place, the chunks untouched.
        with open(self.path(name), "r+b") as raw:
            raw.write(header)
            raw.flush()
            os.fsync(raw.fileno())

    def put_replacing(self, name: str, local: Path) -> str:
        """Store the local file at `name`, replacing any file there, whole or not at all: encrypted into a
        temporary file beside the target, then renamed over it."""
        target = Path(self.path(name))
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        try:
            with local.open("rb") as source, temp.open("xb") as out:
                for piece in filecrypt.encrypt_chunks(filecrypt.read_pieces(source, filecrypt.CHUNK), file_keys()[0]):
                    out.write(piece)
                out.flush()
                os.fsync(out.fileno())
            if self.file_permissions_mode is not None:
                os.chmod(temp, self.file_permissions_mode)
            os.replace(temp, target)
        finally:
            temp.unlink(missing_ok=True)
        return name
