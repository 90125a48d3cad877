"""Uploads are hashed on the way to disk, capped without leaving files behind, and moved into storage intact."""

import contextlib
import errno
import gc
import hashlib
import io
import os
import stat
import tracemalloc

import pytest
from django.core.files.storage import FileSystemStorage, InMemoryStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import UnreadablePostError
from django.test import RequestFactory
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from evidence import uploads
from evidence.uploads import (
    CHUNK_SIZE,
    HEAD_SIZE,
    HashedUpload,
    HashingFileUploadHandler,
    UploadLengthMismatch,
    UploadTooLarge,
    discard,
    promote,
    receive_stream,
)

MiB = 1024 * 1024


@pytest.fixture
def spool_dir(settings, tmp_path):
    """The handler's temporary directory, empty at the start, so leftovers are easy to see."""
    path = tmp_path / "spool"
    path.mkdir()
    settings.PORTAL_UPLOAD_TEMP_DIR = str(path)
    return path


def leftovers(path) -> list[str]:
    return sorted(os.listdir(path))


def multipart_request(body: bytes | None = None, **fields):
    """A POST whose multipart body is built the way Django's test client builds it, with our handler."""
    factory = RequestFactory()
    if body is None:
        body = encode_multipart(BOUNDARY, fields)
    request = factory.generic("POST", "/exhibits/upload", data=body, content_type=MULTIPART_CONTENT)
    handler = HashingFileUploadHandler(request)
    request.upload_handlers = [handler]
    return request, handler


def exhibit(data: bytes, name: str = "IMG_0042.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/jpeg")


# --- the multipart (no-JavaScript) path ------------------------------------------------------------------


def test_the_handler_hashes_a_5_mib_file_exactly_as_hashlib_does(spool_dir):
    data = os.urandom(5 * MiB)
    request, handler = multipart_request(csrfmiddlewaretoken="t", exhibit=exhibit(data))

    upload = request.FILES["exhibit"]

    assert isinstance(upload, HashedUpload)
    assert upload.sha256 == hashlib.sha256(data).hexdigest()
    assert upload.size == len(data)
    assert upload.head == data[:HEAD_SIZE]
    assert upload.name == "IMG_0042.jpg"  # the client's claim, for display
    assert upload.content_type == "image/jpeg"  # also the client's claim
    assert request.POST["csrfmiddlewaretoken"] == "t"
    assert os.path.dirname(upload.temp_path) == str(spool_dir)
    assert "IMG_0042" not in upload.temp_path  # nothing the client sent reaches a path
    with open(upload.temp_path, "rb") as fh:
        assert fh.read() == data
    assert handler.refused is None


def test_an_upload_the_view_did_not_promote_is_gone_when_the_request_closes(spool_dir):
    request, _ = multipart_request(exhibit=exhibit(b"x" * 1000))
    assert request.FILES["exhibit"].pending
    request.close()  # what Django does when the response is finished
    assert leftovers(spool_dir) == []


def test_the_limit_is_read_from_settings_at_request_time(settings):
    settings.PORTAL_MAX_UPLOAD_BYTES = 12345
    assert HashingFileUploadHandler().max_bytes == 12345
    del settings.PORTAL_MAX_UPLOAD_BYTES
    assert HashingFileUploadHandler().max_bytes == 2 * 1024**3


def test_a_file_over_the_limit_is_stopped_mid_stream_and_nothing_is_left(settings, spool_dir):
    settings.PORTAL_MAX_UPLOAD_BYTES = 1 * MiB
    request, handler = multipart_request(csrfmiddlewaretoken="t", exhibit=exhibit(os.urandom(3 * MiB)))

    assert "exhibit" not in request.FILES
    assert isinstance(handler.refused, UploadTooLarge)
    assert not handler.refused.declared  # found while reading: the body was small enough to start
    assert handler.refused.size > 1 * MiB
    assert handler.refused.connection_reset  # Django stops reading instead of draining the rest
    assert request.POST["csrfmiddlewaretoken"] == "t"  # fields before the file survive for the view
    assert leftovers(spool_dir) == []


def test_a_body_declaring_far_more_than_the_limit_is_refused_before_any_file_is_written(
    settings, spool_dir, monkeypatch
):
    settings.PORTAL_MAX_UPLOAD_BYTES = 64 * 1024
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    request, handler = multipart_request(exhibit=exhibit(os.urandom(2 * MiB)))

    def no_temp_files(*args, **kwargs):
        raise AssertionError("a temporary file was created for a refused upload")

    monkeypatch.setattr(uploads.tempfile, "NamedTemporaryFile", no_temp_files)

    assert "exhibit" not in request.FILES
    assert handler.refused.declared
    assert handler.refused.size == int(request.META["CONTENT_LENGTH"])
    assert leftovers(spool_dir) == []


def test_the_limit_covers_all_files_of_a_request_and_none_is_kept(settings, spool_dir):
    settings.PORTAL_MAX_UPLOAD_BYTES = 1 * MiB
    first, second = os.urandom(600 * 1024), os.urandom(600 * 1024)
    request, handler = multipart_request(a=exhibit(first, "a.jpg"), b=exhibit(second, "b.jpg"))

    files = request.FILES
    assert handler.refused is not None
    assert "b" not in files
    assert not files["a"].pending  # completed before the cap was passed, deleted with the rest
    assert leftovers(spool_dir) == []


def test_a_body_that_ends_inside_the_file_leaves_nothing(spool_dir):
    body = encode_multipart(BOUNDARY, {"exhibit": exhibit(os.urandom(3 * MiB))})
    request, handler = multipart_request(body=body[: 2 * MiB])  # the client gave up half way

    assert "exhibit" not in request.FILES
    assert handler.refused is None
    assert leftovers(spool_dir) == []


class DropsAfter(io.RawIOBase):
    """A request body whose connection drops after `limit` bytes."""

    def __init__(self, data: bytes, limit: int) -> None:
        self._data, self._limit, self._pos = data, limit, 0

    def read(self, size: int = -1) -> bytes:
        if self._pos >= self._limit:
            raise OSError("connection reset by peer")
        size = len(self._data) if size is None or size < 0 else size
        chunk = self._data[self._pos : min(self._pos + size, self._limit)]
        self._pos += len(chunk)
        return chunk


def dropping_request(spool_dir):
    body = encode_multipart(BOUNDARY, {"exhibit": exhibit(os.urandom(4 * MiB))})
    request, handler = multipart_request(body=body)
    request._stream = DropsAfter(body, 2 * MiB)
    return request, handler


def test_a_dropped_connection_leaves_nothing_once_the_view_aborts(spool_dir):
    request, handler = dropping_request(spool_dir)
    with pytest.raises(UnreadablePostError):
        request.FILES  # noqa: B018 - reading it is the act under test
    assert leftovers(spool_dir)  # Django calls no handler hook on this path...
    handler.abort()  # ...so the view's error path does
    assert leftovers(spool_dir) == []


def test_a_dropped_connection_leaves_nothing_even_if_the_view_forgets(spool_dir):
    request, handler = dropping_request(spool_dir)
    with contextlib.suppress(UnreadablePostError):
        request.FILES  # noqa: B018 - reading it is the act under test
    del request, handler
    gc.collect()  # request and handler refer to each other: only the cycle collector frees them
    assert leftovers(spool_dir) == []


def test_a_client_path_in_the_file_name_is_reduced_to_its_last_part(spool_dir):
    request, _ = multipart_request(exhibit=exhibit(b"x", name="..\\..\\evil.exe"))
    upload = request.FILES["exhibit"]
    assert upload.name == "evil.exe"
    assert "evil" not in upload.temp_path


# --- the raw-body (JavaScript) path ----------------------------------------------------------------------


class ReadOnly:
    """A stream offering only read(), like Django's request object."""

    def __init__(self, data: bytes) -> None:
        self._buffer = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._buffer.read(size)


@pytest.mark.parametrize("wrap", [io.BytesIO, ReadOnly], ids=["readinto", "read"])
def test_receive_stream_hashes_while_writing(tmp_path, wrap):
    data = os.urandom(3 * MiB + 17)
    upload = receive_stream(
        wrap(data), declared_length=len(data), max_bytes=10 * MiB, temp_dir=str(tmp_path), name="clip.mp4"
    )
    assert upload.sha256 == hashlib.sha256(data).hexdigest()
    assert upload.size == len(data)
    assert upload.head == data[:HEAD_SIZE]
    assert upload.name == "clip.mp4"
    with open(upload.temp_path, "rb") as fh:
        assert fh.read() == data
    discard(upload)
    assert leftovers(tmp_path) == []


def test_receive_stream_without_a_declared_length(tmp_path):
    data = b"short statement\n"
    upload = receive_stream(io.BytesIO(data), declared_length=None, max_bytes=MiB, temp_dir=str(tmp_path))
    assert (upload.size, upload.head, upload.name) == (len(data), data, None)
    discard(upload)


def test_receive_stream_refuses_a_declared_length_over_the_limit_before_reading(tmp_path):
    stream = io.BytesIO(os.urandom(2 * MiB))
    with pytest.raises(UploadTooLarge) as refused:
        receive_stream(stream, declared_length=2 * MiB, max_bytes=MiB, temp_dir=str(tmp_path))
    assert refused.value.declared
    assert stream.tell() == 0  # nothing read
    assert leftovers(tmp_path) == []  # nothing written


@pytest.mark.parametrize("wrap", [io.BytesIO, ReadOnly], ids=["readinto", "read"])
def test_receive_stream_stops_a_body_that_grows_past_the_limit(tmp_path, wrap):
    with pytest.raises(UploadTooLarge) as refused:
        receive_stream(wrap(os.urandom(3 * MiB)), declared_length=None, max_bytes=MiB, temp_dir=str(tmp_path))
    assert not refused.value.declared
    assert leftovers(tmp_path) == []


def test_receive_stream_refuses_a_body_longer_than_declared(tmp_path):
    with pytest.raises(UploadLengthMismatch):
        receive_stream(io.BytesIO(b"x" * 5000), declared_length=100, max_bytes=MiB, temp_dir=str(tmp_path))
    assert leftovers(tmp_path) == []


def test_receive_stream_refuses_a_body_shorter_than_declared(tmp_path):
    with pytest.raises(UploadLengthMismatch) as short:
        receive_stream(io.BytesIO(b"x" * 100), declared_length=5000, max_bytes=MiB, temp_dir=str(tmp_path))
    assert (short.value.declared, short.value.received) == (5000, 100)
    assert leftovers(tmp_path) == []


class Endless:
    """Produces `total` bytes on demand without ever holding them."""

    def __init__(self, total: int) -> None:
        self.remaining = total
        self.block = b"\xab" * CHUNK_SIZE

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.remaining)
        buffer[:n] = self.block[:n]
        self.remaining -= n
        return n


def test_receive_stream_memory_stays_at_one_chunk(tmp_path):
    total = 64 * MiB
    tracemalloc.start()
    try:
        upload = receive_stream(Endless(total), declared_length=total, max_bytes=total, temp_dir=str(tmp_path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert upload.size == total
    assert peak < 3 * CHUNK_SIZE  # the reused buffer and some change, not the 64 MiB
    discard(upload)


# --- promote and discard ---------------------------------------------------------------------------------


def received(tmp_path, data: bytes) -> HashedUpload:
    spool = tmp_path / "spool"
    spool.mkdir(exist_ok=True)
    return receive_stream(io.BytesIO(data), declared_length=len(data), max_bytes=10 * MiB, temp_dir=str(spool))


def test_promote_moves_the_file_into_filesystem_storage_unchanged(tmp_path):
    data = os.urandom(MiB + 3)
    upload = received(tmp_path, data)
    temp_path = upload.temp_path
    storage = FileSystemStorage(location=tmp_path / "store")

    stored = promote(upload, storage=storage, name="exhibits/2026/ab12cd34.bin")

    assert stored == "exhibits/2026/ab12cd34.bin"
    assert upload.stored_name == stored
    with storage.open(stored, "rb") as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == upload.sha256
    assert not os.path.exists(temp_path)
    assert not upload.pending
    upload.close()  # Django's end-of-request close must not touch the stored exhibit
    assert storage.exists(stored)


def test_promote_never_overwrites_an_existing_exhibit(tmp_path):
    storage = FileSystemStorage(location=tmp_path / "store")
    first = received(tmp_path, b"first exhibit")
    promote(first, storage=storage, name="e/1.bin")
    second = received(tmp_path, b"second exhibit")

    with pytest.raises(FileExistsError):
        promote(second, storage=storage, name="e/1.bin")

    with storage.open("e/1.bin", "rb") as fh:
        assert fh.read() == b"first exhibit"
    assert second.pending and os.path.exists(second.temp_path)  # the caller may retry under another name
    assert promote(second, storage=storage, name="e/2.bin") == "e/2.bin"


def test_promote_copies_when_the_temporary_directory_is_on_another_filesystem(tmp_path, monkeypatch):
    data = os.urandom(300_000)
    upload = received(tmp_path, data)
    temp_path = upload.temp_path

    def cross_device(src, dst):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(uploads.os, "link", cross_device)
    storage = FileSystemStorage(location=tmp_path / "store")
    stored = promote(upload, storage=storage, name="x/y.bin")

    with storage.open(stored, "rb") as fh:
        assert fh.read() == data
    assert not os.path.exists(temp_path)


def test_promote_applies_the_storage_permissions(tmp_path):
    upload = received(tmp_path, b"data")
    storage = FileSystemStorage(location=tmp_path / "store", file_permissions_mode=0o640)
    stored = promote(upload, storage=storage, name="p.bin")
    assert stat.S_IMODE(os.stat(storage.path(stored)).st_mode) == 0o640


def test_promote_refuses_a_name_outside_the_storage(tmp_path):
    from django.core.exceptions import SuspiciousFileOperation

    upload = received(tmp_path, b"data")
    with pytest.raises(SuspiciousFileOperation):
        promote(upload, storage=FileSystemStorage(location=tmp_path / "store"), name="../escape.bin")
    assert upload.pending


def test_promote_saves_into_other_storages_through_their_api(tmp_path):
    data = os.urandom(200_000)
    upload = received(tmp_path, data)
    temp_path = upload.temp_path
    storage = InMemoryStorage()

    stored = promote(upload, storage=storage, name="exhibits/z.bin")

    with storage.open(stored, "rb") as fh:
        assert fh.read() == data
    assert not os.path.exists(temp_path)


def test_an_upload_promotes_or_discards_once(tmp_path):
    upload = received(tmp_path, b"data")
    discard(upload)
    discard(upload)  # harmless
    assert not os.path.exists(upload.temp_path)
    with pytest.raises(ValueError, match="already"):
        promote(upload, storage=FileSystemStorage(location=tmp_path / "store"), name="a.bin")


def test_a_forgotten_upload_is_deleted_when_it_is_garbage_collected(tmp_path):
    upload = received(tmp_path, b"data")
    temp_path = upload.temp_path
    del upload
    gc.collect()
    assert not os.path.exists(temp_path)


def test_reading_an_upload_through_the_file_api(tmp_path):
    data = os.urandom(CHUNK_SIZE + 10)
    upload = received(tmp_path, data)
    assert b"".join(upload.chunks()) == data  # streams from disk without opening the upload
    assert upload.pending
    with upload.open() as fh:
        assert fh.read() == data
    assert not upload.pending  # like TemporaryUploadedFile, closing the upload ends its life
