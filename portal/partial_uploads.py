"""Partial uploads: where they are spooled, and removing those a stopped web worker left behind.

An upload is written to `upload-*.part` in PORTAL_UPLOAD_TEMP_DIR while it arrives and hashes, then moved
into storage or deleted by the request that received it. A web worker killed mid-upload (out of memory,
SIGKILL, a machine that lost power) never reaches that cleanup, so its file would stay for good. Every
byte of an upload in progress is written as it arrives, so a partial file that nobody has written to for
PORTAL_UPLOAD_STALE_SECONDS is one no request is receiving any more: the sweep removes it and logs it.

The sweep runs when a web process starts (portal.wsgi), with the periodic control tasks (a worker sharing
the web machine's disk), and from `manage.py sweep_partial_uploads` (cron, on web machines without a
worker). Several processes may sweep the same folder at once: each file is removed once, by whoever
gets there first.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.utils.dateformat import format as date_format
from django.utils.timezone import localtime

logger = logging.getLogger(__name__)

PREFIX = "upload-"
SUFFIX = ".part"
DEFAULT_STALE_SECONDS = 3600


def upload_temp_dir() -> str | None:
    """Where partial uploads are spooled (None: the system default). Put it on the storage's filesystem so
    moving a finished upload into storage is a rename, not a copy."""
    return getattr(settings, "PORTAL_UPLOAD_TEMP_DIR", None) or None


def stale_after_seconds() -> int:
    return int(getattr(settings, "PORTAL_UPLOAD_STALE_SECONDS", DEFAULT_STALE_SECONDS))


@dataclass(frozen=True)
class SweepResult:
    removed: int = 0
    removed_bytes: int = 0
    kept: int = 0  # partial uploads still being written (or written to recently)


def partial_uploads_sweep(*, now: float | None = None) -> SweepResult:
    """Remove partial uploads nobody has written to for PORTAL_UPLOAD_STALE_SECONDS; log each one."""
    folder = upload_temp_dir() or tempfile.gettempdir()
    cutoff = (time.time() if now is None else now) - stale_after_seconds()
    removed = removed_bytes = kept = 0
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return SweepResult()
    for entry in entries:
        if not (entry.name.startswith(PREFIX) and entry.name.endswith(SUFFIX)):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if not entry.is_file(follow_symlinks=False):
                continue
            if info.st_mtime >= cutoff:
                kept += 1
                continue
            os.unlink(entry.path)
        except FileNotFoundError:
            continue  # finished, or removed by another sweeper, in the meantime
        removed += 1
        removed_bytes += info.st_size
        written = localtime(datetime.fromtimestamp(info.st_mtime, tz=UTC))
        logger.warning(
            "Removed a partial upload left by a web worker that stopped mid-upload: %s, %s bytes, "
            "last written %s (nothing had written to it for over %s seconds).",
            entry.path,
            info.st_size,
            date_format(written, "j M Y H:i:s e"),
            stale_after_seconds(),
        )
    return SweepResult(removed=removed, removed_bytes=removed_bytes, kept=kept)
