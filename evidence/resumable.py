"""Resumable exhibit uploads (the tus 1.0 protocol: core, creation, termination, expiration).

An upload is created with its length and the exhibit's details, then its bytes arrive in any number of
PATCH requests, each starting where the server's copy ends. After a dropped connection, a restarted server
or a closed laptop lid, the client asks (HEAD) how much the server holds and sends the rest: nothing is
sent twice and nothing is lost but the bytes of an interrupted request that never reached the disk.

The bytes live in `resumable-<id>.part` in PORTAL_UPLOAD_TEMP_DIR, encrypted: AES-256-CTR under a data key
of the upload's own, wrapped by the key-encryption key (PORTAL_FILE_KEYS) and kept in the database row, not
beside the file (portal/spoolcrypt.py), so a stolen disk holds no original bytes even of an upload
abandoned mid-way. Byte N of the file is byte N of the original, encrypted: pieces append at any offset.
The row records how many bytes are durable (written and fsynced every CHECKPOINT_BYTES and at the end of
each request). On the next request a file longer than the row (the server was killed mid-request) is cut
back to the row's offset, so what is kept has always been written completely. When the last byte arrives,
the file is decrypted in one pass from the start, hashed (so the SHA-256 covers the whole file exactly once,
however many requests and restarts it took) and sealed in the stored format into a temporary file beside
it, as the one-request path spools; then it is sniffed and submitted through the one rule
(`evidence.services.exhibit_submit`), which can still refuse: a volunteer whose permission lapsed meanwhile
is refused with the policy's reasons and the partial file is removed. The policy is also asked at creation
and before each request's bytes are taken. An upload started before partial files were encrypted (its row
has no key) has a plaintext partial file, and is continued and completed as such.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from evidence.models import Exhibit, ResumableUpload, Tasking
from evidence.policy import submission_decision
from evidence.uploads import (
    CHUNK_SIZE,
    HashedUpload,
    NoSpaceForUpload,
    UploadTooLarge,
    discard,
    is_no_space,
    max_upload_bytes,
    spool_pieces,
    stores_sealed,
)
from portal.encrypted_storage import file_keys
from portal.filecrypt import FileDecryptionError
from portal.models import User
from portal.partial_uploads import upload_temp_dir
from portal.spoolcrypt import WrappedSpoolKey, keystream_at, spool_key_new, spool_key_unwrap

logger = logging.getLogger(__name__)

PREFIX = "resumable-"
# Within one request, the bytes are made durable and recorded every this many: a server killed (or a
# database that restarts) mid-request costs at most this much of the upload.
CHECKPOINT_BYTES = 8 * 1024 * 1024


class ResumableRefused(Exception):
    """The policy refused the volunteer: the reasons are hers to read. The partial upload is gone."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(" ".join(reasons))
        self.reasons = reasons


class PartUnreadable(Exception):
    """The partial file's data key no longer unwraps (its key-encryption key was removed from
    PORTAL_FILE_KEYS, or the row was altered): the bytes held cannot be read. The partial upload is gone."""


class OffsetMismatch(Exception):
    """A request did not start where the server's copy ends (tus answers 409 with the right offset)."""

    def __init__(self, expected: int) -> None:
        super().__init__(f"The upload continues at byte {expected}.")
        self.expected = expected


def expiry_hours() -> int:
    return int(getattr(settings, "PORTAL_RESUMABLE_EXPIRY_HOURS", 72))


def part_path(upload: ResumableUpload) -> Path:
    return Path(upload_temp_dir() or tempfile.gettempdir()) / f"{PREFIX}{upload.pk}.part"


def _refusal(user: User, tasking: Tasking) -> list[str]:
    decision = submission_decision(user=user, tasking=tasking)
    return [] if decision.allowed else [reason.volunteer for reason in decision.reasons]


def resumable_create(
    *, user: User, tasking: Tasking, length: int, details: dict[str, Any], name: str
) -> ResumableUpload:
    """Start an upload of `length` bytes. Refuses before any byte when the policy or the size says no."""
    reasons = _refusal(user, tasking)
    if reasons:
        raise ResumableRefused(reasons)
    limit = max_upload_bytes()
    if length > limit:
        raise UploadTooLarge(limit=limit, size=length, declared=True)
    _, wrapped = spool_key_new(file_keys()[0])
    upload = ResumableUpload.objects.create(
        spool_kek_id=wrapped.kek_id,
        spool_key=wrapped.wrapped,
        user=user,
        tasking=tasking,
        length=length,
        details=details,
        name=name[:255],
        expires_at=timezone.now() + timedelta(hours=expiry_hours()),
    )
    try:
        with open(part_path(upload), "xb") as fh:
            os.fsync(fh.fileno())
    except OSError as exc:
        upload.delete()
        if is_no_space(exc):
            raise NoSpaceForUpload(exc, folder=upload_temp_dir()) from exc
        raise
    return upload


def resumable_offset(upload: ResumableUpload) -> int:
    """How many bytes the server holds for certain: the row's offset (the file is cut back to it)."""
    path = part_path(upload)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return upload.offset  # checked by the caller through resumable_append
    if size > upload.offset:
        # A request was cut short by a killed server: its bytes after the last recorded offset may be partial.
        os.truncate(path, upload.offset)
    return upload.offset


def _part_key_or_discard(upload: ResumableUpload) -> bytes | None:
    """The partial file's data key; None when the row has none: an upload started before partial files
    were encrypted, whose partial file is plaintext. A key that no longer unwraps makes the bytes held
    unreadable: the upload is discarded (the client then starts again) and PartUnreadable raised."""
    if upload.spool_key is None:
        return None
    wrapped = WrappedSpoolKey(kek_id=bytes(upload.spool_kek_id or b""), wrapped=bytes(upload.spool_key))
    try:
        return spool_key_unwrap(wrapped, file_keys())
    except FileDecryptionError as exc:
        logger.error("Resumable upload %s was removed: %s.", upload.pk, exc)
        resumable_discard(upload)
        raise PartUnreadable(str(exc)) from exc


def _checkpoint(upload: ResumableUpload, fh, offset: int) -> None:
    """Make the bytes so far durable, then record them: a server killed after this resumes from here."""
    fh.flush()
    os.fsync(fh.fileno())
    now = timezone.now()
    expires = now + timedelta(hours=expiry_hours())
    ResumableUpload.objects.filter(pk=upload.pk).update(offset=offset, updated_at=now, expires_at=expires)
    upload.offset, upload.updated_at, upload.expires_at = offset, now, expires


def resumable_append(
    *, upload: ResumableUpload, offset: int, read: Callable[[int], bytes], declared: int | None
) -> ResumableUpload:
    """Append a request's body at `offset` (which must be where the server's copy ends). Bytes that
    arrived before a dropped connection are kept. Returns the upload with its new offset."""
    reasons = _refusal(upload.user, upload.tasking)
    if reasons:
        resumable_discard(upload)
        raise ResumableRefused(reasons)
    expected = resumable_offset(upload)
    if offset != expected:
        raise OffsetMismatch(expected)
    room = upload.length - expected
    if declared is not None and declared > room:
        raise UploadTooLarge(limit=upload.length, size=expected + declared, declared=True)
    key = _part_key_or_discard(upload)
    path = part_path(upload)
    written = 0
    interrupted: BaseException | None = None
    try:
        with open(path, "r+b") as fh:
            fh.seek(expected)
            keystream = keystream_at(key, expected) if key is not None else None
            since_checkpoint = 0
            while written < room:
                try:
                    data = read(min(CHUNK_SIZE, room - written))
                except OSError as exc:  # UnreadablePostError: the connection dropped; keep what arrived
                    interrupted = exc
                    break
                if not data:
                    break
                fh.write(keystream.update(data) if keystream is not None else data)
                written += len(data)
                since_checkpoint += len(data)
                if since_checkpoint >= CHECKPOINT_BYTES:
                    _checkpoint(upload, fh, expected + written)
                    since_checkpoint = 0
            _checkpoint(upload, fh, expected + written)
    except OSError as exc:
        if is_no_space(exc):
            os.truncate(path, upload.offset)  # back to the last durable byte: earlier bytes are kept
            raise NoSpaceForUpload(exc, folder=upload_temp_dir()) from exc
        raise
    if interrupted is not None:
        logger.info(
            "Resumable upload %s paused at byte %s of %s: %s", upload.pk, upload.offset, upload.length, interrupted
        )
    return upload


@dataclass(frozen=True)
class Completed:
    exhibit: Exhibit
    sha256: str


def resumable_complete(
    *, upload: ResumableUpload, accept: Callable[[HashedUpload, dict[str, Any]], Exhibit]
) -> Completed:
    """The last byte is in: decrypt the whole file once, hashing it and sealing it (for a storage that
    encrypts) into a received upload beside it, then hand that to `accept` (which sniffs it and asks the
    one rule), as the one-request path does. Afterwards the partial file is gone; the row stays, naming the
    exhibit, if it was accepted (so asking again is answered with the same exhibit), and goes if it was
    refused."""
    path = part_path(upload)
    accepted = False
    received: HashedUpload | None = None
    try:
        reasons = _refusal(upload.user, upload.tasking)
        if reasons:
            raise ResumableRefused(reasons)
        key = _part_key_or_discard(upload)
        with contextlib.closing(_original_pieces(path, key)) as pieces:
            received = spool_pieces(pieces, temp_dir=upload_temp_dir(), seal=stores_sealed(), name=upload.name or None)
        exhibit = accept(received, upload.details)
        accepted = True
    finally:
        if received is not None:
            discard(received)  # promote() moved it into storage already, if it was accepted
        if accepted:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        else:
            resumable_discard(upload)
    ResumableUpload.objects.filter(pk=upload.pk).update(exhibit=exhibit, offset=upload.length)
    upload.exhibit, upload.offset = exhibit, upload.length
    return Completed(exhibit=exhibit, sha256=received.sha256)


def _original_pieces(path: Path, key: bytes | None):
    """The partial file's original bytes, a chunk at a time (a plaintext partial file's as they are)."""
    keystream = keystream_at(key, 0) if key is not None else None
    with open(path, "rb") as fh:
        while data := fh.read(CHUNK_SIZE):
            yield keystream.update(data) if keystream is not None else data


def resumable_discard(upload: ResumableUpload) -> None:
    """Remove the partial file and its row (termination, refusal, completion, expiry)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(part_path(upload))
    with transaction.atomic():
        ResumableUpload.objects.filter(pk=upload.pk).delete()


def resumable_expire(*, now=None) -> int:
    """Remove uploads nobody has continued for PORTAL_RESUMABLE_EXPIRY_HOURS (logged), and the records of
    completed ones as old."""
    now = now or timezone.now()
    removed = 0
    for upload in ResumableUpload.objects.filter(expires_at__lt=now):
        if upload.exhibit_id is not None:  # completed long ago: only the record of it goes
            upload.delete()
            continue
        logger.warning(
            "Removed a resumable upload nobody continued: %s (%s of %s bytes, %s, last continued %s).",
            upload.pk,
            upload.offset,
            upload.length,
            upload.name,
            upload.updated_at,
        )
        resumable_discard(upload)
        removed += 1
    return removed


__all__ = [
    "Completed",
    "OffsetMismatch",
    "PartUnreadable",
    "ResumableRefused",
    "resumable_append",
    "resumable_complete",
    "resumable_create",
    "resumable_discard",
    "resumable_expire",
    "resumable_offset",
]
