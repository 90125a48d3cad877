"""50 exhibits submitted at once to one tasking on PostgreSQL: references unique and gap-free, and the cost.

50 threads (one database connection each, opened before the start line) call
evidence.services.exhibit_submit for the same volunteer and tasking at the same moment; the baseline is the
same 50 submissions one after another on another tasking, in the same run. The sequences must come out as
exactly 1..50 with 50 distinct references, in every run. Needs DATABASE_URL=postgresql://… (a throwaway
`test_bench_…` database is created and dropped): SQLite serialises every writer, so it would prove nothing.
Without PostgreSQL it says so and exits 0 (1 with CI=true). BENCH_SUBMISSIONS (default 50) changes the
number, BENCH_RUNS (default 3; fresh taskings each run, median reported) the repeats.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import statistics
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

if urlparse(os.environ.get("DATABASE_URL", "")).scheme not in {"postgres", "postgresql", "pgsql"}:
    # Skipped (status 0) so `make bench` still runs on the embedded SQLite default; with CI=true it fails.
    print(
        "SKIPPED exhibit_concurrency.py: it needs PostgreSQL. Set DATABASE_URL=postgresql://user@host:5432/name "
        "(a throwaway test_bench_… database is created there and dropped).",
        file=sys.stderr,
    )
    sys.exit(1 if os.environ.get("CI", "").lower() == "true" else 0)

import django

django.setup()

from django.db import connection, connections  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402

SUBMISSIONS = int(os.environ.get("BENCH_SUBMISSIONS", "50"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))


def check(condition: bool, message: str) -> None:
    if not condition:
        raise SystemExit(f"FAILED: {message}")


class Received:
    """What exhibit_submit reads of a received upload (the bytes themselves are not the point here)."""

    def __init__(self, i: int) -> None:
        self.name = f"capture-{i}.png"
        self.size = 1024
        self.sha256 = hashlib.sha256(f"exhibit {i}".encode()).hexdigest()


def seed():
    """A deployable volunteer, built through the services the way tests/conftest.py builds them, and a
    function that makes a fresh tasking assigned to them."""
    from evidence.services import tasking_assign
    from portal import roles
    from portal.models import Scheme
    from tests.conftest import clear_vetting, invite_and_apply, make_person, make_tasking, screen
    from volunteers.services import conduct_publish, volunteer_transition

    scheme = Scheme.objects.create(name="Bench Partnership", code="bench")
    officer = make_person("officer@bench.example", roles.OFFICER, scheme)
    welfare = make_person("welfare@bench.example", roles.WELFARE, scheme)
    conduct_publish(title="Volunteer code of conduct", text="Never initiate.\n\nNever confront.", by=None)
    volunteer = invite_and_apply(scheme, officer, "cara@bench.example", "Cara Concurrent")
    clear_vetting(volunteer, officer)
    screen(volunteer.user, welfare)
    volunteer.refresh_from_db()
    volunteer = volunteer_transition(volunteer=volunteer, to="accredited", by=officer, reason="Bench.")

    def new_tasking(reference: str):
        tasking = make_tasking(scheme, officer, reference=reference)
        tasking_assign(tasking=tasking, volunteer=volunteer.user, by=officer)
        return tasking

    return volunteer.user, new_tasking


def submit(user, tasking, i: int):
    from evidence.services import exhibit_submit

    return exhibit_submit(
        user=user,
        tasking=tasking,
        upload=Received(i),
        sniffed_type="image/png",
        description="Chat with the suspect (benchmark).",
        platform="Platform X",
        other_party="user_4471",
        url="",
        captured_at=timezone.now() - timedelta(minutes=5),
        capture_method="Platform export",
        store=lambda upload, name: None,
    )


def concurrently(user, tasking) -> tuple[float, list[BaseException]]:
    errors: list[BaseException] = []
    start_line = threading.Barrier(SUBMISSIONS + 1)

    def one(i: int) -> None:
        try:
            connection.ensure_connection()  # connect before the start line: the race is the point, not connecting
            start_line.wait()
            submit(user, tasking, i)
        except BaseException as exc:
            errors.append(exc)
            start_line.abort()  # one that fails before the start line must not leave the others waiting
        finally:
            connections.close_all()  # this thread's own connection (CONN_MAX_AGE would keep it open)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(SUBMISSIONS)]
    for thread in threads:
        thread.start()
    with contextlib.suppress(threading.BrokenBarrierError):  # the failure is in `errors`
        start_line.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start, errors


def main() -> None:
    from evidence.models import Exhibit

    setup_test_environment()
    connection.settings_dict["TEST"]["NAME"] = f"test_bench_concurrency_{os.getpid()}"  # never a suite's database
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        user, new_tasking = seed()
        submit(user, new_tasking("OP-BENCH-WARM"), 0)  # first-call costs belong to neither measurement

        def sequences_of(tasking) -> tuple[list[int], set[str]]:
            rows = list(Exhibit.objects.filter(tasking=tasking).values_list("sequence", "reference"))
            return sorted(sequence for sequence, _ in rows), {reference for _, reference in rows}

        expected = list(range(1, SUBMISSIONS + 1))
        sequential_runs, concurrent_runs, errors = [], [], []
        unique = gap_free = True
        for run in range(RUNS):  # a fresh pair of taskings each run, so every run must count from 1 again
            tasking = new_tasking(f"OP-BENCH-SEQ-{run}")
            start = time.perf_counter()
            for i in range(SUBMISSIONS):
                submit(user, tasking, i)
            sequential_runs.append(time.perf_counter() - start)
            check(sequences_of(tasking)[0] == expected, "sequential submissions did not number 1..N")

            tasking = new_tasking(f"OP-BENCH-RACE-{run}")
            seconds, failed = concurrently(user, tasking)
            concurrent_runs.append(seconds)
            errors += failed
            sequences, references = sequences_of(tasking)
            unique = unique and len(references) == len(sequences) == SUBMISSIONS
            gap_free = gap_free and sequences == expected

        seconds, sequential = statistics.median(concurrent_runs), statistics.median(sequential_runs)
        print(
            f"database: {connection.vendor}, submissions: {SUBMISSIONS}, runs: {RUNS} (median), "
            f"failed submissions: {len(errors)}"
        )
        for exc in errors[:5]:
            print(f"  {type(exc).__name__}: {exc}")
        print(
            f"RESULT concurrent={SUBMISSIONS} unique={str(unique).lower()} gap_free={str(gap_free).lower()} "
            f"errors={len(errors)} runs={RUNS} seconds={seconds:.3f} sequential_seconds={sequential:.3f} "
            f"ratio={seconds / sequential:.2f}"
        )
        if errors or not (unique and gap_free):
            raise SystemExit(1)
    finally:
        connections.close_all()
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
