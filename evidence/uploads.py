"""Receive exhibit uploads to a temporary file while hashing them in one pass, then move them into storage."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.core.files.storage import FileSystemStorage, Storage
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload, UploadFileException
from django.http import HttpRequest, JsonResponse
from django.utils._os import safe_makedirs

from portal import partial_uploads
from portal.partial_uploads import upload_temp_dir

__all__ = [
    "CHUNK_SIZE",
    "HEAD_SIZE",
    "HashedUpload",
    "HashingFileUploadHandler",
    "NoSpaceForUpload",
    "UploadLengthMismatch",
    "UploadTooLarge",
    "discard",
    "is_no_space",
    "max_upload_bytes",
    "promote",
    "receive_stream",
    "spool_pieces",
    "stores_sealed",
    "upload_temp_dir",
]

CHUNK_SIZE = 1024 * 1024  # big enough that hashlib (1.1-1.5 GB/s here) and the disk, not Python, set the pace
HEAD_SIZE = 8 * 1024  # bytes kept in memory for type sniffing (evidence.sniff needs at least 4096)
DEFAULT_MAX_UPLOAD_BYTES = 2 * 1024**3
# Room for the rest of a multipart body (boundaries, part headers) beyond the form fields, which Django
# already caps at DATA_UPLOAD_MAX_MEMORY_SIZE. Used only to refuse on the declared Content-Length early.
_MULTIPART_SLACK = 1024 * 1024
# link() failures that mean "this filesystem pair cannot hard-link", so copying is the way across.
_CANNOT_LINK = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS}
# Errors that mean "the disk (or the account's quota on it) is full": the upload cannot be kept now.
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}

logger = logging.getLogger(__name__)


def stores_sealed() -> bool:
    """Whether exhibit uploads should be encrypted as they arrive: when the storage they go to encrypts."""
    from django.core.files.storage import default_storage

    return bool(getattr(default_storage, "encrypts", False))


def max_upload_bytes() -> int:
    """The per-request cap on uploaded file bytes, read at call time so tests and deployments can change it."""
    return int(getattr(settings, "PORTAL_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES))


class UploadTooLarge(StopUpload):
    """The upload is (or declares itself) bigger than the limit. Nothing of it is kept."""

    def __init__(self, *, limit: int, size: int, declared: bool) -> None:
        # connection_reset=True: Django stops reading the request body instead of draining gigabytes.
        super().__init__(connection_reset=True)
        self.limit = limit
        self.size = size  # the declared length, or the bytes received when the limit was passed
        self.declared = declared

    def __str__(self) -> str:
        how = "declares" if self.declared else "reached"
        return f"Upload {how} {self.size} bytes; the limit is {self.limit} bytes."


class UploadLengthMismatch(UploadFileException):
    """The body was shorter or longer than its declared length (a dropped connection, a lying client)."""

    def __init__(self, *, declared: int, received: int) -> None:
        super().__init__(f"Upload declared {declared} bytes but {received} arrived.")
        self.declared = declared
        self.received = received


class NoSpaceForUpload(UploadFileException):
    """The disk holding partial uploads (or the storage) is full. Nothing of the upload is kept; the rest of
    the request body has been read, so the client receives the answer instead of a broken connection."""

    def __init__(self, cause: OSError, *, folder: str | None = None) -> None:
        super().__init__(f"No room to store the upload: {cause.strerror or cause}")
        self.cause = cause
        self.folder = folder


def is_no_space(exc: BaseException) -> bool:
    """True for an error that means the disk or its quota is full (also when storage raised it)."""
    return isinstance(exc, NoSpaceForUpload) or (isinstance(exc, OSError) and exc.errno in _NO_SPACE)


def _no_space(exc: OSError, folder: str | None) -> NoSpaceForUpload:
    logger.error(
        "An upload was refused because the disk is full (%s) in %s. Free space there, or move "
        "PORTAL_UPLOAD_TEMP_DIR and the storage to a larger disk.",
        exc.strerror or exc,
        folder or tempfile.gettempdir(),
    )
    return NoSpaceForUpload(exc, folder=folder)


def _unlink_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _client_name(name: str | None) -> str | None:
    """The client's file name reduced to something safe to display; never used to build a path."""
    if not name:
        return None
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable())
    return None if name in {"", ".", ".."} else name


class HashedUpload(UploadedFile):
    """A received upload: spooled to `temp_path`, with its SHA-256, size and first bytes already known.

    The temporary file lives exactly as long as this object, like Django's TemporaryUploadedFile: close(),
    discard() or garbage collection delete it, unless promote() has moved it into storage first. Django
    closes every file in request.FILES when the response is finished, so an upload the view did not promote
    never outlives its request. To read it without ending its life, open `temp_path` yourself.
    """

    def __init__(
        self,
        *,
        temp_path: str,
        size: int,
        sha256: str,
        head: bytes,
        name: str | None = None,
        content_type: str = "",
        charset: str | None = None,
        content_type_extra: dict[str, Any] | None = None,
        field_name: str | None = None,
        sealed: bool = False,
    ) -> None:
        super().__init__(None, _client_name(name), content_type, size, charset, content_type_extra)
        self.temp_path = temp_path
        # Sealed: the temporary file is already in the storage's encrypted format (portal/filecrypt.py), so
        # the original never touches the disk and promote() moves the file as it is.
        self.sealed = sealed
        self.sha256 = sha256  # hex digest of every byte received
        self.head = head  # the first HEAD_SIZE bytes (or all of a smaller file), for evidence.sniff
        self.field_name = field_name
        self.stored_name: str | None = None  # set by promote()
        self._cleanup = weakref.finalize(self, _unlink_quietly, temp_path)

    @property
    def pending(self) -> bool:
        """True while the temporary file is still ours to promote or discard."""
        return self._cleanup.alive

    def temporary_file_path(self) -> str:
        return self.temp_path

    def open(self, mode: str = "rb") -> HashedUpload:
        if mode not in ("r", "rb"):
            raise ValueError("An upload is read-only: its hash is already recorded.")
        if not self.pending:
            raise ValueError("This upload was already promoted or discarded.")
        if self.file is not None and not self.file.closed:
            self.file.seek(0)
        else:
            self.file = self.reader()
        return self

    def reader(self):
        """A new read-only handle on the upload's original bytes (decrypted when sealed): close it."""
        raw = open(self.temp_path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
        if not self.sealed:
            return raw
        from portal.encrypted_storage import file_keys
        from portal.filecrypt import DecryptingReader

        return DecryptingReader(raw, file_keys())

    def chunks(self, chunk_size: int | None = None) -> Iterator[bytes]:
        # File.chunks() reads self.file, which stays None until open(): stream from disk on our own handle.
        with self.reader() as fh:
            while data := fh.read(chunk_size or self.DEFAULT_CHUNK_SIZE):
                yield data

    def close(self) -> None:
        discard(self)

    def _close_handle(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


class _Spool:
    """One temporary file being written, hashed and measured in the same pass (and, sealed, encrypted in it
    too, so the original never reaches the disk)."""

    def __init__(self, temp_dir: str | None, *, seal: bool = False) -> None:
        self._dir = temp_dir
        # Our own name, never the client's: nothing they send reaches a path. delete=False because the
        # finished file must outlive this handle until promote() moves it; the finalizer covers crashes.
        try:
            self._fh = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives across many receive calls
                mode="wb", dir=temp_dir, prefix=partial_uploads.PREFIX, suffix=partial_uploads.SUFFIX, delete=False
            )
        except OSError as exc:
            if exc.errno in _NO_SPACE:
                raise _no_space(exc, temp_dir) from exc
            raise
        self.path = self._fh.name
        self._cleanup = weakref.finalize(self, _unlink_quietly, self.path)
        self._sha = hashlib.sha256()
        self._head = bytearray()
        self.size = 0
        self._sealer = None
        if seal:
            from portal.encrypted_storage import file_keys
            from portal.filecrypt import Sealer

            self._sealer = Sealer(file_keys()[0])
            self._write(self._sealer.header)

    def write(self, data: bytes | memoryview) -> None:
        self._sha.update(data)
        if len(self._head) < HEAD_SIZE:
            self._head += data[: HEAD_SIZE - len(self._head)]
        self._write(self._sealer.update(data) if self._sealer else data)
        self.size += len(data)

    def _write(self, data: bytes | memoryview) -> None:
        try:
            self._fh.write(data)
        except OSError as exc:
            if exc.errno in _NO_SPACE:
                raise _no_space(exc, self._dir) from exc
            raise

    def finish(self, **details: Any) -> HashedUpload:
        if self._sealer is not None:
            self._write(self._sealer.finish())
        try:
            self._fh.flush()
            # The hash is about to be recorded as the exhibit's identity: make sure the bytes it describes
            # survive a crash, not just sit in the page cache.
            os.fsync(self._fh.fileno())
            self._fh.close()
        except OSError as exc:
            if exc.errno in _NO_SPACE:
                raise _no_space(exc, self._dir) from exc
            raise
        upload = HashedUpload(
            temp_path=self.path,
            size=self.size,
            sha256=self._sha.hexdigest(),
            head=bytes(self._head),
            sealed=self._sealer is not None,
            **details,
        )
        self._cleanup.detach()  # the HashedUpload owns the file now
        return upload

    def abort(self) -> None:
        try:
            with contextlib.suppress(OSError):  # a full disk refuses even the last buffered bytes: unlinked anyway
                self._fh.close()
        finally:
            self._cleanup()  # unlinks once; later calls do nothing


class HashingFileUploadHandler(FileUploadHandler):
    """Multipart (no-JavaScript) uploads: each file goes to disk through SHA-256, never into memory.

    Install it before anything reads request.POST or request.FILES (CsrfViewMiddleware does: use
    csrf_exempt on the outer view and csrf_protect on an inner one, as Django's upload-handler docs show):

        handler = HashingFileUploadHandler(request)
        request.upload_handlers = [handler]
        if handler.refused: ...  # after touching request.FILES: too large, nothing was kept

    PORTAL_MAX_UPLOAD_BYTES caps the file bytes of the whole request, so N files cannot fill N times the
    disk. Past the cap Django stops reading; every file of the request is deleted and `refused` says why.
    When the disk is full, every file of the request is deleted too, the rest of the body is read and
    dropped (so the client gets the answer, not a broken connection) and `no_space` says so.
    """

    chunk_size = CHUNK_SIZE

    def __init__(self, request: HttpRequest | None = None, *, seal: bool = False) -> None:
        super().__init__(request)
        self.seal = seal  # spool files already encrypted, for a storage that encrypts (promote() moves them)
        self.max_bytes = max_upload_bytes()
        self.temp_dir = upload_temp_dir()
        self.refused: UploadTooLarge | None = None
        self.no_space: NoSpaceForUpload | None = None
        self._declared_body: int | None = None
        self._received = 0
        self._spool: _Spool | None = None
        self._completed: list[HashedUpload] = []

    def handle_raw_input(
        self, input_data: Any, META: dict[str, Any], content_length: int, boundary: bytes, encoding: str | None = None
    ) -> None:
        self._declared_body = content_length
        return None  # let Django's multipart parser do the parsing

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self._abort_spool()  # a previous file skipped by another handler never reached file_complete
        # A body declaring more than the cap plus the most the form fields may take cannot fit: refuse
        # before writing a byte rather than spool gigabytes first. Without a fields cap we cannot tell.
        fields_cap, declared = settings.DATA_UPLOAD_MAX_MEMORY_SIZE, self._declared_body
        if None not in (fields_cap, declared) and declared > self.max_bytes + fields_cap + _MULTIPART_SLACK:
            self._refuse(UploadTooLarge(limit=self.max_bytes, size=declared, declared=True))
        if self.no_space is not None:
            return  # the disk is full: the rest of the body is read and dropped
        try:
            self._spool = _Spool(self.temp_dir, seal=self.seal)
        except NoSpaceForUpload as exc:
            self._ran_out_of_space(exc)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self._received += len(raw_data)
        if self._received > self.max_bytes:
            self._refuse(UploadTooLarge(limit=self.max_bytes, size=self._received, declared=False))
        if self._spool is None:
            return None  # after a full disk: dropped
        try:
            self._spool.write(raw_data)
        except NoSpaceForUpload as exc:
            self._ran_out_of_space(exc)
        return None  # we consumed the chunk: no later handler gets it

    def file_complete(self, file_size: int) -> HashedUpload | None:
        spool, self._spool = self._spool, None
        if spool is None:
            return None
        try:
            upload = spool.finish(
                name=self.file_name,
                content_type=self.content_type or "",
                charset=self.charset,
                content_type_extra=self.content_type_extra,
                field_name=self.field_name,
            )
        except NoSpaceForUpload as exc:
            spool.abort()
            self._ran_out_of_space(exc)
            return None
        self._completed.append(upload)
        return upload

    def upload_interrupted(self) -> None:
        # The body ended inside a file part (client gave up): that partial file is worthless.
        self._abort_spool()

    def upload_complete(self) -> None:
        # Also reached after StopUpload: whatever is still being spooled will never complete.
        self._abort_spool()

    def abort(self) -> None:
        """Delete everything this handler wrote. For views that catch an error raised while parsing
        (a dropped connection raises out of request.FILES without calling any handler hook)."""
        self._abort_spool()
        for upload in self._completed:
            discard(upload)

    def _abort_spool(self) -> None:
        spool, self._spool = self._spool, None
        if spool is not None:
            spool.abort()

    def _ran_out_of_space(self, exc: NoSpaceForUpload) -> None:
        # All or nothing, as for a request over the cap; but Django keeps reading, so the client is answered.
        self.no_space = exc
        self.abort()

    def _refuse(self, exc: UploadTooLarge) -> None:
        # All or nothing: a request over the cap keeps none of its files, including ones already complete.
        self.refused = exc
        self.abort()
        raise exc


class _Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


def receive_stream(
    stream: _Readable,
    *,
    declared_length: int | None,
    max_bytes: int,
    temp_dir: str | None = None,
    chunk_size: int = CHUNK_SIZE,
    name: str | None = None,
    content_type: str = "",
    seal: bool = False,
) -> HashedUpload:
    """Spool a raw request body (the JavaScript path) to a temporary file, hashing it on the way.

    Refuses with UploadTooLarge before reading when `declared_length` is over `max_bytes`, and as soon as
    the body passes `max_bytes`; raises UploadLengthMismatch when the body does not match `declared_length`.
    On any error nothing is left on disk. Memory use is one chunk, whatever the file's size. `name` and
    `content_type` are the client's claims, kept for display only.
    """
    if declared_length is not None:
        if declared_length < 0:
            raise ValueError("declared_length cannot be negative")
        if declared_length > max_bytes:
            raise UploadTooLarge(limit=max_bytes, size=declared_length, declared=True)
    # Past the declared length the body is wrong whatever follows: stop there instead of at max_bytes.
    stop_after = max_bytes if declared_length is None else declared_length
    try:
        spool = _Spool(temp_dir, seal=seal)
    except NoSpaceForUpload:
        _drain(stream, stop_after, chunk_size)
        raise
    try:
        readinto = getattr(stream, "readinto", None)
        if readinto is not None:
            # One buffer reused for the whole body: no per-chunk allocation, and the hash and the write
            # both read the same memory through slices of the view.
            view = memoryview(bytearray(chunk_size))
            while n := readinto(view):
                _check_length(spool.size + n, stop_after, declared_length, max_bytes)
                spool.write(view[:n])
        else:
            while data := stream.read(chunk_size):
                _check_length(spool.size + len(data), stop_after, declared_length, max_bytes)
                spool.write(data)
        if declared_length is not None and spool.size != declared_length:
            raise UploadLengthMismatch(declared=declared_length, received=spool.size)
        return spool.finish(name=name, content_type=content_type)
    except NoSpaceForUpload:
        spool.abort()
        # Read the rest and drop it: answering while the body still arrives breaks the client's connection,
        # and the volunteer would see a network error instead of why. Never past what was declared (the
        # request's own stream stops at its Content-Length).
        _drain(stream, stop_after - spool.size, chunk_size)
        raise
    except BaseException:
        spool.abort()
        raise


def spool_pieces(pieces: Iterable[bytes], *, temp_dir: str | None, seal: bool, name: str | None = None) -> HashedUpload:
    """Spool original bytes that arrived earlier (a resumable upload's partial file, decrypted) as a received
    upload, hashed and measured in the same pass, and sealed for a storage that encrypts, as receive_stream
    does. Memory is one piece. On any error nothing is left on disk (NoSpaceForUpload for a full disk)."""
    spool = _Spool(temp_dir, seal=seal)
    try:
        for piece in pieces:
            spool.write(piece)
        return spool.finish(name=name)
    except BaseException:
        spool.abort()
        raise


def _drain(stream: _Readable, remaining: int, chunk_size: int) -> None:
    while remaining > 0 and (data := stream.read(min(chunk_size, remaining))):
        remaining -= len(data)


def _check_length(size: int, stop_after: int, declared_length: int | None, max_bytes: int) -> None:
    if size <= stop_after:
        return
    if declared_length is None:
        raise UploadTooLarge(limit=max_bytes, size=size, declared=False)
    raise UploadLengthMismatch(declared=declared_length, received=size)


def discard(upload: HashedUpload) -> None:
    """Delete the upload's temporary file (safe to call twice, or after promote())."""
    upload._close_handle()
    upload._cleanup()


def promote(upload: HashedUpload, *, storage: Storage, name: str) -> str:
    """Move the upload into `storage` under `name` (generated by the caller) and return the stored name.

    The bytes are never read into memory. On a folder storage whose format the temporary file already has
    (plain, or sealed for one that encrypts) the file is hard-linked into place (a rename that refuses to
    overwrite: an existing exhibit is never replaced, FileExistsError instead), or copied when the temporary
    directory is on another filesystem. A sealed upload goes to an encrypting bucket as it is; anything
    else gets storage.save().
    """
    if not upload.pending:
        raise ValueError("This upload was already promoted or discarded.")
    upload._close_handle()
    encrypts = getattr(storage, "encrypts", False)
    if isinstance(storage, FileSystemStorage) and upload.sealed == encrypts:
        # The temporary file is already what the storage holds: plain for a plain folder, sealed for one
        # that encrypts. Linked into place: no second pass over the bytes.
        stored = _move_into_filesystem(upload.temp_path, storage, name)
    elif upload.sealed and encrypts:
        with open(upload.temp_path, "rb") as fh:
            stored = storage.save_raw(name, File(fh, name=name))  # a bucket that encrypts: sent as sealed
    else:
        with upload.reader() as fh:
            stored = storage.save(name, File(fh, name=name))
    upload.stored_name = stored
    discard(upload)  # the temporary name, if it still exists after a copy
    return stored


def _move_into_filesystem(source: str, storage: FileSystemStorage, name: str) -> str:
    target = storage.path(name)  # safe_join: a name escaping the storage root raises SuspiciousFileOperation
    directory = os.path.dirname(target)
    if storage.directory_permissions_mode is not None:
        # Django's own helper: applies the mode to every level without touching the process umask.
        safe_makedirs(directory, storage.directory_permissions_mode, exist_ok=True)
    else:
        os.makedirs(directory, exist_ok=True)
    try:
        # link() + unlink() instead of os.replace(): replace would silently overwrite an existing file.
        os.link(source, target)
    except OSError as exc:
        if exc.errno not in _CANNOT_LINK:
            raise
        _copy_exclusively(source, target)
    os.unlink(source)
    if storage.file_permissions_mode is not None:
        os.chmod(target, storage.file_permissions_mode)  # temp files are 0600; honour the storage's setting
    _fsync_directory(directory)  # make the new directory entry as durable as the bytes
    return name


def _copy_exclusively(source: str, target: str) -> None:
    # Claim the name first (O_EXCL), then let copyfile use the kernel's zero-copy path into it.
    with open(target, "xb"):
        pass
    try:
        shutil.copyfile(source, target)
        with open(target, "rb+") as fh:
            os.fsync(fh.fileno())
    except BaseException:
        _unlink_quietly(target)
        raise


def _fsync_directory(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


UNACCEPTABLE_TYPE = (
    "This type of file cannot be accepted as an exhibit. Upload images, PDFs, text, CSV, JSON, HTML or MHTML "
    "chat exports, MP4 or WebM video, or WAV or MP3 audio."
)


def accept_upload(user, tasking, upload, data: dict):
    """What every upload path (the form, the script's stream, the resumable upload) does once the bytes are
    on disk: sniff what the file really is, then ask the one rule and record the exhibit (services)."""
    from django.core.files.storage import default_storage

    from evidence import services
    from evidence.sniff import sniff

    sniffed = sniff(upload.head, name_hint=upload.name or "")
    if sniffed is None:
        raise ValidationError(UNACCEPTABLE_TYPE)
    return services.exhibit_submit(
        user=user,
        tasking=tasking,
        upload=upload,
        sniffed_type=sniffed.mime,
        description=data["description"],
        platform=data["platform"],
        other_party=data["other_party"],
        url=data["url"],
        captured_at=data["captured_at"],
        capture_method=data["capture_method"],
        browser_sha256=data.get("browser_sha256", ""),
        quarantined=data["possible_indecent_image"],
        distressing=data.get("distressing", False),
        store=lambda received, name: promote(received, storage=default_storage, name=name),
    )


def refusal_json(status: int, messages: list[str], fields: dict | None = None) -> JsonResponse:
    """A refused upload, as the page's script reads it on every path: {"errors": {"__all__": [...], field: [...]}}."""
    return JsonResponse({"errors": {"__all__": messages, **(fields or {})}}, status=status)
