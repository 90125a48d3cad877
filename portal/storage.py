"""Private file storage as the code that needs a real file sees it.

Evidence, statements, certificates and bundles live in Django's default storage: a folder on one
host's disk (FileSystemStorage), or an S3-compatible bucket (django-storages) once workers run on several
machines. Most code only opens and saves through the storage API. What needs a file on local disk
(pikepdf, pyHanko, zipfile) or a file put in place whole under a fixed name goes through these helpers:
on a folder storage they use the file where it lies and rename into place, so nothing is copied; on an
object store they download to, or upload from, a temporary file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from botocore.exceptions import ConnectionError as EndpointUnreachable
from botocore.exceptions import HTTPClientError
from django.core.files import File
from django.core.files.storage import Storage, default_storage

BLOCK = 1024 * 1024


# What an object store raises when it cannot be reached or drops the connection (not OSError): worth
# another go after a pause, like a full disk. A refusal (403, 404) is a ClientError and is not.
STORAGE_TRANSIENT: tuple[type[Exception], ...] = (EndpointUnreachable, HTTPClientError)


def is_folder(storage: Storage = default_storage) -> bool:
    """Whether the storage is a folder on this machine's disk whose files have a path holding their bytes
    (not so when the portal encrypts what it stores: portal/encrypted_storage.py)."""
    if getattr(storage, "encrypts", False):
        return False
    try:
        storage.path("")
    except NotImplementedError:
        return False
    return True


@contextlib.contextmanager
def local_copy(name: str, storage: Storage = default_storage) -> Iterator[Path]:
    """A path on local disk holding the stored file `name`: the file itself on a folder storage, else a
    temporary copy, deleted afterwards."""
    if is_folder(storage):
        yield Path(storage.path(name))
        return
    handle, temp = tempfile.mkstemp(prefix="portal-", suffix=Path(name).suffix)
    try:
        with os.fdopen(handle, "wb") as out, storage.open(name, "rb") as source:
            shutil.copyfileobj(source, out, BLOCK)
        yield Path(temp)
    finally:
        Path(temp).unlink(missing_ok=True)


@contextlib.contextmanager
def scratch_folder(near: str, storage: Storage = default_storage) -> Iterator[Path]:
    """A local folder for temporary files on their way into storage, removed afterwards. On a folder
    storage it lies inside the folder `near` (so putting a file in place is a rename on one filesystem);
    otherwise in the system's temporary folder."""
    if is_folder(storage):
        base = Path(storage.path(near))
        base.mkdir(parents=True, exist_ok=True)
        folder = base / f".scratch-{uuid.uuid4().hex}"
        folder.mkdir()
    else:
        folder = Path(tempfile.mkdtemp(prefix="portal-scratch-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def put_file(local: Path, name: str, storage: Storage = default_storage) -> str:
    """Put the local file at `name`, replacing any file stored there, whole or not at all (a reader sees
    the old file or the new one, never part of one). The local file is consumed. Returns `name`."""
    if getattr(storage, "encrypts", False):
        stored = storage.put_replacing(name, local)
        local.unlink(missing_ok=True)
        return stored
    if is_folder(storage):
        target = Path(storage.path(name))
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(local, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            temp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
            try:
                shutil.copyfile(local, temp)
                os.replace(temp, target)
            finally:
                temp.unlink(missing_ok=True)
            local.unlink(missing_ok=True)
        return name
    # An object store writes an object whole (a multipart upload becomes visible only when complete), and
    # replacing one is a single write. The evidence store refuses to overwrite through save()
    # (file_overwrite=False keeps an exhibit from ever being replaced), so our own fixed names are written
    # with the storage's write step itself, past the check that would pick another name.
    with local.open("rb") as handle:
        stored = storage._save(name, File(handle, name=name))
    local.unlink(missing_ok=True)
    return stored


def write_file(name: str, write: Callable[[Path], None], storage: Storage = default_storage) -> str:
    """Store a file at `name` that `write(path)` produces, whole or not at all: it writes a temporary
    file, which is then put in place (renamed on a folder storage, uploaded to an object store)."""
    parent = Path(storage.path(name)).parent if is_folder(storage) else Path(tempfile.gettempdir())
    parent.mkdir(parents=True, exist_ok=True)
    temp = parent / f".{Path(name).name}.{uuid.uuid4().hex}.tmp"
    try:
        write(temp)
        return put_file(temp, name, storage)
    finally:
        temp.unlink(missing_ok=True)


def delete_folder(prefix: str, storage: Storage = default_storage) -> None:
    """Delete everything stored under the folder `prefix` (one level: the files a work area holds)."""
    if is_folder(storage):
        shutil.rmtree(storage.path(prefix), ignore_errors=True)
        return
    for file in list_files(prefix, storage):
        storage.delete(f"{prefix}/{file}")


def list_files(prefix: str, storage: Storage = default_storage) -> list[str]:
    """The names of the files directly in the folder `prefix` (none if it does not exist)."""
    try:
        return storage.listdir(prefix)[1]
    except FileNotFoundError:
        return []


def walk_files(storage: Storage = default_storage, prefix: str = "") -> Iterator[str]:
    """Every file stored under `prefix` ("" for all), folder by folder, in name order."""
    directories, files = storage.listdir(prefix)
    for name in sorted(files):
        yield f"{prefix}{name}"
    for directory in sorted(directories):
        yield from walk_files(storage, f"{prefix}{directory}/")


def delete_every_version(name: str, storage: Storage = default_storage) -> int:
    """Remove a stored file for good: on a folder, the file; on a bucket, every version of the object and every
    delete marker (a versioned bucket keeps the old bytes behind a plain delete). Returns how many objects or
    versions were removed; deleting what is already gone is not an error."""
    if is_folder(storage) or not hasattr(storage, "bucket_name"):
        existed = storage.exists(name)
        storage.delete(name)
        return 1 if existed else 0
    client = storage.connection.meta.client
    key = storage._normalize_name(name)
    removed = 0
    for page in client.get_paginator("list_object_versions").paginate(Bucket=storage.bucket_name, Prefix=key):
        for version in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            if version["Key"] != key:  # the prefix matches longer names too
                continue
            client.delete_object(Bucket=storage.bucket_name, Key=key, VersionId=version["VersionId"])
            removed += 1
    if storage.exists(name):  # a bucket that does not answer for versions: the plain delete
        storage.delete(name)
        removed += 1
    return removed


def delete_folder_every_version(prefix: str, storage: Storage = default_storage) -> int:
    """Remove everything stored under the folder `prefix`, at any depth, for good (as delete_every_version does for
    one file): on a bucket every version and delete marker under it, which a listing no longer shows once an object
    was deleted plainly. Returns how many files, objects or versions were removed."""
    prefix, removed = prefix.rstrip("/") + "/", 0
    if hasattr(storage, "bucket_name") and not is_folder(storage):
        client = storage.connection.meta.client
        key = storage._normalize_name(prefix.rstrip("/")) + "/"  # "bundle-work/12/", never "bundle-work/123"
        for page in client.get_paginator("list_object_versions").paginate(Bucket=storage.bucket_name, Prefix=key):
            for version in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                client.delete_object(Bucket=storage.bucket_name, Key=version["Key"], VersionId=version["VersionId"])
                removed += 1
    try:
        names = list(walk_files(storage, prefix))  # on a bucket that does not answer for versions: what it lists
    except FileNotFoundError:
        names = []
    removed += sum(delete_every_version(name, storage) for name in names)
    with contextlib.suppress(NotImplementedError):
        shutil.rmtree(storage.path(prefix), ignore_errors=True)  # the emptied folders too
    return removed
