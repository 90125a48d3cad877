"""A 1 GiB exhibit through the real endpoints and storage, over HTTP on loopback, against openssl (same run):
with the portal's encrypted storage and, beside it, with plain unencrypted storage.

The JavaScript path (the file as the raw request body, POST /taskings/<id>/exhibits/stream/) and the
no-JavaScript path (multipart/form-data, POST /taskings/<id>/exhibits/, the form on the exhibits page) are
each sent from the file on disk, streamed in chunks with an exact Content-Length, to two real gunicorns (one
sync worker each) over the same throwaway database and storage folder: one with the portal's settings (the
default storage encrypts every file, portal/encrypted_storage.py) and one with bench/plain_storage_settings.py
(the same settings, the default storage a plain FileSystemStorage at the same folder; benchmark only).
Reported per path and storage: MiB/s, the ratio to `openssl dgst -sha256` over the same file (goal for the
streamed path with encryption: >= 0.4) and the peak RSS of the gunicorn worker during the upload (goal:
< 150 MiB, every path). Each upload is checked: the exhibit's recorded SHA-256 must be the file's. Stored with
encryption, the bytes on disk must not be the file (larger by the format's header and tags, the header where
the file's first 64 bytes were) while reading them back through the storage in this process and downloading
them through /exhibits/<id>/download/ from a third gunicorn (the portal's settings, downloads only, so the
uploading workers' memory is the uploads') both give the file's SHA-256; stored plainly, the bytes on disk
must be the file's. All three servers and this process get the same DJANGO_SECRET_KEY and PORTAL_FILE_KEYS,
made up for the run. For context (not a goal), the speed of writing and fsyncing the same bytes on the same
disk is reported too: every upload does that. Then, in this process, the two steps of an upload are timed
apart with the portal's own functions (evidence.uploads.receive_stream, then promote into each storage),
beside the cipher alone, to show where the time goes.

Everything lives in a throwaway directory (PORTAL_VAR_DIR: SQLite test database, private storage, upload
spool, cache) that is deleted afterwards, with the servers. With DATABASE_URL set to PostgreSQL a throwaway
`test_bench_…` database is used instead of SQLite. BENCH_SIZE_MIB (default 1024) shrinks the file for a
quick run; BENCH_RUNS (default 3) sets the measured uploads per path and storage (after one warm-up each;
interleaved, the order rotated each round; the median time and the highest peak are reported).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import quote, urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MIB = 1024 * 1024
SIZE_MIB = int(os.environ.get("BENCH_SIZE_MIB", "1024"))
SEND_CHUNK = MIB  # what the client writes per send(); the server reads in its own CHUNK_SIZE
RUNS = int(os.environ.get("BENCH_RUNS", "3"))  # uploads per path, interleaved; the median is reported
OPENSSL_RUNS = 3  # median
GOAL_RATIO = 0.4
GOAL_RSS_MIB = 150
HEAD_CHECKED = 64  # an encrypted file on disk must not begin with the original's first bytes
# The two servers: the portal's own settings (encrypting storage) and the same with plain storage.
VARIANTS = {"encrypted": "portal.settings", "plain": "bench.plain_storage_settings"}
PATHS = ("stream", "multipart")
PNG_HEAD = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"  # enough for evidence.sniff to say image/png
FILE_NAME = "bench capture.png"
VOLUNTEER_EMAIL = "val@bench.example"


class BenchFailed(RuntimeError):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise BenchFailed(message)


# --- the file and the baseline ---------------------------------------------------------------------


def make_file(path: Path, size: int) -> str:
    """Random bytes behind a PNG signature, written in 64 MiB blocks; returns the SHA-256."""
    sha = hashlib.sha256()
    block = 64 * MIB
    with path.open("wb") as fh:
        written = 0
        while written < size:
            data = os.urandom(min(block, size - written))
            if written == 0:
                data = PNG_HEAD + data[len(PNG_HEAD) :]
            sha.update(data)
            fh.write(data)
            written += len(data)
        fh.flush()
        os.fsync(fh.fileno())  # on disk before anything is timed; it stays in the page cache for reading
    return sha.hexdigest()


def openssl_seconds(path: Path, expected_sha256: str) -> float:
    samples = []
    for _ in range(OPENSSL_RUNS):
        start = time.perf_counter()
        out = subprocess.run(["openssl", "dgst", "-sha256", str(path)], capture_output=True, text=True, check=True)
        samples.append(time.perf_counter() - start)
        check(out.stdout.strip().endswith(expected_sha256), f"openssl disagrees about the file: {out.stdout}")
    return statistics.median(samples)


def disk_write_seconds(path: Path, directory: Path) -> float:
    """Context, not the baseline: writing the same bytes into the spool's directory and fsyncing them, which
    every upload must do too. On a virtual disk this varies a lot from minute to minute."""
    samples = []
    for _ in range(OPENSSL_RUNS):
        os.sync()
        target = directory / "disk-write.bin"
        start = time.perf_counter()
        with target.open("wb") as fh:
            for chunk in file_chunks(path):
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        samples.append(time.perf_counter() - start)
        target.unlink()
    return statistics.median(samples)


def file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while data := fh.read(SEND_CHUNK):
            yield data


def sha256_of(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as fh:
        while data := fh.read(4 * MIB):
            sha.update(data)
    return sha.hexdigest()


# --- the throwaway database, seeded through the services ---------------------------------------------


def seed() -> int:
    """One deployable volunteer assigned to one tasking, the way tests/conftest.py builds them."""
    from evidence.services import tasking_assign
    from portal import roles
    from portal.models import Scheme
    from tests.conftest import clear_vetting, invite_and_apply, make_person, make_tasking, screen
    from volunteers.services import conduct_publish, volunteer_transition

    scheme = Scheme.objects.create(name="Bench Partnership", code="bench")
    officer = make_person("officer@bench.example", roles.OFFICER, scheme)
    welfare = make_person("welfare@bench.example", roles.WELFARE, scheme)
    conduct_publish(title="Volunteer code of conduct", text="Never initiate.\n\nNever confront.", by=None)
    volunteer = invite_and_apply(scheme, officer, VOLUNTEER_EMAIL, "Val Bench")
    clear_vetting(volunteer, officer)
    screen(volunteer.user, welfare)
    volunteer.refresh_from_db()
    volunteer = volunteer_transition(volunteer=volunteer, to="accredited", by=officer, reason="Bench.")
    tasking = make_tasking(scheme, officer, reference="OP-BENCH-UPLOAD")
    tasking_assign(tasking=tasking, volunteer=volunteer.user, by=officer)
    return tasking.pk


# --- the server ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def children_of(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (FileNotFoundError, ProcessLookupError):
        return []


class Server:
    """gunicorn with one sync worker, in its own process group so nothing of it outlives the bench."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.worker_pid: int | None = None
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "portal.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "1",
                # The sync worker's default 30 s timeout would kill a slow upload; this measures throughput.
                "--timeout",
                "600",
                "--access-logfile",
                "-",
                # The default control socket ($HOME/.gunicorn/gunicorn.ctl) is one path for every gunicorn
                # of the user: two servers here (and anyone else's) would take it from each other.
                "--no-control-socket",
            ],
            cwd=ROOT,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            check(self.process.poll() is None, f"gunicorn exited:\n{self.output()}")
            workers = children_of(self.process.pid)
            if workers:
                try:
                    status, _, _ = Client(self.port).request("GET", "/accounts/login/")
                except OSError:
                    status = 0
                if status:  # any answer: the worker has loaded Django and serves
                    self.worker_pid = workers[0]
                    return
            time.sleep(0.1)
        raise BenchFailed(f"gunicorn did not start in {timeout:.0f} s:\n{self.output()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=20)
        # Whatever is left in the group (a worker that outlived its master) goes too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise BenchFailed(f"/proc/{pid}/status has no {field}")


class PeakRss:
    """Peak resident memory of one process over a block: the kernel's high-water mark (VmHWM), reset at the
    start through /proc/<pid>/clear_refs, and VmRSS polled every 50 ms as a cross-check (and the fallback
    where the reset is not allowed)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.polled_kib = 0
        self.hwm_reset = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                self.polled_kib = max(self.polled_kib, status_kib(self.pid, "VmRSS"))
            self._stop.wait(0.05)

    def __enter__(self) -> PeakRss:
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")  # 5: reset the peak RSS to the current RSS
            self.hwm_reset = True
        except OSError:
            self.hwm_reset = False
        self.before_kib = status_kib(self.pid, "VmRSS")
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.hwm_kib = status_kib(self.pid, "VmHWM") if self.hwm_reset else 0

    @property
    def peak_kib(self) -> int:
        return max(self.hwm_kib, self.polled_kib)


# --- the client ---------------------------------------------------------------------------------------


class Client:
    """http.client with a cookie jar: one connection per request, the body streamed with send()."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        body: bytes | Iterator[bytes] | None = None,
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=900)
        try:
            conn.putrequest(method, path)
            headers = dict(headers or {})
            if isinstance(body, bytes):
                headers["Content-Length"] = str(len(body))
            if self.cookies:
                headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            for name, value in headers.items():
                conn.putheader(name, value)
            conn.endheaders()
            try:
                if isinstance(body, bytes):
                    conn.send(body)
                elif body is not None:
                    for chunk in body:
                        conn.send(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered early (a refusal): read what it said
            response = conn.getresponse()
            content = response.read()
            for header in response.msg.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(header).items():
                    self.cookies[name] = morsel.value
            return response.status, response.msg, content
        finally:
            conn.close()

    def download_sha256(self, path: str) -> tuple[int, str, int]:
        """GET path, the body hashed as it arrives (never held whole): status, SHA-256, size."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=900)
        try:
            cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            conn.request("GET", path, headers={"Cookie": cookie})
            response = conn.getresponse()
            sha = hashlib.sha256()
            size = 0
            while data := response.read(4 * MIB):
                sha.update(data)
                size += len(data)
            return response.status, sha.hexdigest(), size
        finally:
            conn.close()

    def login(self, email: str, password: str) -> None:
        status, _, page = self.request("GET", "/accounts/login/")
        check(status == 200, f"GET /accounts/login/ answered {status}")
        match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        check(match is not None, "no csrfmiddlewaretoken on the login page")
        form = urlencode({"login": email, "password": password, "csrfmiddlewaretoken": match.group(1).decode()})
        status, _, body = self.request(
            "POST", "/accounts/login/", {"Content-Type": "application/x-www-form-urlencoded"}, form.encode()
        )
        check(status == 302 and "sessionid" in self.cookies, f"login answered {status}: {body[:300]!r}")


def exhibit_fields() -> dict[str, str]:
    from django.utils import timezone

    return {
        "description": "Chat with the suspect, both sides, from first contact (benchmark).",
        "platform": "Platform X",
        "other_party": "user_4471",
        "url": "https://platform.example/chat/4471",
        "captured_at": (timezone.localtime() - timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M"),
        "capture_method": "Platform export",
    }


def send_stream(client: Client, tasking_id: int, path: Path, size: int, sha256: str) -> float:
    """As the JavaScript sends it: the raw file as the body, the form's fields in X-Exhibit-Metadata."""
    meta = {**exhibit_fields(), "browser_sha256": sha256}  # the browser hashes before it sends
    headers = {
        "Content-Type": "application/octet-stream",
        "Content-Length": str(size),
        "X-Exhibit-Metadata": quote(json.dumps(meta)),
        "X-File-Name": quote(FILE_NAME),
        "X-CSRFToken": client.cookies["csrftoken"],
    }
    start = time.perf_counter()
    status, _, body = client.request("POST", f"/taskings/{tasking_id}/exhibits/stream/", headers, file_chunks(path))
    seconds = time.perf_counter() - start
    check(status == 201, f"streamed upload answered {status}: {body[:500]!r}")
    answer = json.loads(body)
    check(answer["sha256"] == sha256 and answer["size"] == size, f"streamed upload recorded {answer}")
    return seconds


def multipart_body(fields: dict[str, str], path: Path, size: int) -> tuple[str, int, Iterator[bytes]]:
    """multipart/form-data as a browser's form submission builds it, streamed from disk: fields, then the file."""
    boundary = f"----BenchFormBoundary{secrets.token_hex(16)}"
    prefix = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    )
    prefix += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{FILE_NAME}"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    suffix = f"\r\n--{boundary}--\r\n".encode()

    def body() -> Iterator[bytes]:
        yield prefix
        yield from file_chunks(path)
        yield suffix

    return f"multipart/form-data; boundary={boundary}", len(prefix) + size + len(suffix), body()


def send_multipart(client: Client, tasking_id: int, path: Path, size: int) -> float:
    """As a browser without JavaScript sends it: the form, multipart, with the CSRF token as a field."""
    status, _, page = client.request("GET", f"/taskings/{tasking_id}/exhibits/")
    check(status == 200, f"GET the exhibits page answered {status}")
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    check(match is not None, "no csrfmiddlewaretoken on the exhibits page")
    fields = {"csrfmiddlewaretoken": match.group(1).decode(), **exhibit_fields()}
    content_type, length, body = multipart_body(fields, path, size)
    headers = {"Content-Type": content_type, "Content-Length": str(length)}
    start = time.perf_counter()
    status, headers_in, answer = client.request("POST", f"/taskings/{tasking_id}/exhibits/", headers, body)
    seconds = time.perf_counter() - start
    check(
        status == 302 and headers_in["Location"] == f"/taskings/{tasking_id}/exhibits/",
        f"multipart upload answered {status} {headers_in.get('Location')}: {answer[:800]!r}",
    )
    return seconds


def stored_exhibit(tasking_id: int, count_before: int, size: int, sha256: str):
    """The exhibit just recorded: exactly one more, carrying the file's hash and size."""
    from evidence.models import Exhibit

    exhibits = Exhibit.objects.filter(tasking_id=tasking_id).order_by("sequence")
    check(exhibits.count() == count_before + 1, "the upload did not record exactly one exhibit")
    exhibit = exhibits.last()
    check(exhibit.sha256 == sha256 and exhibit.size == size, f"{exhibit.reference} recorded another file")
    return exhibit


class Reader:
    """A third gunicorn, with the portal's settings, that only serves the downloads checking what the
    encrypting one stored: another process holding the same keys must read the file back, and the uploading
    workers' memory is measured over uploads alone. Its own peak RSS while serving a download is kept."""

    def __init__(self, server: Server, client: Client) -> None:
        self.server = server
        self.client = client
        self.downloads: list[tuple[float, PeakRss]] = []

    def sha256(self, exhibit_id: int) -> tuple[int, str, int]:
        with PeakRss(self.server.worker_pid) as rss:
            start = time.perf_counter()
            answer = self.client.download_sha256(f"/exhibits/{exhibit_id}/download/")
            self.downloads.append((time.perf_counter() - start, rss))
        return answer


def verify_stored(
    variant: str, reader: Reader, tasking_id: int, count_before: int, size: int, sha256: str, head: bytes
) -> None:
    """The exhibit carries the file's hash; what lies on disk is ciphertext or the file, as the storage says;
    and an encrypted file reads back (here, and downloaded from another server) as the original."""
    from django.core.files.storage import default_storage

    from portal import filecrypt

    exhibit = stored_exhibit(tasking_id, count_before, size, sha256)
    # Both servers store into the same folder; this process has the encrypting storage.
    on_disk = Path(default_storage.raw_path(exhibit.stored_name))
    with on_disk.open("rb") as fh:
        first = fh.read(HEAD_CHECKED)
    if variant == "plain":
        check(
            on_disk.stat().st_size == size and first == head and sha256_of(on_disk) == sha256,
            f"plain storage did not keep {exhibit.reference} as the file's own bytes",
        )
    else:
        check(
            on_disk.stat().st_size > size and not first.startswith(head) and first.startswith(filecrypt.MAGIC),
            f"{exhibit.reference} lies on disk unencrypted (or not in the portal's format)",
        )
        check(on_disk.stat().st_size == encrypted_size(size), f"{exhibit.reference} has an unexpected stored size")
        with default_storage.open(exhibit.stored_name, "rb") as stored:
            read_back = hashlib.sha256()
            while data := stored.read(4 * MIB):
                read_back.update(data)
        check(read_back.hexdigest() == sha256, f"{exhibit.reference} decrypted here does not hash to the file")
        status, downloaded, length = reader.sha256(exhibit.pk)
        check(
            status == 200 and downloaded == sha256 and length == size,
            f"downloading {exhibit.reference} gave {status}, {length} bytes, SHA-256 {downloaded}",
        )
    on_disk.unlink()  # the next upload needs the room more than this throwaway copy does


def encrypted_size(size: int) -> int:
    from portal import filecrypt

    chunks = max(1, -(-size // filecrypt.CHUNK))  # an empty file is one empty chunk
    return filecrypt.HEADER + size + chunks * filecrypt.TAG


def upload_once(server: Server, send, verify) -> tuple[float, PeakRss]:
    # Start every run with nothing waiting to be written back (the generated file, the last run's
    # exhibit): otherwise one run's fsync pays for the previous run's bytes.
    os.sync()
    with PeakRss(server.worker_pid) as rss:
        seconds = send()
    verify()
    return seconds, rss


Runs = list[tuple[float, PeakRss]]


def result(path: str, variant: str, runs: Runs, size: int, baseline: float, disk: float) -> dict[str, str]:
    seconds = statistics.median(s for s, _ in runs)
    peak = max(rss.peak_kib for _, rss in runs) / 1024
    mib = size / MIB
    fields = {
        "path": path,
        "storage": variant,
        "size_mib": f"{mib:g}",
        "runs": str(len(runs)),
        "seconds": f"{seconds:.3f}",
        "seconds_range": f"{min(s for s, _ in runs):.3f}-{max(s for s, _ in runs):.3f}",
        "mib_s": f"{mib / seconds:.1f}",
        "openssl_mib_s": f"{mib / baseline:.1f}",
        "ratio_to_openssl": f"{baseline / seconds:.3f}",
        "disk_write_mib_s": f"{mib / disk:.1f}",
        "peak_rss_mib": f"{peak:.1f}",
        "rss_before_mib": f"{min(rss.before_kib for _, rss in runs) / 1024:.1f}",
        "rss_source": "vmhwm+poll" if all(rss.hwm_reset for _, rss in runs) else "poll",
        "sha256_verified": "true",  # every run; a mismatch stops the benchmark
        "goal_rss_mib": f"{GOAL_RSS_MIB}",
        "rss_goal_met": str(peak < GOAL_RSS_MIB).lower(),
    }
    if path == "stream" and variant == "encrypted":  # the goal: the streamed path, as production stores
        met = baseline / seconds >= GOAL_RATIO and peak < GOAL_RSS_MIB
        fields.update(goal_ratio=f"{GOAL_RATIO}", goal_met=str(met).lower())
    print("RESULT " + " ".join(f"{k}={v}" for k, v in fields.items()), flush=True)
    return fields


def table(results: list[dict[str, str]]) -> None:
    """Encrypted beside plain, per path."""
    by = {(r["path"], r["storage"]): r for r in results}
    print(
        f"\n{'path':<10} {'storage':<10} {'MiB/s':>7} {'x openssl':>10} {'peak RSS MiB':>13}   "
        f"{'encrypted / plain':>17}",
        flush=True,
    )
    for path in PATHS:
        plain = float(by[path, "plain"]["mib_s"])
        for variant in VARIANTS:
            r = by[path, variant]
            versus = f"{float(r['mib_s']) / plain:.2f}" if variant == "encrypted" else ""
            print(
                f"{path:<10} {variant:<10} {r['mib_s']:>7} {r['ratio_to_openssl']:>10} {r['peak_rss_mib']:>13}   "
                f"{versus:>17}",
                flush=True,
            )
    print(flush=True)


# --- where the time goes: the two steps of an upload, apart, in this process ---------------------------


def phases(source: Path, size: int, sha256: str, baseline: float, streamed_plain: float) -> None:
    """An upload is two passes over the bytes: receive_stream (read, SHA-256, write to the spool, fsync) and
    promote (plain: a hard link; encrypted: read the spool again, encrypt, write the stored copy, no fsync).
    Each is timed here with the portal's own functions on the same file (no HTTP, no Django request), median
    of OPENSSL_RUNS, beside what the encrypting pass is made of, what an fsync of its output would add, and a
    one-pass spool that encrypts as it hashes (the same loop without the cipher beside it): what the streamed
    path would cost if the spool held the ciphertext and promote only linked it into place."""
    from django.conf import settings
    from django.core.files.storage import FileSystemStorage, default_storage

    from evidence.uploads import promote, receive_stream
    from portal import filecrypt
    from portal.encrypted_storage import file_keys

    plain = FileSystemStorage(location=default_storage.location)
    samples: dict[str, list[float]] = {}

    def timed(label: str, work, *args, sync: bool = True, **kwargs):
        if sync:
            os.sync()
        start = time.perf_counter()
        value = work(*args, **kwargs)
        samples.setdefault(label, []).append(time.perf_counter() - start)
        return value

    def spool(seal: bool):
        with source.open("rb") as fh:
            return receive_stream(
                fh,
                declared_length=size,
                max_bytes=settings.PORTAL_MAX_UPLOAD_BYTES,
                temp_dir=settings.PORTAL_UPLOAD_TEMP_DIR,
                name=FILE_NAME,
                seal=seal,
            )

    def encrypt_only():  # the cipher and the reading, nothing written
        with source.open("rb") as fh:
            for _ in filecrypt.encrypt_chunks(filecrypt.read_pieces(fh, filecrypt.CHUNK), file_keys()[0]):
                pass

    for run in range(OPENSSL_RUNS):
        # As the portal does it: the spool encrypts as it hashes, and promote links the sealed file into place.
        upload = timed("spool_sealed", spool, True)
        check(upload.sha256 == sha256 and upload.sealed, "receive_stream hashed another file, or did not seal it")
        name = timed("promote_sealed", promote, upload, storage=default_storage, name=f"phase/e{run}.png")
        Path(default_storage.raw_path(name)).unlink()
        upload = timed("spool_plain", spool, False)
        name = timed("promote_plain", promote, upload, storage=plain, name=f"phase/p{run}.png")
        Path(plain.path(name)).unlink()
        timed("encrypt_only", encrypt_only)
        timed("sha256_only", sha256_of, source)

    mib = size / MIB
    median = {name: statistics.median(values) for name, values in samples.items()}
    for name, seconds in median.items():
        print(f"PHASE {name}={seconds:.3f}s ({mib / seconds:.0f} MiB/s)", flush=True)
    sealed = median["spool_sealed"] + median["promote_sealed"]
    plain_total = median["spool_plain"] + median["promote_plain"]
    print(
        f"PHASE model, no HTTP: spool + promote, sealed {sealed:.3f}s = {baseline / sealed:.3f} x openssl, "
        f"plain {plain_total:.3f}s = {baseline / plain_total:.3f} x openssl (streamed plain over HTTP: "
        f"{streamed_plain:.3f}s)",
        flush=True,
    )


def main() -> None:
    check(SIZE_MIB >= 1 and RUNS >= 1, "BENCH_SIZE_MIB and BENCH_RUNS must be at least 1")
    check(shutil.which("openssl") is not None, "openssl is needed for the baseline")
    work = Path(tempfile.mkdtemp(prefix="bench-exhibit-"))
    servers: dict[str, Server] = {}
    old_name: str | None = None
    # A SIGTERM (make interrupted, CI timeout) must still stop the servers and delete the temporary files.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        # This process and both servers share one throwaway var dir (database, private storage, spool,
        # cache) and one set of secrets made up for the run: what one encrypts, the others decrypt.
        throwaway = {
            "PORTAL_VAR_DIR": str(work / "var"),
            "PORTAL_PRIVATE_STORAGE": str(work / "var" / "private"),
            "PORTAL_UPLOAD_TEMP_DIR": str(work / "var" / "uploads"),
            "DJANGO_DEBUG": "true",
            "DJANGO_SETTINGS_MODULE": VARIANTS["encrypted"],
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "PORTAL_FILE_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        }
        for name in ("DJANGO_SECRET_KEY_FILE", "PORTAL_FILE_KEYS_FILE", "PORTAL_S3_BUCKET"):
            os.environ.pop(name, None)  # the run's own secrets, and folder storage, whatever the shell has
        os.environ.update(throwaway)
        import django

        django.setup()
        from django.conf import settings
        from django.core.files.storage import default_storage
        from django.db import connection
        from django.test.utils import setup_test_environment

        from evidence.models import Exhibit
        from portal.encrypted_storage import EncryptedFileSystemStorage
        from tests.conftest import PASSWORD, shared_database_url

        check(SIZE_MIB * MIB <= settings.PORTAL_MAX_UPLOAD_BYTES, "BENCH_SIZE_MIB is over PORTAL_MAX_UPLOAD_BYTES")
        check(isinstance(default_storage, EncryptedFileSystemStorage), "the default storage does not encrypt")
        setup_test_environment()
        if connection.vendor == "postgresql":
            connection.settings_dict["TEST"]["NAME"] = f"test_bench_upload_{os.getpid()}"  # never a suite's DB
        old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        tasking_id = seed()
        database_url = shared_database_url()
        connection.close()

        size = SIZE_MIB * MIB
        source = work / "exhibit.bin"
        sha256 = make_file(source, size)
        with source.open("rb") as fh:
            head = fh.read(HEAD_CHECKED)
        baseline = openssl_seconds(source, sha256)
        disk = disk_write_seconds(source, Path(settings.PORTAL_UPLOAD_TEMP_DIR))
        print(
            f"database: {connection.vendor}, file: {SIZE_MIB} MiB; baseline openssl dgst -sha256: {baseline:.3f} s "
            f"= {SIZE_MIB / baseline:.0f} MiB/s; for context, write + fsync of the same bytes: {disk:.3f} s "
            f"= {SIZE_MIB / disk:.0f} MiB/s (medians of {OPENSSL_RUNS})",
            flush=True,
        )

        clients: dict[str, Client] = {}
        for variant, module in {**VARIANTS, "reader": VARIANTS["encrypted"]}.items():
            env = {**os.environ, **throwaway, "DJANGO_SETTINGS_MODULE": module, "DATABASE_URL": database_url}
            servers[variant] = Server(env, work / f"gunicorn-{variant}.log")
        for variant, server in servers.items():
            server.wait_ready()
            client = clients[variant] = Client(server.port)
            client.login(VOLUNTEER_EMAIL, PASSWORD)
            status, _, _ = client.request("GET", f"/taskings/{tasking_id}/exhibits/")
            check(status == 200, f"the volunteer cannot open the exhibits page ({variant}): {status}")
        reader = Reader(servers["reader"], clients["reader"])
        idle = (f"{name} {status_kib(server.worker_pid, 'VmRSS') / 1024:.1f} MiB" for name, server in servers.items())
        print(f"worker RSS after start-up and sign-in (before any upload): {', '.join(idle)}", flush=True)

        def count() -> int:
            return Exhibit.objects.filter(tasking_id=tasking_id).count()

        def sender(path: str, client: Client):
            if path == "stream":
                return lambda: send_stream(client, tasking_id, source, size, sha256)
            return lambda: send_multipart(client, tasking_id, source, size)

        kinds = [(path, variant) for path in PATHS for variant in VARIANTS]
        runs: dict[tuple[str, str], Runs] = {kind: [] for kind in kinds}
        # One unmeasured (but verified) upload of each kind first: on this machine the first uploads after
        # start-up ran 2-3x slower than later ones, whichever path sent them. Then the measured runs,
        # interleaved, the order rotated each round, so drift hits every kind alike.
        for round_ in range(RUNS + 1):
            for path, variant in kinds[round_ % len(kinds) :] + kinds[: round_ % len(kinds)]:
                before = count()
                seconds_rss = upload_once(
                    servers[variant],
                    sender(path, clients[variant]),
                    lambda before=before, variant=variant: verify_stored(
                        variant, reader, tasking_id, before, size, sha256, head
                    ),
                )
                if round_:
                    runs[path, variant].append(seconds_rss)
        results = [result(path, variant, runs[path, variant], size, baseline, disk) for path, variant in kinds]
        table(results)
        seconds = statistics.median(s for s, _ in reader.downloads)
        print(
            f"For context: {len(reader.downloads)} downloads of the encrypted exhibits (decrypted by a third "
            f"worker), median {SIZE_MIB / seconds:.0f} MiB/s, that worker's peak RSS "
            f"{max(rss.peak_kib for _, rss in reader.downloads) / 1024:.1f} MiB",
            flush=True,
        )
        for server in servers.values():
            server.stop()  # the phases below run alone on the machine's cores
        phases(source, size, sha256, baseline, statistics.median(s for s, _ in runs["stream", "plain"]))
        connection.close()
    except BenchFailed as exc:
        log = "".join(f"\n--- gunicorn log ({name}) ---\n{server.output()}" for name, server in servers.items())
        print(f"FAILED: {exc}{log}", file=sys.stderr)
        raise SystemExit(1) from None
    finally:
        for server in servers.values():
            server.stop()
        if old_name is not None:
            from django.db import connection

            connection.creation.destroy_test_db(old_name, verbosity=0)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
