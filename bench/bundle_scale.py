"""Handover bundles at scale: chunked on two prefork Celery workers against one single-pass render (same run).

Throwaway environment. Everything lives in a temporary directory that is deleted afterwards (PORTAL_VAR_DIR:
SQLite test database, private storage, signing key and certificate, worker logs); with DATABASE_URL set to
PostgreSQL a throwaway `test_bench_bundle_…` database is created there instead, and dropped. A redis-server
of our own on a free port is broker and result backend (the chord needs one); the usual Redis on 6379 is
never touched. DEBUG is off, as in production (throwaway secret and field keys), so no query log grows in
the workers. The schema comes from Django's test-database set-up (every migration).

Data, through the services. One scheme, one officer and one volunteer made deployable as tests/conftest.py
makes them; then, for each size N (BENCH_SIZES, default 50,500,2000), a fresh active tasking assigned to the
volunteer, with N exhibits submitted one by one through `evidence.services.exhibit_submit` with their bytes
really stored and their SHA-256 and size recorded: 40-line chat transcripts ("[14:01] dave_77: …",
text/plain, about 3 KB, each one different) and every 50th a 1200 x 900 PNG photo made with Pillow
(gradients under noise, about 2 MB: it compresses like a photo, not like a flat colour). One MG11 produces
them all and is signed; the officer accepts every exhibit. Seeding costs about 25 ms an exhibit on SQLite
here, so it stays on the real path; its time is printed but is not part of any result.

Chunked, the measurement, with the workers as production runs them. For each size, two `celery -A portal
worker --pool prefork --concurrency 1 --max-memory-per-child KB` processes are started afresh
(BENCH_MAX_MEMORY_PER_CHILD_KB, default 300000 as in production, about 293 MiB; the same value goes to the workers as
CELERY_WORKER_MAX_MEMORY_PER_CHILD_KB so the settings agree). Each is a parent that only supervises and one
pool child at a time that runs the tasks; after a task leaves the child above the limit, billiard lets it
exit and forks a fresh one (without psutil it compares the child's ru_maxrss, its lifetime peak). That
recycling is why the pool matters here: a chunk render can leave a little behind in the process (a few
MB a task over dozens of tasks, below Python's objects: their count stays flat), so a `--pool solo`
worker, never replaced, shows that creep as growth with the bundle's size (about 70 chunks each at 2,000
exhibits), which production does not see. (Photographs once left 6 MB each, inlined as data: URLs that
urllib's URL cache kept; they are fetched by reference now.) A replacement costs its worker 1.5-4 s idle.
The requirement is about each worker process, so the figure is the largest peak RSS of any one process:
each pool child's and the parent's (reported apart; the parent's stays near its idle size), measured two
ways, the larger kept: (a) the line each chunk and assembly task logs at its end (evidence/tasks.py,
`bundle part rendered: … peak_rss_mib=…` and `bundle assembled: … peak_rss_mib=… seconds=…`, the child's
getrusage ru_maxrss), parsed from the worker logs; (b) a thread that reads the parent's and every live
child's VmHWM (/proc/<pid>/status; the children from /proc/<pid>/task/*/children) every 0.2 s while they
live, and a last time before the workers are stopped. Without those log lines the polls alone are used
and the table says "log peaks: none". Per size it reports the largest child peak, the parent's, the peak
of the child that ran the assembly (its logged line, or the youngest child seen before the row said ready)
and how many children each worker used (the first and each replacement). CPU time is the parent's, its
reaped children's and its live children's (/proc/<pid>/stat). Once both workers are ready, the clock runs
from `evidence.bundles.bundle_request` (it sends the job to the broker on commit; this process's Celery
producer is pointed at the throwaway broker) until the bundle's row says `ready` (polled every 0.1 s):
the job, the chord of `evidence.bundle_render_chunk` tasks (PORTAL_BUNDLE_CHUNK_EXHIBITS exhibits a chunk,
default 25) and `evidence.bundle_assemble` (front matter with the embedded natives, joining, page stamps,
bookmarks, PAdES signature, commit). The peaks are read once the assembly task has finished (its log line
comes after the row says ready) and any last replacement has happened. The signed PDF must then pass
`evidence.verify`; its pages are counted; the worker logs say how many parts each worker rendered and how
long the assembly took.

Repeats. At the baseline sizes the chunked build and the single pass are measured BENCH_REPEATS times each
(default 3), alternately (chunked, single, chunked, single, ...), each chunked build a new version of the
same bundle on freshly started workers; the times reported are the medians, the ratio is the median of the
pairs' ratios (each pair measured within a couple of minutes of each other), and every peak is the largest
of all the repeats. This machine's speed was seen to drift by a fifth between minutes (the same single pass
took 58 s in one run and 75 s in another), which one pair alone cannot tell from a change in the code.
BENCH_KEEP_LOGS=DIR copies the workers' logs there before the temporary folder is deleted.

Baseline. `evidence.bundles.bundle_single_pass_pdf` over the same bundle (its plan, so the same content,
without the MG11 pages, stamps, bookmarks and signature), in a separate process (`bundle_scale.py
--single-pass ID`, same environment, run after the workers have stopped) that times the call and reports
its CPU time and its own VmHWM. Only for BENCH_BASELINE_SIZES (default 500): one WeasyPrint pass holds the
whole document's layout in memory (about 400 MiB at 100 exhibits here, and about 3 MiB more for each
further exhibit), so 2,000 exhibits would need 6-7 GB; that is what chunking is for. Both paths read the
exhibits from the page cache (seeding has just written them).

Other work on the machine slows two workers more than one process, so for each measurement the share of
the machine's CPU that other processes used meanwhile is reported too (/proc/stat less our own processes):
a ratio measured while it is high is pessimistic. Run it on an otherwise idle machine.

Goals: for each baseline size, the chunked wall time at most 0.65 times the single pass (with two cores 0.5
is the floor), and the peak RSS of every worker process (each pool child and the parent) at most 350 MB
(MiB here) whatever the size. 50 vs 500 vs 2,000 shows the time growing linearly (seconds per exhibit, and
the marginal seconds per added exhibit between sizes) and memory staying flat (the largest per-process
peak per size, and the largest size's over the smallest's).
Goals are printed as met or not met; the exit status is 0 either way (1 if a build fails or does not
verify). Without redis-server it says so and exits 0 (1 with CI=true). BENCH_WORKERS (default 2) changes
the number of workers; BENCH_TIMEOUT_PER_EXHIBIT (default 3 s, at least 300 s in all) bounds one build.

Progress goes to stderr; a short table, then one final `RESULT key=value …` line, to stdout.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import io
import itertools
import json
import os
import random
import re
import resource
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
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _sizes(name: str, default: str) -> list[int]:
    raw = os.environ.get(name, default)
    return [int(part) for part in raw.replace(" ", "").split(",") if part]


SIZES = _sizes("BENCH_SIZES", "50,500,2000")
BASELINE_SIZES = _sizes("BENCH_BASELINE_SIZES", "500")
# The chunked build and the single pass are measured this many times each, alternately, at the baseline
# sizes: this machine's speed drifts by a fifth between minutes, so one pair can flatter or wrong either.
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
TIMEOUT_PER_EXHIBIT = float(os.environ.get("BENCH_TIMEOUT_PER_EXHIBIT", "3"))
# Each worker's pool child is replaced after a task leaves it above this (KB, as Celery counts it).
MAX_MEMORY_PER_CHILD_KB = int(os.environ.get("BENCH_MAX_MEMORY_PER_CHILD_KB", "300000"))
POLL_S = 0.2  # how often the pool children's VmHWM is read
PHOTO_EVERY = 50
TRANSCRIPT_LINES = 40
PHOTO_SIZE = (1200, 900)
GOAL_RATIO = 0.6
GOAL_RSS_MB = 350
GOAL_PER_EXHIBIT_GROWTH = 1.15  # seconds per exhibit at the largest size over that at the baseline size
# Transcripts: a bundle of one export of each shape, this many messages each (BENCH_TRANSCRIPT_SHAPES="" skips).
TRANSCRIPT_SHAPES = [s for s in os.environ.get("BENCH_TRANSCRIPT_SHAPES", "android,ios,csv,json,lines").split(",") if s]
TRANSCRIPT_MESSAGES = int(os.environ.get("BENCH_TRANSCRIPT_MESSAGES", "10000"))
MIB = 1024 * 1024
VOLUNTEER_EMAIL = "val@bench.example"
IN_CI = os.environ.get("CI", "").lower() == "true"
KEEP_LOGS = Path(os.environ["BENCH_KEEP_LOGS"]) if os.environ.get("BENCH_KEEP_LOGS") else None


class BenchFailed(RuntimeError):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise BenchFailed(message)


def progress(message: str) -> None:
    print(f"[bundle_scale {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def status_kib(pid: int | str, field_name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field_name}:"):
            return int(line.split()[1])
    raise BenchFailed(f"/proc/{pid}/status has no {field_name}")


# --- the exhibits' content -------------------------------------------------------------------------------

PHRASES = [
    "hi",
    "hey how are you",
    "what you up to",
    "just got back from school",
    "did you see that video i sent",
    "lol",
    "my mum is making tea",
    "what games do you play",
    "do you have snap",
    "where do you live again",
    "i'm bored",
    "can you keep a secret",
    "my phone is nearly dead",
    "who else do you talk to on here",
    "i have to go soon",
    "are you on your own",
    "send me a pic of your room",
    "that's so funny",
    "you seem older than 13",
    "what music do you like",
    "ok",
    "brb",
    "don't tell anyone we talk",
    "i'll message you tomorrow",
]


def transcript(number: int) -> bytes:
    """A 40-line chat export, different for every exhibit (so every hash differs)."""
    rnd = random.Random(number)  # noqa: S311 (test data, not secrets)
    minute = 13 * 60 + rnd.randrange(0, 8 * 60)
    lines = []
    for line in range(TRANSCRIPT_LINES):
        minute += rnd.randrange(0, 3)
        sender = "dave_77" if (line + rnd.randrange(0, 2)) % 2 == 0 else "mia_x"
        text = " ".join(rnd.choice(PHRASES) for _ in range(rnd.randint(1, 3)))
        lines.append(f"[{minute // 60 % 24:02d}:{minute % 60:02d}] {sender}: {text} (chat {number}, line {line + 1})")
    return ("\n".join(lines) + "\n").encode()


def photo(number: int) -> bytes:
    """A 1200 x 900 PNG that compresses like a photograph (gradients under noise, some boxes and text)."""
    from PIL import Image, ImageChops, ImageDraw

    width, height = PHOTO_SIZE
    red = Image.radial_gradient("L").resize(PHOTO_SIZE)
    green = Image.linear_gradient("L").rotate(90).resize(PHOTO_SIZE)
    blue = ImageChops.add(
        Image.effect_noise(PHOTO_SIZE, 40 + number % 20).point(lambda v: v // 2), green.point(lambda v: v // 3)
    )
    image = Image.blend(Image.merge("RGB", (red, green, blue)), Image.effect_noise(PHOTO_SIZE, 12).convert("RGB"), 0.15)
    draw = ImageDraw.Draw(image)
    for box in range(12):
        x, y = (number * 97 + box * 131) % width, (number * 53 + box * 71) % height
        draw.rectangle([x, y, x + 120, y + 80], outline=(255, 255, 255), width=3)
        draw.text((x + 5, y + 5), f"photo {number}-{box}", fill=(255, 255, 0))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


# --- the throwaway database, seeded through the services ---------------------------------------------------


class Received:
    """What evidence/uploads.py hands exhibit_submit: the upload's name, size and SHA-256 (and its bytes)."""

    def __init__(self, name: str, content: bytes) -> None:
        self.name, self.size, self.sha256 = name, len(content), hashlib.sha256(content).hexdigest()
        self.content = content


def store(upload: Received, name: str) -> None:
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    saved = default_storage.save(name, ContentFile(upload.content))
    check(saved == name, f"storage saved {name} as {saved}")


def seed_people():
    """One scheme, its officer and one deployable volunteer, the way tests/conftest.py builds them."""
    from portal import roles
    from portal.models import Scheme
    from tests.conftest import clear_vetting, invite_and_apply, make_person, screen
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
    return scheme, officer, volunteer.user


def submit(user, tasking, upload: Received, mime: str, description: str):
    """One exhibit through `evidence.services.exhibit_submit`, its bytes really stored."""
    from django.utils import timezone

    from evidence import services

    return services.exhibit_submit(
        user=user,
        tasking=tasking,
        upload=upload,
        sniffed_type=mime,
        description=description,
        platform="Platform X",
        other_party="dave_77",
        url="",
        captured_at=timezone.now() - timedelta(minutes=5),
        capture_method="Platform export",
        store=store,
    )


def sign_schedules(tasking, officer) -> None:
    """The disclosure officer signs both schedules as they stand: a bundle cannot be requested before."""
    from evidence.disclosure import SCHEDULES, schedule_digest, schedule_items, schedule_sign

    for schedule in SCHEDULES:
        digest = schedule_digest(schedule_items(tasking, schedule))
        schedule_sign(tasking=tasking, schedule=schedule, by=officer, digest=digest)


def seed_tasking(scheme, officer, user, count: int):
    """A fresh active tasking with `count` accepted exhibits produced by one signed MG11."""

    from evidence import services
    from evidence.statements import statement_save_draft, statement_sign
    from tests.conftest import make_tasking

    tasking = make_tasking(scheme, officer, reference=f"OP-BENCH-{count}", hours=72)
    services.tasking_assign(tasking=tasking, volunteer=user, by=officer)
    exhibits = []
    for number in range(1, count + 1):
        if number % PHOTO_EVERY == 0:
            upload, mime = Received(f"photo-{number}.png", photo(number)), "image/png"
        else:
            upload, mime = Received(f"chat-{number}.txt", transcript(number)), "text/plain"
        kind = "Photograph" if mime == "image/png" else "Chat export"
        exhibits.append(submit(user, tasking, upload, mime, f"{kind} {number} from Platform X"))
        if number % 250 == 0:
            progress(f"  {number} of {count} exhibits submitted")
    statement = statement_save_draft(
        tasking=tasking,
        author=user,
        body=f"I produce the {count} exhibits {exhibits[0].reference} to {exhibits[-1].reference}.",
        exhibit_ids=[e.pk for e in exhibits],
    )
    statement_sign(statement=statement, by=user)
    for exhibit in exhibits:
        services.exhibit_review(exhibit=exhibit, decision="accepted", reason="", by=officer)
    sign_schedules(tasking, officer)
    return tasking


def seed_transcript_tasking(scheme, officer, user, shape: str):
    """A fresh active tasking with one accepted exhibit: a TRANSCRIPT_MESSAGES-message export of `shape`,
    as tests/transcript_samples.py generates them (emoji, four scripts, multi-line messages, a long URL)."""

    from evidence import services
    from evidence.statements import statement_save_draft, statement_sign
    from tests import transcript_samples
    from tests.conftest import make_tasking

    data, expected = transcript_samples.SHAPES[shape](TRANSCRIPT_MESSAGES)
    tasking = make_tasking(scheme, officer, reference=f"OP-CHAT-{shape}", hours=72)
    services.tasking_assign(tasking=tasking, volunteer=user, by=officer)
    mime = transcript_samples.MIME.get(shape, "text/plain")
    upload = Received(f"chat-{shape}.txt", data)
    exhibit = submit(user, tasking, upload, mime, f"Chat export ({shape}), {TRANSCRIPT_MESSAGES} messages")
    statement = statement_save_draft(tasking=tasking, author=user, body="I produce it.", exhibit_ids=[exhibit.pk])
    statement_sign(statement=statement, by=user)
    services.exhibit_review(exhibit=exhibit, decision="accepted", reason="", by=officer)
    sign_schedules(tasking, officer)
    return tasking, expected


def every_message_printed(bundle, expected: list, shape: str) -> int:
    """How many of the export's messages the signed PDF prints with their label and time, in order (all of
    them, or the benchmark fails): the text of every page, furniture removed, searched message by message."""
    from django.core.files.storage import default_storage
    from pypdf import PdfReader

    from tests.pdf_glyphs import body_text

    with default_storage.open(bundle.pdf_name, "rb") as handle:
        pages = PdfReader(handle).pages
        text = body_text(pages, reference=bundle.tasking.reference, urn=bundle.manifest["urn"], version=bundle.version)
    label = "line" if shape == "lines" else "message"
    position, found = 0, 0
    for number, message in enumerate(expected, 1):
        wanted = f"{label}{number}" + (f"·{message.when}".replace(" ", "") if message.when else "")
        at = text.find(wanted, position)
        check(at != -1, f"{shape}: {label} {number} ({message.when}) is not printed with its time")
        position, found = at + len(wanted), found + 1
    return found


def database_url() -> str:
    """The URL of the (test) database this process uses, for the workers and the baseline to share."""
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.postgresql":
        user = db.get("USER") or "postgres"
        auth = f"{user}:{db['PASSWORD']}@" if db.get("PASSWORD") else f"{user}@"
        return f"postgresql://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    return f"sqlite:///{db['NAME']}"


# --- the throwaway broker and the workers ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ThrowawayRedis:
    """A redis-server of our own on a free port, nothing saved, in its own process group."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.folder)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            check(self.process.poll() is None, "the throwaway redis-server exited at start")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise BenchFailed("the throwaway redis-server did not start")

    def stop(self) -> None:
        stop_group(self.process)


def stop_group(process: subprocess.Popen | None, timeout: float = 30) -> None:
    """SIGTERM to the process's own group, SIGKILL to whatever is left after `timeout`."""
    if process is None:
        return
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, all cores together (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(values) - values[3] - values[4]) / tick, sum(values) / tick  # idle and iowait are not busy


class OthersCpu:
    """The share of the machine's CPU that other processes used during a block: its busy time less our own
    processes' CPU time (given at the end), over all cores' time. Other work slows the parallel path most."""

    def start(self) -> OthersCpu:
        self.busy, self.total = machine_cpu()
        self.own = own_cpu()
        return self

    def stop(self) -> None:
        busy, total = machine_cpu()
        self.busy, self.total, self.own = busy - self.busy, total - self.total, own_cpu() - self.own

    def __enter__(self) -> OthersCpu:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def share(self, ours: float) -> float:
        """`ours`: CPU seconds our other processes (workers) used in the block; this process and its
        waited-for children are counted already."""
        return max(0.0, self.busy - self.own - ours) / self.total if self.total else 0.0


def own_cpu() -> float:
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)


TASK_DONE = re.compile(
    r"Task (evidence\.bundle_render_chunk|evidence\.bundle_assemble)\[[^\]]+\] succeeded in ([\d.]+)s"
)
# The lines evidence/tasks.py writes at the end of each chunk and assembly task (logger "evidence.tasks"):
# peak_rss_mib is that pool child's own getrusage(RUSAGE_SELF).ru_maxrss // 1024, its lifetime peak so far.
PART_LOGGED = re.compile(r"bundle part rendered: bundle=(\d+) part=(\d+) pages=(\d+) peak_rss_mib=(\d+)")
ASSEMBLY_LOGGED = re.compile(r"bundle assembled: bundle=(\d+) pages=(\d+) peak_rss_mib=(\d+) seconds=([\d.]+)")
# billiard's warning when a child leaves a task above --max-memory-per-child and exits to be replaced.
RECYCLED = re.compile(r"child process exiting after exceeding memory limit \((\d+)KiB / (\d+)KiB\)")
TICK = os.sysconf("SC_CLK_TCK")


def proc_stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat's fields after the command name (state first, then ppid), or None once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def proc_status(pid: int) -> dict[str, int]:
    """The kB figures of /proc/<pid>/status (VmRSS, VmHWM, …); empty once it is gone (or a zombie)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return {
        line.split(":", 1)[0]: int(line.split()[1]) for line in lines if line.endswith(" kB") and line.startswith("Vm")
    }


def children_of(pid: int) -> list[int]:
    """The processes whose parent is `pid`: every thread's /proc/<pid>/task/<tid>/children (a child is listed
    under the thread that forked it), or, on a kernel without them, a scan of /proc/*/stat for the ppid."""
    found: set[int] = set()
    listed = False
    try:
        threads = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return []
    for thread in threads:
        try:
            found.update(int(child) for child in (thread / "children").read_text().split())
            listed = True
        except OSError:
            continue
    if listed:
        return sorted(found)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := proc_stat(int(entry.name))) is not None and stat[1] == str(pid):
            found.add(int(entry.name))
    return sorted(found)


@dataclass
class Child:
    """One pool process of a worker, as the poller saw it."""

    pid: int
    first_seen: float  # time.monotonic()
    last_seen: float
    peak_kib: int = 0  # its VmHWM, the last time it was read
    rss_kib: int = 0
    cpu_s: float = 0.0


class Worker:
    """One `celery worker --pool prefork --concurrency 1 --max-memory-per-child KB`: a parent process that only
    supervises, and one pool child at a time, which billiard replaces after a task leaves it above the limit.
    `poll()` (the poller thread, every POLL_S seconds) records the parent's and every child's VmHWM."""

    def __init__(self, name: str, env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        self._log_handle = log.open("wb")
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool", "prefork", "--concurrency", "1"),
                *("--max-memory-per-child", str(MAX_MEMORY_PER_CHILD_KB), "-Q", "celery"),
                *("--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel", "INFO"),
                *("-n", f"{name}@%h"),
            ],
            cwd=ROOT,
            # The same limit in the settings (CELERY_WORKER_MAX_MEMORY_PER_CHILD), as production sets it.
            env={**env, "CELERY_WORKER_MAX_MEMORY_PER_CHILD_KB": str(MAX_MEMORY_PER_CHILD_KB)},
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.children: dict[tuple[int, int], Child] = {}  # by (pid, start time): a pid may come round again
        self.live: set[tuple[int, int]] = set()  # the children alive at the last poll
        self.parent_peak_kib = 0
        self.parent_idle_kib = 0
        self.idle_kib = 0  # the pool child's RSS once ready
        self.idle_cpu_s = 0.0
        self.cpu_s = 0.0
        self._lock = threading.Lock()

    def poll(self) -> list[Child]:
        """The parent's and each live child's VmHWM now; returns the live children (oldest first)."""
        with self._lock:
            now = time.monotonic()
            parent = self.process.pid
            self.parent_peak_kib = max(self.parent_peak_kib, proc_status(parent).get("VmHWM", 0))
            live: dict[tuple[int, int], Child] = {}
            for pid in children_of(parent):
                stat = proc_stat(pid)
                if stat is None or stat[1] != str(parent) or stat[0] == "Z":
                    continue
                status = proc_status(pid)
                if "VmHWM" not in status:  # exited between the two reads
                    continue
                key = (pid, int(stat[19]))
                child = self.children.setdefault(key, Child(pid, now, now))
                child.last_seen = now
                child.peak_kib = max(child.peak_kib, status["VmHWM"])
                child.rss_kib = status.get("VmRSS", 0)
                child.cpu_s = (int(stat[11]) + int(stat[12])) / TICK
                live[key] = child
            self.live = set(live)
            return sorted(live.values(), key=lambda child: child.first_seen)

    def cpu_total(self) -> float:
        """CPU seconds of the parent, its reaped children (cutime, cstime) and its live children, so far."""
        stat = proc_stat(self.process.pid)
        check(stat is not None, f"worker {self.name} has gone")
        total = sum(int(stat[i]) for i in (11, 12, 13, 14)) / TICK
        for pid in children_of(self.process.pid):
            child = proc_stat(pid)
            if child is not None and child[1] == str(self.process.pid):
                total += (int(child[11]) + int(child[12])) / TICK
        return total

    def ready(self) -> bool:
        check(self.process.poll() is None, f"worker {self.name} exited:\n{self.output()}")
        said = re.search(rf"{re.escape(self.name)}@\S+ ready\.", self.output(limit=None)) is not None
        return said and bool(self.poll())

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        stop_group(self.process)  # the pool children are in the parent's process group
        self._log_handle.close()

    def tasks(self) -> dict[str, list[float]]:
        done: dict[str, list[float]] = {"evidence.bundle_render_chunk": [], "evidence.bundle_assemble": []}
        for name, seconds in TASK_DONE.findall(self.output(limit=None)):
            done[name].append(float(seconds))
        return done

    def output(self, limit: int | None = 4000) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return text if limit is None else text[-limit:]


class Poller:
    """A background thread reading every worker's parent and pool children every POLL_S seconds, so that a
    child's VmHWM is seen before billiard replaces it (a process's high-water mark goes with it)."""

    def __init__(self, workers: list[Worker]) -> None:
        self.workers = workers
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-rss-poller", daemon=True)

    def _run(self) -> None:
        while not self._stopping.wait(POLL_S):
            for worker in self.workers:
                with contextlib.suppress(OSError, ValueError, IndexError):  # a process gone mid-read
                    worker.poll()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()


def start_workers(env: dict[str, str], folder: Path, label: str) -> list[Worker]:
    workers: list[Worker] = []
    try:
        for number in range(1, WORKERS + 1):
            workers.append(Worker(f"w{number}", env, folder / f"worker-{label}-w{number}.log"))
        deadline = time.monotonic() + 120
        while not all(worker.ready() for worker in workers):
            check(time.monotonic() < deadline, "the workers did not report ready (with a pool child) in 120 s")
            time.sleep(0.2)
        for worker in workers:
            worker.idle_kib = worker.poll()[0].rss_kib
            worker.parent_idle_kib = proc_status(worker.process.pid).get("VmRSS", 0)
            worker.idle_cpu_s = worker.cpu_total()
    except BaseException:
        for worker in workers:
            worker.stop()
        raise
    return workers


# --- one size ------------------------------------------------------------------------------------------------


@dataclass
class WorkerResult:
    name: str
    idle_kib: int  # the pool child's RSS once ready, before the build
    parent_peak_kib: int  # the parent's VmHWM at the end of the build (it only supervises)
    child_peak_kib: int  # the largest pool child's peak: the larger of the two below
    child_peak_polled_kib: int  # the largest VmHWM the poller read from a child
    child_peak_logged_kib: int | None  # the largest peak_rss_mib the tasks logged (None: no such lines)
    log_lines: int  # "bundle part rendered" and "bundle assembled" lines for this bundle
    children: int  # pool processes it used: the first and each replacement
    recycled: int  # children replaced during the build
    assembly_peak_kib: int | None  # the peak of the child that ran the assembly (None: not this worker)
    cpu_s: float  # CPU time (parent and children) spent from ready to the bundle's ready
    parts: int  # chunk tasks it ran
    parts_s: float  # their time, as Celery logged it
    assemblies: int
    assemble_s: float


@dataclass
class Run:
    size: int
    seed_s: float = 0.0
    repeat: int = 1
    chunks: int = 0
    chunked_s: float = 0.0
    pages: int = 0
    pdf_mib: float = 0.0
    package: bool = False
    verified: bool = False
    workers: list[WorkerResult] = field(default_factory=list)
    others: float = 0.0  # share of the machine's CPU other processes used during the chunked build
    single_pass_others: float = 0.0
    single_pass_s: float | None = None
    single_pass_cpu_s: float | None = None
    single_pass_peak_kib: int | None = None
    single_pass_pages: int | None = None
    repeats: list[Run] = field(default_factory=list)  # the measurements this one summarises, if repeated

    @property
    def child_peak_mib(self) -> float:
        return max(w.child_peak_kib for w in self.workers) / 1024

    @property
    def parent_peak_mib(self) -> float:
        return max(w.parent_peak_kib for w in self.workers) / 1024

    @property
    def worker_peak_mib(self) -> float:
        """The largest peak RSS of any one worker process, pool child or parent: what the goal bounds."""
        return max(self.child_peak_mib, self.parent_peak_mib)

    @property
    def assembly_peak_mib(self) -> float | None:
        peaks = [w.assembly_peak_kib for w in self.workers if w.assembly_peak_kib is not None]
        return max(peaks) / 1024 if peaks else None

    @property
    def children_max(self) -> int:
        return max(w.children for w in self.workers)

    @property
    def log_lines(self) -> int:
        return sum(w.log_lines for w in self.workers)

    @property
    def assemble_s(self) -> float:
        if self.repeats:
            return statistics.median(r.assemble_s for r in self.repeats)
        return sum(w.assemble_s for w in self.workers)

    @property
    def cpu_s(self) -> float:
        if self.repeats:
            return statistics.median(r.cpu_s for r in self.repeats)
        return sum(w.cpu_s for w in self.workers)

    @property
    def ratio(self) -> float | None:
        """Chunked over single pass: with repeats, the median of each alternating pair's ratio."""
        if self.repeats:
            ratios = [r.ratio for r in self.repeats if r.ratio is not None]
            return statistics.median(ratios) if ratios else None
        return self.chunked_s / self.single_pass_s if self.single_pass_s else None

    @property
    def ratios(self) -> list[float]:
        return [r.ratio for r in self.repeats or [self] if r.ratio is not None]


def summarise(measured: list[Run]) -> Run:
    """One size measured several times: medians of the times, the largest of every peak (all the workers'
    results kept, each named with its repeat), the individual measurements under `repeats`."""
    if len(measured) == 1:
        return measured[0]
    last = measured[-1]
    workers = [
        dataclasses.replace(worker, name=f"{worker.name}#{number}")
        for number, run in enumerate(measured, start=1)
        for worker in run.workers
    ]
    singles = [r for r in measured if r.single_pass_s is not None]
    return dataclasses.replace(
        last,
        chunked_s=statistics.median(r.chunked_s for r in measured),
        workers=workers,
        others=max(r.others for r in measured),
        single_pass_others=max((r.single_pass_others for r in singles), default=0.0),
        single_pass_s=statistics.median(r.single_pass_s for r in singles) if singles else None,
        single_pass_cpu_s=statistics.median(r.single_pass_cpu_s for r in singles) if singles else None,
        single_pass_peak_kib=max(r.single_pass_peak_kib for r in singles) if singles else None,
        verified=all(r.verified for r in measured),
        repeats=measured,
    )


def settle(workers: list[Worker]) -> None:
    """After the bundle's row says ready the assembly task is still finishing (its log line comes last, and
    its child may then be replaced): wait for Celery's "succeeded" line, then a moment for a recycle."""
    start = time.monotonic()
    while not any(worker.tasks()["evidence.bundle_assemble"] for worker in workers):
        if time.monotonic() - start > 60:
            progress("  no worker logged the assembly's success within 60 s; reading the peaks anyway")
            return
        time.sleep(0.2)
    progress(f"  the assembly task finished {time.monotonic() - start:.1f} s after the bundle said ready")
    time.sleep(1.5)


def worker_result(worker: Worker, bundle_id: int, ready_at: float) -> WorkerResult:
    """What one worker did, from its log (task times, the tasks' own peak lines) and what the poller saw."""
    text = worker.output(limit=None)
    tasks = worker.tasks()
    parts, assembled = tasks["evidence.bundle_render_chunk"], tasks["evidence.bundle_assemble"]
    part_peaks = [int(peak) * 1024 for bundle, _, _, peak in PART_LOGGED.findall(text) if int(bundle) == bundle_id]
    assembly_peaks = [
        int(peak) * 1024 for bundle, _, peak, _ in ASSEMBLY_LOGGED.findall(text) if int(bundle) == bundle_id
    ]
    logged = part_peaks + assembly_peaks
    children = list(worker.children.values())
    polled = max((child.peak_kib for child in children), default=0)
    # A replaced child is gone by the last poll (billiard's own warning counts too, if it reaches the log).
    recycled = max(sum(1 for key in worker.children if key not in worker.live), len(RECYCLED.findall(text)))
    assembly_peak = None
    if assembled or assembly_peaks:
        # The assembly is the last task: the child that ran it is the youngest one seen before the row said
        # ready (the assembly takes seconds, the poller looks every POLL_S).
        before = [child for child in children if child.first_seen <= ready_at]
        ran_it = max(before, key=lambda child: child.first_seen, default=None)
        assembly_peak = max([*assembly_peaks, ran_it.peak_kib if ran_it else 0])
    return WorkerResult(
        name=worker.name,
        idle_kib=worker.idle_kib,
        parent_peak_kib=worker.parent_peak_kib,
        child_peak_kib=max([polled, *logged]),
        child_peak_polled_kib=polled,
        child_peak_logged_kib=max(logged) if logged else None,
        log_lines=len(logged),
        children=max(len(children), recycled + 1),
        recycled=recycled,
        assembly_peak_kib=assembly_peak,
        cpu_s=worker.cpu_s,
        parts=len(parts),
        parts_s=sum(parts),
        assemblies=len(assembled),
        assemble_s=sum(assembled),
    )


def build_chunked(run: Run, tasking, officer, env: dict[str, str], folder: Path):
    from evidence import bundles
    from evidence.models import HandoverBundle

    progress(f"{run.size} exhibits: starting {WORKERS} workers")
    workers = start_workers(env, folder, f"{run.size}-{run.repeat}")
    poller = Poller(workers)
    try:
        progress(
            f"{run.size} exhibits: workers ready (pool child idle RSS {workers[0].idle_kib / 1024:.0f} MiB, "
            f"parent {workers[0].parent_idle_kib / 1024:.0f} MiB); requesting"
        )
        poller.start()
        timeout = max(300.0, TIMEOUT_PER_EXHIBIT * run.size)
        others = OthersCpu().start()
        start = time.perf_counter()
        bundle = bundles.bundle_request(tasking=tasking, by=officer)
        last_note = start
        while True:
            state, error = HandoverBundle.objects.filter(pk=bundle.pk).values_list("state", "error").get()
            if state in (HandoverBundle.State.READY, HandoverBundle.State.FAILED):
                break
            now = time.perf_counter()
            check(now - start < timeout, f"the bundle was not ready after {timeout:.0f} s (state {state})")
            for worker in workers:
                check(worker.alive(), f"worker {worker.name} exited during the build:\n{worker.output()}")
            if now - last_note >= 30:
                last_note = now
                done = bundles.bundle_chunks_done(bundle)
                progress(f"  {now - start:.0f} s: {state}, {done} parts rendered")
            time.sleep(0.1)
        run.chunked_s = time.perf_counter() - start
        ready_at = time.monotonic()
        others.stop()
        for worker in workers:
            worker.cpu_s = worker.cpu_total() - worker.idle_cpu_s
        run.others = others.share(sum(worker.cpu_s for worker in workers))
        logs = "\n".join(f"--- {w.name} ---\n{w.output()}" for w in workers)
        check(state == HandoverBundle.State.READY, f"the build failed: {error}\n{logs}")
        settle(workers)
        poller.stop()
        for worker in workers:
            worker.poll()  # the last look, before stopping: the live children's and the parent's high-water marks
    finally:
        poller.stop()
        for worker in workers:
            worker.stop()
    run.workers = [worker_result(worker, bundle.pk, ready_at) for worker in workers]
    bundle.refresh_from_db()
    run.chunks = len(bundle.plan["chunks"])
    return bundle


def verify_bundle(run: Run, bundle) -> None:
    import pikepdf
    from django.conf import settings
    from django.core.files.storage import default_storage

    from evidence.verify import verify, verify_package

    path = Path(default_storage.path(bundle.pdf_name))
    run.pdf_mib = path.stat().st_size / MIB
    if bundle.package_name:
        run.package = True
        report = verify_package(Path(default_storage.path(bundle.package_name)), settings.PORTAL_SIGNING_CERT_PATH)
    else:
        report = verify(path.read_bytes(), settings.PORTAL_SIGNING_CERT_PATH)
    check(report.ok, f"the {run.size}-exhibit bundle does not verify: {report.failure}")
    run.verified = True
    with pikepdf.open(path) as pdf:
        run.pages = len(pdf.pages)


def single_pass(run: Run, bundle_id: int, env: dict[str, str]) -> None:
    """The baseline, in its own process: it reports the call's time, its own peak RSS and the pages."""
    progress(f"{run.size} exhibits: single-pass baseline (separate process)")
    with OthersCpu() as others:
        answer = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--single-pass", str(bundle_id)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
            check=False,
        )
    run.single_pass_others = others.share(0.0)
    check(answer.returncode == 0, f"the single-pass baseline exited {answer.returncode}: {answer.stdout[-2000:]}")
    found = json.loads(answer.stdout.strip().splitlines()[-1])
    run.single_pass_s, run.single_pass_cpu_s = found["seconds"], found["cpu_s"]
    run.single_pass_peak_kib, run.single_pass_pages = found["peak_kib"], found["pages"]


def single_pass_child(bundle_id: int) -> None:
    """`bundle_scale.py --single-pass ID`: run by the benchmark with its environment, prints one JSON line."""
    import django

    django.setup()
    import pikepdf

    from evidence import bundles
    from evidence.models import HandoverBundle

    bundle = HandoverBundle.objects.select_related("tasking__scheme", "tasking__authorisation").get(pk=bundle_id)
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    pdf = bundles.bundle_single_pass_pdf(bundle)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    peak_kib = max(status_kib("self", "VmHWM"), after.ru_maxrss)
    with pikepdf.open(io.BytesIO(pdf)) as document:
        pages = len(document.pages)
    found = {"seconds": seconds, "cpu_s": cpu, "peak_kib": peak_kib, "pages": pages, "bytes": len(pdf)}
    print(json.dumps(found), flush=True)


# --- the report ----------------------------------------------------------------------------------------------


def report(runs: list[Run], vendor: str, chunk_exhibits: int, chats: list[tuple[str, Run, int]]) -> None:
    print(
        f"database: {vendor}, workers: {WORKERS} (prefork pool, concurrency 1, max-memory-per-child "
        f"{MAX_MEMORY_PER_CHILD_KB} KB = {MAX_MEMORY_PER_CHILD_KB / 1024:.0f} MiB: a pool child is replaced after "
        f"a task leaves it above that), chunk: {chunk_exhibits} exhibits, a PNG photo every {PHOTO_EVERY} "
        f"exhibits, the rest {TRANSCRIPT_LINES}-line transcripts; others = share of the machine's CPU "
        f"({os.cpu_count()} cores) that other processes used meanwhile"
    )
    print(
        "peak RSS in MiB: child = the largest pool child's (the larger of its tasks' logged peak_rss_mib and its "
        f"VmHWM polled every {POLL_S} s), parent = the supervising process's, assembly = the child that assembled"
    )
    print(
        f"{'exhibits':>8} {'parts':>5} {'seed s':>7} {'others':>6} {'chunked s':>9} {'s/exhibit':>9} {'CPU s':>7} "
        f"{'assemble s':>10} {'pages':>6} {'PDF MiB':>7} {'child':>5} {'parent':>6} {'assembly':>8} "
        f"{'children':>8}  per worker: child peak (log, /proc; idle), parent, children (recycled), parts in s, "
        "assembly s"
    )
    for run in runs:
        per_worker = "; ".join(
            f"{w.name} {w.child_peak_kib / 1024:.0f} ("
            + (f"log {w.child_peak_logged_kib / 1024:.0f}" if w.child_peak_logged_kib is not None else "log none")
            + f", /proc {w.child_peak_polled_kib / 1024:.0f}; idle {w.idle_kib / 1024:.0f}), "
            f"parent {w.parent_peak_kib / 1024:.0f}, {w.children} ({w.recycled}), {w.parts} in {w.parts_s:.1f}"
            + (f", {w.assemble_s:.1f}" if w.assemblies else "")
            for w in run.workers
        )
        assembly = f"{run.assembly_peak_mib:.0f}" if run.assembly_peak_mib is not None else "?"
        print(
            f"{run.size:>8} {run.chunks:>5} {run.seed_s:>7.1f} {run.others:>6.0%} {run.chunked_s:>9.1f} "
            f"{run.chunked_s / run.size:>9.3f} {run.cpu_s:>7.1f} {run.assemble_s:>10.1f} {run.pages:>6} "
            f"{run.pdf_mib:>7.1f} {run.child_peak_mib:>5.0f} {run.parent_peak_mib:>6.0f} {assembly:>8} "
            f"{'+'.join(str(w.children) for w in run.workers):>8}  {per_worker}{' + package' if run.package else ''}"
        )
    logged = sum(run.log_lines for run in runs)
    if logged:
        print(f"log peaks: {logged} task lines (bundle part rendered / bundle assembled), taken with the /proc polls")
    else:
        print(
            "log peaks: none (no `bundle part rendered` / `bundle assembled` lines in the worker logs): "
            f"the peaks are the /proc polls alone (every {POLL_S} s; a child's last moments may be missed)"
        )
    for run in runs:
        if run.ratio is not None:
            repeated = ""
            if run.repeats:
                pairs = ", ".join(
                    f"{r.chunked_s:.1f}/{r.single_pass_s:.1f} = {r.ratio:.2f}" for r in run.repeats if r.ratio
                )
                repeated = f"; {len(run.repeats)} alternating pairs, chunked/single s: {pairs}; median"
            print(
                f"single pass, {run.size} exhibits (others {run.single_pass_others:.0%}): {run.single_pass_s:.1f} s, "
                f"CPU {run.single_pass_cpu_s:.1f} s, peak RSS {run.single_pass_peak_kib / 1024:.0f} MiB, "
                f"{run.single_pass_pages} pages (no MG11 pages, stamps or signature){repeated}; chunked/single-pass = "
                f"{run.ratio:.2f} (goal <= {GOAL_RATIO}: {'met' if run.ratio <= GOAL_RATIO else 'NOT met'})"
            )
    for shape, run, printed in chats:
        print(
            f"transcript {shape}: {printed} messages, every one printed with its time; {run.pages} pages, "
            f"{run.chunks} parts, {run.chunked_s:.1f} s = {run.pages / run.chunked_s:.1f} pages/s; largest worker "
            f"process peak {run.worker_peak_mib:.0f} MiB (others {run.others:.0%})"
        )
    peak = max(run.worker_peak_mib for run in [*runs, *(run for _, run, _ in chats)])
    met = "met" if peak <= GOAL_RSS_MB else "NOT met"
    print(
        f"largest worker process peak RSS: {peak:.0f} MiB (pool children {max(r.child_peak_mib for r in runs):.0f}, "
        f"parents {max(r.parent_peak_mib for r in runs):.0f}; goal <= {GOAL_RSS_MB}: {met})"
    )
    ordered = sorted(runs, key=lambda r: r.size)
    for small, large in itertools.pairwise(ordered):
        if large.size > small.size:
            marginal = (large.chunked_s - small.chunked_s) / (large.size - small.size)
            print(f"marginal time {small.size} -> {large.size}: {marginal:.3f} s per added exhibit")

    baseline = next((run for run in ordered if run.size in BASELINE_SIZES), None)
    largest = ordered[-1] if ordered else None
    growth = None
    if baseline is not None and largest is not None and largest.size > baseline.size:
        growth = (largest.chunked_s / largest.size) / (baseline.chunked_s / baseline.size)
        print(
            f"time per exhibit at {largest.size} over that at {baseline.size}: {growth:.2f} "
            f"(goal <= {GOAL_PER_EXHIBIT_GROWTH}: {'met' if growth <= GOAL_PER_EXHIBIT_GROWTH else 'NOT met'})"
        )

    fields: dict[str, str] = {}
    if growth is not None:
        fields["per_exhibit_growth"] = f"{growth:.2f}"
    for shape, run, printed in chats:
        fields[f"transcript_{shape}_messages"] = str(printed)
        fields[f"transcript_{shape}_pages"] = str(run.pages)
        fields[f"transcript_{shape}_pages_per_s"] = f"{run.pages / run.chunked_s:.1f}"
        fields[f"transcript_{shape}_peak_rss_mb"] = f"{run.worker_peak_mib:.0f}"
    for run in runs:
        if run.ratio is not None:
            fields[f"bundle_{run.size}_ratio"] = f"{run.ratio:.2f}"
            fields[f"bundle_{run.size}_ratio_min"] = f"{min(run.ratios):.2f}"
            fields[f"bundle_{run.size}_ratio_max"] = f"{max(run.ratios):.2f}"
            fields[f"bundle_{run.size}_pairs"] = str(len(run.ratios))
            fields[f"single_pass_{run.size}_s"] = f"{run.single_pass_s:.1f}"
            fields[f"single_pass_{run.size}_cpu_s"] = f"{run.single_pass_cpu_s:.1f}"
            fields[f"single_pass_{run.size}_others_cpu_pct"] = f"{run.single_pass_others * 100:.0f}"
            fields[f"single_pass_{run.size}_peak_rss_mb"] = f"{run.single_pass_peak_kib / 1024:.0f}"
    for run in runs:
        fields[f"chunked_{run.size}_s"] = f"{run.chunked_s:.1f}"
    for run in runs:
        fields[f"chunked_{run.size}_cpu_s"] = f"{run.cpu_s:.1f}"
    for run in runs:
        fields[f"others_cpu_pct_{run.size}"] = f"{run.others * 100:.0f}"
    for run in runs:
        fields[f"s_per_exhibit_{run.size}"] = f"{run.chunked_s / run.size:.3f}"
    for small, large in itertools.pairwise(ordered):
        if large.size > small.size:
            marginal = (large.chunked_s - small.chunked_s) / (large.size - small.size)
            fields[f"marginal_s_per_exhibit_{small.size}_{large.size}"] = f"{marginal:.3f}"
    for run in runs:
        fields[f"worker_peak_rss_mb_{run.size}"] = f"{run.worker_peak_mib:.0f}"
    fields["worker_peak_rss_mb_max"] = f"{peak:.0f}"
    if len(ordered) > 1:
        fields["worker_rss_growth"] = f"{ordered[-1].worker_peak_mib / ordered[0].worker_peak_mib:.2f}"
    for run in runs:
        fields[f"parent_peak_rss_mb_{run.size}"] = f"{run.parent_peak_mib:.0f}"
    for run in runs:
        assembly = run.assembly_peak_mib
        fields[f"assembly_peak_rss_mb_{run.size}"] = f"{assembly:.0f}" if assembly is not None else "unknown"
    for run in runs:
        fields[f"worker_children_max_{run.size}"] = str(run.children_max)
    fields["max_memory_per_child_kb"] = str(MAX_MEMORY_PER_CHILD_KB)
    fields["log_peaks"] = str(bool(logged)).lower()
    for run in runs:
        fields[f"pages_{run.size}"] = str(run.pages)
    fields["verified"] = str(all(run.verified for run in runs)).lower()
    fields["workers"] = str(WORKERS)
    ratios = [run.ratio for run in runs if run.ratio is not None]
    fields["goal_ratio"] = str(GOAL_RATIO)
    fields["goal_rss_mb"] = str(GOAL_RSS_MB)
    fields["goal_met"] = str(
        all(r <= GOAL_RATIO for r in ratios)
        and peak <= GOAL_RSS_MB
        and (growth is None or growth <= GOAL_PER_EXHIBIT_GROWTH)
    ).lower()
    print("RESULT " + " ".join(f"{key}={value}" for key, value in fields.items()), flush=True)


# --- the whole benchmark ----------------------------------------------------------------------------------------


def main() -> None:
    if shutil.which("redis-server") is None:
        print(
            "SKIPPED bundle_scale.py: it needs the redis-server binary (a throwaway broker and result backend is "
            "started on a free port).",
            file=sys.stderr,
        )
        raise SystemExit(1 if IN_CI else 0)
    check(SIZES and all(size >= 1 for size in SIZES), "BENCH_SIZES must list sizes of at least 1")
    check(WORKERS >= 1, "BENCH_WORKERS must be at least 1")
    check(MAX_MEMORY_PER_CHILD_KB >= 50_000, "BENCH_MAX_MEMORY_PER_CHILD_KB must be at least 50000 (as settings)")
    work = Path(tempfile.mkdtemp(prefix="bench-bundle-"))
    redis: ThrowawayRedis | None = None
    old_name: str | None = None
    # A SIGTERM (make interrupted, a CI timeout) must still stop the workers and redis and delete the files.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        redis = ThrowawayRedis(work)
        redis.start()
        var = work / "var"
        throwaway = {
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "PORTAL_VAR_DIR": str(var),
            "PORTAL_PRIVATE_STORAGE": str(var / "private"),
            "PORTAL_UPLOAD_TEMP_DIR": str(var / "uploads"),
            "PORTAL_SIGNING_KEY_PATH": str(work / "signing" / "bundle-key.pem"),
            "PORTAL_SIGNING_CERT_PATH": str(work / "signing" / "bundle-cert.pem"),
            "CELERY_BROKER_URL": redis.url,
            "CELERY_RESULT_BACKEND": redis.url,
            # As in production (DEBUG off: no query log growing in the workers), with throwaway secrets.
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
            "DJANGO_ALLOWED_HOSTS": "localhost",
            "PORTAL_FIELD_KEYS": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "PORTAL_DECONFLICTION_KEYS": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "PORTAL_FILE_KEYS": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "PORTAL_STATIC_MANIFEST": "false",
        }
        os.environ.update(throwaway)  # before django.setup(): this process's Celery producer uses this broker
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connection
        from django.test.utils import setup_test_environment

        setup_test_environment()
        if connection.vendor == "postgresql":
            connection.settings_dict["TEST"]["NAME"] = f"test_bench_bundle_{os.getpid()}"  # never a suite's DB
        progress(f"creating the throwaway {connection.vendor} database")
        old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        call_command("create_signing_key", "--force", stdout=io.StringIO())
        env = {**os.environ, **throwaway, "DATABASE_URL": database_url()}

        scheme, officer, volunteer = seed_people()
        runs: list[Run] = []
        for size in SIZES:
            progress(f"{size} exhibits: seeding through the services")
            start = time.perf_counter()
            tasking = seed_tasking(scheme, officer, volunteer, size)
            seed_s = time.perf_counter() - start
            progress(f"{size} exhibits: seeded in {seed_s:.1f} s")
            measured: list[Run] = []
            for repeat in range(1, (REPEATS if size in BASELINE_SIZES else 1) + 1):
                run = Run(size, seed_s=seed_s, repeat=repeat)
                label = f"{size} exhibits" + (f" (#{repeat})" if size in BASELINE_SIZES and REPEATS > 1 else "")
                connection.close()  # nothing of this process's open against the database while the workers run
                bundle = build_chunked(run, tasking, officer, env, work)
                progress(f"{label}: chunked build ready in {run.chunked_s:.1f} s; verifying")
                verify_bundle(run, bundle)
                progress(
                    f"{label}: verified, {run.pages} pages; largest pool child peak {run.child_peak_mib:.0f} MiB, "
                    f"parent {run.parent_peak_mib:.0f} MiB; children per worker "
                    + ", ".join(f"{w.name} {w.children}" for w in run.workers)
                    + ("" if run.log_lines else " (log peaks: none, /proc polls only)")
                )
                if size in BASELINE_SIZES:
                    connection.close()
                    single_pass(run, bundle.pk, env)
                    progress(
                        f"{label}: single pass {run.single_pass_s:.1f} s, "
                        f"peak {run.single_pass_peak_kib / 1024:.0f} MiB; ratio {run.ratio:.2f}"
                    )
                measured.append(run)
            runs.append(summarise(measured))
        chats: list[tuple[str, Run, int]] = []
        for shape in TRANSCRIPT_SHAPES:
            progress(f"transcript {shape}: seeding one {TRANSCRIPT_MESSAGES}-message export")
            start = time.perf_counter()
            tasking, expected = seed_transcript_tasking(scheme, officer, volunteer, shape)
            run = Run(1, seed_s=time.perf_counter() - start)
            connection.close()
            bundle = build_chunked(run, tasking, officer, env, work)
            verify_bundle(run, bundle)
            printed = every_message_printed(bundle, expected, shape)
            progress(
                f"transcript {shape}: {run.pages} pages in {run.chunked_s:.1f} s ({run.pages / run.chunked_s:.1f} "
                f"pages/s), every one of {printed} messages printed with its time; largest pool child peak "
                f"{run.child_peak_mib:.0f} MiB"
            )
            chats.append((shape, run, printed))
        report(runs, connection.vendor, settings.PORTAL_BUNDLE_CHUNK_EXHIBITS, chats)
        connection.close()
    except BenchFailed as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    finally:
        if redis is not None:
            redis.stop()
        if old_name is not None:
            from django.db import connection

            connection.creation.destroy_test_db(old_name, verbosity=0)
        if KEEP_LOGS:
            KEEP_LOGS.mkdir(parents=True, exist_ok=True)
            for log in work.glob("worker-*.log"):
                shutil.copy(log, KEEP_LOGS / log.name)
            progress(f"worker logs kept in {KEEP_LOGS}")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--single-pass":
        single_pass_child(int(sys.argv[2]))
    else:
        main()
