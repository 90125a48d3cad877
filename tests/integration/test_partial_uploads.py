"""A web worker killed mid-upload leaves its partial file; start-up and the periodic sweep remove it."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command

from portal.partial_uploads import PREFIX, SUFFIX, partial_uploads_sweep
from portal.tasks import partial_uploads_sweep_task

ROOT = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024

# A process receiving an upload exactly as the JavaScript path does (evidence.uploads.receive_stream on the
# request body), its body a pipe the test writes into: killed with SIGKILL, it gets no chance to clean up.
RECEIVER = """
import django, sys
django.setup()
from evidence.uploads import receive_stream, upload_temp_dir
size = int(sys.argv[1])
receive_stream(sys.stdin.buffer, declared_length=size, max_bytes=size, temp_dir=upload_temp_dir())
"""


@pytest.fixture
def spool(settings, tmp_path):
    path = tmp_path / "spool"
    path.mkdir()
    settings.PORTAL_UPLOAD_TEMP_DIR = str(path)
    settings.PORTAL_UPLOAD_STALE_SECONDS = 3600
    return path


def _env(spool: Path) -> dict[str, str]:
    # The suite's in-memory broker exists only inside this process; the child uses the configured default.
    inherited = {k: v for k, v in os.environ.items() if not v.startswith("memory://")}
    return {
        **inherited,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "PORTAL_UPLOAD_TEMP_DIR": str(spool),
        "PORTAL_UPLOAD_STALE_SECONDS": "3600",
        "PYTHONPATH": str(ROOT),
    }


def _partials(spool: Path) -> list[Path]:
    return sorted(p for p in spool.iterdir() if p.name.startswith(PREFIX) and p.name.endswith(SUFFIX))


def _kill_mid_upload(spool: Path) -> Path:
    """Start an upload of 64 MiB, send part of it, SIGKILL the receiver: return the file it left."""
    proc = subprocess.Popen(
        [sys.executable, "-c", RECEIVER, str(64 * MiB)], stdin=subprocess.PIPE, cwd=ROOT, env=_env(spool)
    )
    try:
        chunk = os.urandom(MiB)
        deadline = time.monotonic() + 60
        while not any(p.stat().st_size >= 3 * MiB for p in _partials(spool)):
            assert proc.poll() is None, "the receiver stopped on its own"
            assert time.monotonic() < deadline, "the receiver wrote nothing"
            proc.stdin.write(chunk)
            proc.stdin.flush()
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdin.close()
    (left,) = _partials(spool)
    return left


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_killed_receiver_leaves_its_partial_file_and_the_sweep_removes_it_once_stale(spool, caplog):
    left = _kill_mid_upload(spool)
    size = left.stat().st_size
    assert size >= 3 * MiB  # the fault: nothing removed it

    # Just killed, it looks like an upload still arriving: the sweep leaves it alone.
    result = partial_uploads_sweep()
    assert (result.removed, result.kept) == (0, 1)
    assert left.exists()

    _age(left, 3601)
    with caplog.at_level(logging.WARNING, logger="portal.partial_uploads"):
        result = partial_uploads_sweep()
    assert (result.removed, result.removed_bytes, result.kept) == (1, size, 0)
    assert not left.exists()
    (logged,) = [r.getMessage() for r in caplog.records if r.name == "portal.partial_uploads"]
    assert str(left) in logged and f"{size} bytes" in logged and "stopped mid-upload" in logged


def test_a_web_process_starting_removes_stale_partials_and_keeps_uploads_in_progress(spool):
    stale = _kill_mid_upload(spool)
    _age(stale, 7200)
    in_progress = spool / f"{PREFIX}in-progress{SUFFIX}"
    in_progress.write_bytes(b"x" * 1000)
    unrelated = spool / "notes.txt"
    unrelated.write_text("not an upload")

    started = subprocess.run(
        [sys.executable, "-c", "import portal.wsgi"], cwd=ROOT, env=_env(spool), capture_output=True, text=True
    )
    assert started.returncode == 0, started.stderr
    assert not stale.exists()
    assert in_progress.exists() and unrelated.exists()
    assert f"Removed a partial upload left by a web worker that stopped mid-upload: {stale}" in started.stderr


def test_the_periodic_sweep_and_the_command_remove_stale_partials(spool, caplog):
    names = [spool / f"{PREFIX}{n}{SUFFIX}" for n in ("a", "b")]
    for path in names:
        path.write_bytes(b"\0" * 2048)
        _age(path, 4000)
    fresh = spool / f"{PREFIX}fresh{SUFFIX}"
    fresh.write_bytes(b"\0")

    schedule = {entry["task"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()}
    assert partial_uploads_sweep_task.name in schedule
    assert partial_uploads_sweep_task.apply().get() == {"removed": 2, "removed_bytes": 4096, "kept": 1}
    assert _partials(spool) == [fresh]

    _age(fresh, 4000)
    out = StringIO()
    call_command("sweep_partial_uploads", stdout=out)
    said = out.getvalue().replace("\xa0", " ")
    assert f"{spool}: removed 1 partial upload(s) (1 byte) untouched for over 3600 seconds; 0 still" in said
    assert _partials(spool) == []
