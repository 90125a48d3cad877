"""The encrypting storage (portal/encrypted_storage.py) over an S3-compatible bucket."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from django.core.files import File
from storages.backends.s3 import S3Storage

from portal import filecrypt
from portal.encrypted_storage import EncryptingMixin


class EncryptedS3Storage(EncryptingMixin, S3Storage):
    def write_header(self, name: str, header: bytes) -> None:
        # An object cannot be changed in place: it is written again (through a temporary file, so memory
        # stays small), its chunks copied as they are.
        with self.open_raw(name) as raw, tempfile.TemporaryFile() as copy:
            copy.write(header)
            raw.seek(filecrypt.HEADER)
            shutil.copyfileobj(raw, copy, filecrypt.CHUNK)
            copy.seek(0)
            S3Storage._save(self, name, File(copy, name=name))

    def put_replacing(self, name: str, local: Path) -> str:
        # An object is written whole, and replacing one is a single write (past save()'s renaming check).
        with local.open("rb") as handle:
            return self._save(name, File(handle, name=name))

    def raw_path(self, name) -> str:
        raise NotImplementedError("An object store has no paths.")
