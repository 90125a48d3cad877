"""Volume: the busiest pages over a full-size platform on PostgreSQL, against a baseline view.

A throwaway PostgreSQL database (`bench_volume_<pid>`, migrated with `manage.py migrate`) is seeded with 10
schemes, 10,000 volunteers, 1,000 taskings, 100,000 exhibits, 1,000,000 custody events and 500,000 audit rows.
The people the pages are measured for, and what they do to the data, go through the services (invitation,
vetting, screening, accreditation, training, assignment, an exhibit, review, MG11s, schedule signatures,
bundle shares); the volume goes in by COPY, each chained row hashed by the chains' own functions
(portal.hashchain.link_hash over portal.audit.chained_row and evidence.custody's row) after the head the
chain had, so `verify_audit` and `verify_custody` must report every chain intact. The measured scheme holds
BENCH_MEASURED_SHARE (0.5) of the volunteers, taskings and exhibits: a large force beside nine small ones.

Then a gunicorn of 2 sync workers serves the portal's own settings with one change, a URL map that adds the
baseline view (bench/volume_settings.py, bench/volume_urls.py: production has no such URL). wrk (2 threads,
8 connections, BENCH_WARMUP s of warm-up then BENCH_DURATION s) loads, each signed in as the person who reads
it, the volunteer dashboard, a tasking page, the officer home page, the welfare console, the admin exhibit
list with a search and a filter, and the court inbox. Each page's requests per second are a ratio to the
baseline's (a template rendered after five trivial queries, by the same workers over the same persistent
database connections), measured before and after every page so drift hits both. Goals: ratio >= 0.8 and
p99 < 100 ms. The query count of each page is measured in this process (CaptureQueriesContext); for a page
that misses a goal its slowest SELECT is shown with EXPLAIN ANALYZE. While wrk loads the exhibit list,
BENCH_BUNDLE_REQUESTS (50) bundle requests go through evidence's bundle_request: the time from the request
until its job is recorded and sent to the broker (goal p99 < 50 ms). Last, `manage.py verify_audit` and
`verify_custody` over everything: rows per second, and the whole platform's time (goal under 5 minutes).

Needs DATABASE_URL=postgresql://… (the server where the throwaway database is made; without it, it says so
and exits 0, 1 with CI=true), wrk on PATH and a Redis for the broker (BENCH_BROKER_URL, default
redis://127.0.0.1:6379/9; nothing needs to consume it, and the bench purges what it sent) and for the
cache (BENCH_CACHE_URL, default redis://127.0.0.1:6379/8: production keeps sessions and rate limits in Redis).
BENCH_SCALE (1) shrinks every count for a quick run (0.01). BENCH_KEEP_DB=1 keeps the database and its files;
BENCH_DB=<name> runs again on a kept one without seeding it again. BENCH_VERIFY=0 leaves out verify_audit and
verify_custody (the pages and the bundle requests only).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
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
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlparse, urlunparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SOURCE_URL = os.environ.get("DATABASE_URL", "")
if urlparse(SOURCE_URL).scheme not in {"postgres", "postgresql", "pgsql"}:
    # Skipped (status 0) so `make bench` still runs on the embedded SQLite default; with CI=true it fails.
    print(
        "SKIPPED volume.py: it needs PostgreSQL. Set DATABASE_URL=postgresql://user@host:5432/name (a throwaway "
        "bench_volume_… database is created on that server and dropped).",
        file=sys.stderr,
    )
    sys.exit(1 if os.environ.get("CI", "").lower() == "true" else 0)

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
MEASURED_SHARE = float(os.environ.get("BENCH_MEASURED_SHARE", "0.5"))
DURATION = int(os.environ.get("BENCH_DURATION", "10"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "3"))
BUNDLE_REQUESTS = int(os.environ.get("BENCH_BUNDLE_REQUESTS", "50"))
BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/9")
CACHE_URL = os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/8")
KEEP = os.environ.get("BENCH_KEEP_DB", "") == "1"
REUSE = os.environ.get("BENCH_DB", "")
VERIFY = os.environ.get("BENCH_VERIFY", "1") != "0"  # 0: the pages and bundle requests only (a quicker rerun)
DB_NAME = REUSE or f"bench_volume_{os.getpid()}"
WORKERS, THREADS, CONNECTIONS = 2, 2, 8
GOAL_RATIO, GOAL_P99_MS, GOAL_BUNDLE_P99_MS, GOAL_VERIFY_SECONDS = 0.8, 100, 50, 300


def scaled(count: int, minimum: int = 1) -> int:
    return max(minimum, round(count * SCALE))


SCHEMES = scaled(10, 2)
VERA_TASKINGS = 5  # hers, in the measured scheme; each made ready for a bundle
PER_TASKING = 4  # volunteers assigned to each tasking besides Vera
VOLUNTEERS = scaled(10_000, SCHEMES * PER_TASKING * 2)
TASKINGS = scaled(1_000, VERA_TASKINGS * 2 + SCHEMES)
EXHIBITS = scaled(100_000, TASKINGS)
CUSTODY_EVENTS = scaled(1_000_000, EXHIBITS * 2)
AUDIT_ROWS = scaled(500_000, 1_000)
IN_PROCESS_RUNS = 5
COURT_SHARES = 20  # bundles shared with Carla, the court recipient: a busy CPS lawyer's inbox
BATCH_EXHIBITS = 10_000  # exhibits (and their custody events and files) per COPY transaction

if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", DB_NAME):
    raise SystemExit(f"BENCH_DB={DB_NAME!r} is not a plain database name (lower-case letters, digits, _).")

VAR = Path(tempfile.gettempdir()) / DB_NAME  # its files live as long as the database does
RECORD = VAR / "bench-volume.json"  # what a rerun on a kept database needs (the people's TOTP secrets)
PASSWORD = "correct-horse-battery-staple"  # noqa: S105  (the throwaway people's, as in tests/conftest.py)
CHAT = "[14:01] dave_77: hi\n[14:02] mia_x: hello\n[14:03] dave_77: how old are you\n"

_parsed = urlparse(SOURCE_URL)
BENCH_URL = urlunparse(_parsed._replace(path=f"/{DB_NAME}"))
SERVER_URL = urlunparse(_parsed._replace(path="/postgres"))
ENV = {
    "DATABASE_URL": BENCH_URL,
    "DJANGO_SETTINGS_MODULE": "bench.volume_settings",
    "PORTAL_VAR_DIR": str(VAR),
    "PORTAL_PRIVATE_STORAGE": str(VAR / "private"),
    "PORTAL_UPLOAD_TEMP_DIR": str(VAR / "uploads"),
    "CELERY_BROKER_URL": BROKER_URL,
    "CELERY_RESULT_BACKEND": BROKER_URL,
    # Production's cache (Redis, portal/cache.py): sessions are read through it and rate limits kept in it.
    "CACHE_URL": CACHE_URL,
    # The portal's development defaults, with Django's debug machinery off as `make demo` runs it: DEBUG
    # records every query of every request, which production does not pay.
    "DJANGO_DEBUG_PAGES": "false",
}


class BenchFailed(RuntimeError):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise BenchFailed(message)


def say(text: str) -> None:
    print(text, flush=True)


# --- the throwaway database -------------------------------------------------------------------------------


def database_exists() -> bool:
    import psycopg

    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone() is not None


def database_create() -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB_NAME)))


def database_drop() -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DB_NAME)))


def code_version() -> str:
    """Which code is measured: the commit, and the files changed since (others may be editing them)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        status = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True)
    except OSError:
        return "unknown (no git)"
    changed = [line[3:] for line in status.stdout.splitlines() if not line.startswith("??")]
    return f"{head.stdout.strip()}" + (f" with uncommitted changes to {', '.join(changed)}" if changed else "")


def manage(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True
    )
    check(done.returncode == 0, f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


# --- bulk writing: COPY with ids chosen here, so rows can point at each other before they exist -----------


class Ids:
    """The next free primary keys of one table (this process is its only writer while seeding)."""

    def __init__(self, model) -> None:
        from django.db.models import Max

        self.next = (model.objects.aggregate(top=Max("pk"))["top"] or 0) + 1

    def take(self) -> int:
        self.next += 1
        return self.next - 1


def copy_models(model, objects: Iterable) -> int:
    """COPY model instances into their table, every column prepared by its own field (JSON, encrypted
    text, times), then move the table's id sequence past them."""
    from django.core.management.color import no_style
    from django.db import connection

    fields = model._meta.concrete_fields
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    count = 0
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for obj in objects:
                copy.write_row([f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields])
                count += 1
        for statement in connection.ops.sequence_reset_sql(no_style(), [model]):
            cursor.execute(statement)
    return count


def split(total: int, parts: int, first_share: float) -> list[int]:
    """`total` over `parts`: the first part gets `first_share`, the others the rest evenly."""
    first = max(1, round(total * first_share)) if parts > 1 else total
    rest = total - first
    return [first] + [rest // (parts - 1) + (1 if i < rest % (parts - 1) else 0) for i in range(parts - 1)]


FIRST = ["Alex", "Bea", "Cal", "Dana", "Eli", "Fran", "Gus", "Hana", "Ivo", "Jo", "Kit", "Lou", "Mo", "Nia", "Oz"]
LAST = ["Archer", "Bell", "Cole", "Drake", "Ellis", "Frost", "Grey", "Hale", "Irwin", "Judd", "Kerr", "Lane"]


def person_name(n: int) -> str:
    return f"{FIRST[n % len(FIRST)]} {LAST[(n // len(FIRST)) % len(LAST)]} {n:05d}"


@dataclass
class Seeded:
    """What the measurement needs to know about the seeded platform."""

    scale: float
    counts: dict[str, int]
    seconds: dict[str, float]
    totp: dict[str, str]  # e-mail -> authenticator secret, for signing in with MFA
    vera_taskings: list[int]
    emails: dict[str, str]  # persona -> e-mail

    def save(self) -> None:
        RECORD.write_text(json.dumps(self.__dict__, indent=2))

    @classmethod
    def load(cls) -> Seeded:
        check(RECORD.exists(), f"{RECORD} is missing: the kept database {DB_NAME} cannot be reused without it")
        return cls(**json.loads(RECORD.read_text()))


# --- seeding ---------------------------------------------------------------------------------------------------


class Seeder:
    def __init__(self) -> None:
        from django.utils import timezone

        self.now = timezone.now()
        self.seconds: dict[str, float] = {}
        self.totp: dict[str, str] = {}

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - start, 1)
        say(f"  seeded {name} in {self.seconds[name]:.1f} s")

    def run(self) -> Seeded:
        from django.db import connection

        say(
            f"seeding {SCHEMES} schemes, {VOLUNTEERS} volunteers, {TASKINGS} taskings, {EXHIBITS} exhibits, "
            f"{CUSTODY_EVENTS} custody events, {AUDIT_ROWS} audit rows (scale {SCALE:g}; the measured scheme "
            f"holds {MEASURED_SHARE:.0%})"
        )
        total = time.perf_counter()
        with self.phase("people through the services"):
            self.people()
        with self.phase("volunteers (bulk)"):
            self.volunteers()
        with self.phase("taskings and assignments (bulk; Vera's through the service)"):
            self.taskings()
        with self.phase("exhibits, files and custody chains (bulk)"):
            self.exhibits()
        with self.phase("bundles, alerts; shares, an exhibit, MG11s and schedules through the services"):
            self.evidence_through_services()
        with self.phase("audit chain (bulk, after the services' rows)"):
            self.audit()
        with self.phase("VACUUM ANALYZE"), connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        self.seconds["total"] = round(time.perf_counter() - total, 1)
        from evidence.models import CustodyEvent, Exhibit, Tasking
        from portal.models import AuditEvent, Scheme
        from volunteers.models import Volunteer

        counts = {
            "schemes": Scheme.objects.count(),
            "volunteers": Volunteer.objects.count(),
            "taskings": Tasking.objects.count(),
            "exhibits": Exhibit.objects.count(),
            "custody events": CustodyEvent.objects.count(),
            "audit rows": AuditEvent.objects.count(),
        }
        return Seeded(
            scale=SCALE,
            counts=counts,
            seconds=self.seconds,
            totp=self.totp,
            vera_taskings=self.vera_taskings,
            emails={"vera": self.vera.email, "owen": self.owen.email, "wendy": self.wendy.email, "carla": self.carla},
        )

    # People and reference data, the way the portal makes them.

    def people(self) -> None:
        from django.core.management import call_command

        from portal import roles
        from portal.accounts import user_create
        from portal.models import Scheme
        from tests.conftest import clear_vetting, enrol_totp, invite_and_apply, pass_module, screen
        from training.models import Module
        from training.services import current_version
        from volunteers.services import conduct_publish, volunteer_transition

        self.schemes = [
            Scheme.objects.create(name=f"Bench Force {n:02d} Partnership", code=f"bf{n:02d}") for n in range(SCHEMES)
        ]
        self.officers, self.welfare = [], []
        for n, scheme in enumerate(self.schemes):
            password = PASSWORD if n == 0 else None  # only the measured scheme's staff sign in
            self.officers.append(
                user_create(
                    email=f"officer@{scheme.code}.bench.example",
                    full_name=f"Owen Officer {n:02d}",
                    role_codes=[roles.OFFICER.code],
                    scheme=scheme,
                    password=password,
                )
            )
            self.welfare.append(
                user_create(
                    email=f"welfare@{scheme.code}.bench.example",
                    full_name=f"Wendy Welfare {n:02d}",
                    role_codes=[roles.WELFARE.code],
                    scheme=scheme,
                    password=password,
                )
            )
        self.owen, self.wendy = self.officers[0], self.welfare[0]
        carla = user_create(
            email="carla@court.bench.example",
            full_name="Carla Court",
            role_codes=[roles.COURT.code],
            password=PASSWORD,
        )
        self.carla = carla.email
        self.carla_user = carla
        for person in (self.owen, self.wendy, carla):
            self.totp[person.email] = enrol_totp(person)
        conduct_publish(title="Volunteer code of conduct", text="Never initiate.\n\nNever confront.", by=None)
        call_command("seed_curriculum", stdout=io.StringIO())
        volunteer = invite_and_apply(self.schemes[0], self.owen, "vera@bf00.bench.example", "Vera Volunteer")
        clear_vetting(volunteer, self.owen)
        screen(volunteer.user, self.wendy)
        volunteer.refresh_from_db()
        volunteer_transition(volunteer=volunteer, to="accredited", by=self.owen, reason="Bench accreditation.")
        for module in Module.objects.all():
            version = current_version(module)
            if version is not None:
                pass_module(volunteer.user, version)
        self.vera = volunteer.user
        self.vera_volunteer = volunteer

    def volunteers(self) -> None:
        from django.contrib.auth.hashers import make_password
        from django.contrib.auth.models import Group
        from django.db import transaction

        from portal import roles
        from portal.models import User
        from volunteers.models import (
            CodeOfConduct,
            CodeOfConductAcceptance,
            ExposureEvent,
            ScreeningRecord,
            ScreeningRequest,
            StandDown,
            VettingRecord,
            Volunteer,
        )

        volunteer_group = Group.objects.get(name=roles.VOLUNTEER.code)
        code = CodeOfConduct.objects.order_by("-version").first()
        now, day = self.now, timedelta(days=1)
        user_ids, volunteer_ids = Ids(User), Ids(Volunteer)
        users, memberships, volunteers, vettings, screenings, exposures, stand_downs, requests, accepts = (
            [] for _ in range(9)
        )
        self.accredited: dict[int, list[tuple[int, str]]] = {s.pk: [] for s in self.schemes}  # (user id, initials)
        n = 0
        for scheme, count in zip(self.schemes, split(VOLUNTEERS - 1, SCHEMES, MEASURED_SHARE), strict=True):
            officer, welfare = self.officers[self.schemes.index(scheme)], self.welfare[self.schemes.index(scheme)]
            for _ in range(count):
                n += 1
                user = User(
                    pk=user_ids.take(),
                    email=f"v{n:05d}@{scheme.code}.bench.example",
                    full_name=person_name(n),
                    scheme_id=scheme.pk,
                    password=make_password(None),
                    date_joined=now - (400 - n % 400) * day,
                )
                users.append(user)
                memberships.append(User.groups.through(user_id=user.pk, group_id=volunteer_group.pk))
                status = {0: "in_vetting", 1: "applicant"}.get(n % 20, "accredited")
                initials = f"B{n}" if status == "accredited" else ""
                volunteer = Volunteer(
                    pk=volunteer_ids.take(),
                    user_id=user.pk,
                    scheme_id=scheme.pk,
                    status=status,
                    phone="07700 900000",
                    address_history=[{"address": f"{n} High Street, Anytown", "from": "2015-01-01"}],
                    exhibit_initials=initials,
                    applied_at=user.date_joined,
                    accredited_at=user.date_joined + 60 * day if status == "accredited" else None,
                    created_at=user.date_joined,
                )
                volunteers.append(volunteer)
                if status == "applicant":
                    continue
                accepts.append(CodeOfConductAcceptance(user_id=user.pk, code_id=code.pk, accepted_at=user.date_joined))
                cleared = status == "accredited"
                vettings.append(
                    VettingRecord(
                        volunteer_id=volunteer.pk,
                        level="MV",
                        outcome="cleared" if cleared else "pending",
                        decided_by_id=officer.pk if cleared else None,
                        decided_at=user.date_joined + 50 * day if cleared else None,
                        # About 1 in 50 falls due within the officer's 30 days; the rest years ahead.
                        expires_at=now + (10 + n % 30 if n % 50 == 3 else 400 + n % 2000) * day if cleared else None,
                        integrity_review_due=now + (20 + n % 340) * day if cleared else None,
                        started_at=user.date_joined + day,
                    )
                )
                # Next screening: 1 in 10 overdue, 1 in 10 due within 30 days, the rest later.
                due_in = {0: -(1 + n % 60), 1: 1 + n % 29}.get(n % 10, 31 + n % 330)
                screenings.append(
                    ScreeningRecord(
                        person_id=user.pk,
                        scheme_id=scheme.pk,
                        kind="periodic",
                        screened_on=(now + (due_in - 365) * day).date(),
                        provider="Occupational Health Ltd",
                        outcome="fit_restricted" if n % 25 == 0 else "fit",
                        restrictions="No audio material." if n % 25 == 0 else "",
                        clinical_notes="Well.",
                        next_due=now + due_in * day,
                        recorded_by_id=welfare.pk,
                        recorded_at=now + (due_in - 365) * day,
                    )
                )
                exposures.append(
                    ExposureEvent(
                        person_id=user.pk,
                        scheme_id=scheme.pk,
                        at=now - (n % 29) * day,
                        minutes=5 + n % 55,
                        source="Chat logs",
                        recorded_by_id=welfare.pk,
                    )
                )
                if n % 100 == 7:
                    stand_downs.append(
                        StandDown(person_id=user.pk, scheme_id=scheme.pk, reason="welfare", at=now - day, by=welfare)
                    )
                if n % 100 == 13:
                    requests.append(
                        ScreeningRequest(person_id=user.pk, scheme_id=scheme.pk, reason="After a difficult chat.")
                    )
                if cleared:
                    self.accredited[scheme.pk].append((user.pk, initials))
        with transaction.atomic():
            copy_models(User, users)
            copy_models(User.groups.through, self._with_ids(memberships))
            copy_models(Volunteer, volunteers)
            copy_models(CodeOfConductAcceptance, self._with_ids(accepts))
            copy_models(VettingRecord, self._with_ids(vettings))
            copy_models(ScreeningRecord, self._with_ids(screenings))
            copy_models(ExposureEvent, self._with_ids(exposures))
            copy_models(StandDown, self._with_ids(stand_downs))
            copy_models(ScreeningRequest, self._with_ids(requests))
            # What the services keep on each person when a clearance is decided or a screening recorded (one
            # UPDATE each for them all).
            from volunteers.services import screening_dates_refresh, vetting_dates_refresh

            vetting_dates_refresh()
            screening_dates_refresh()

    @staticmethod
    def _with_ids(objects: list) -> list:
        """Give each new row its id (before the COPY: the connection answers nothing else during one)."""
        if objects:
            ids = Ids(type(objects[0]))
            for obj in objects:
                obj.pk = ids.take()
        return objects

    def taskings(self) -> None:
        from django.contrib.auth.models import Permission
        from django.db import transaction

        from evidence.models import Assignment, Authorisation, Tasking, TaskingUserObjectPermission
        from evidence.policy import SUBMIT
        from evidence.services import tasking_assign

        now, day = self.now, timedelta(days=1)
        submit = Permission.objects.get(codename=SUBMIT, content_type__app_label="evidence")
        authorisation_ids, tasking_ids = Ids(Authorisation), Ids(Tasking)
        authorisations, taskings, assignments, grants = [], [], [], []
        self.tasking_rows: list[tuple[Tasking, list[tuple[int, str]]]] = []  # (tasking, producers)
        n = 0
        for index, (scheme, count) in enumerate(
            zip(self.schemes, split(TASKINGS, SCHEMES, MEASURED_SHARE), strict=True)
        ):
            officer = self.officers[index]
            pool = self.accredited[scheme.pk]
            for k in range(count):
                n += 1
                closed = k % 10 == 9
                authorisation = Authorisation(
                    pk=authorisation_ids.take(),
                    scheme_id=scheme.pk,
                    kind="chis" if k % 2 else "directed",
                    reference=f"AUTH-{scheme.code.upper()}-{k:04d}",
                    authorising_officer="Supt Sarah Grant",
                    authorising_rank="Superintendent",
                    # 1 in 25 expires within the officer's 30 days.
                    granted_at=now - 60 * day,
                    expires_at=now + (5 + k % 20 if k % 25 == 4 else 300) * day,
                    recorded_by_id=officer.pk,
                    recorded_at=now - 60 * day,
                )
                tasking = Tasking(
                    pk=tasking_ids.take(),
                    scheme_id=scheme.pk,
                    reference=f"OP-{scheme.code.upper()}-{k:04d}",
                    title=f"Chat room monitoring, operation {k}",
                    objective="Identify adults grooming children in public chat rooms.",
                    permitted_conduct="Respond only; never initiate sexual talk or propose meeting.",
                    platforms="Platform X",
                    persona="'Mia', 13, from Leeds",
                    persona_handles="mia_x",
                    window_start=now - (90 if closed else 30 - k % 20) * day,
                    window_end=now - 5 * day if closed else now + (30 + k % 60) * day,
                    authorisation_id=authorisation.pk,
                    handler_id=officer.pk,
                    controller_id=officer.pk,
                    status="closed" if closed else "active",
                    urn=f"{10 + index:02d}AB{k:05d}26",
                    officer_in_case=f"DC {4500 + index} Owen Officer",
                    created_by_id=officer.pk,
                    created_at=now - 40 * day,
                )
                authorisations.append(authorisation)
                taskings.append(tasking)
                producers = [pool[(n * PER_TASKING + j) % len(pool)] for j in range(PER_TASKING)]
                for user_id, _ in producers:
                    assignments.append(
                        Assignment(
                            tasking_id=tasking.pk,
                            volunteer_id=user_id,
                            assigned_by_id=officer.pk,
                            assigned_at=tasking.window_start,
                        )
                    )
                    grants.append(
                        TaskingUserObjectPermission(
                            permission_id=submit.pk, user_id=user_id, content_object_id=tasking.pk
                        )
                    )
                self.tasking_rows.append((tasking, producers))
        with transaction.atomic():
            copy_models(Authorisation, authorisations)
            copy_models(Tasking, taskings)
            copy_models(Assignment, self._with_ids(assignments))
            copy_models(TaskingUserObjectPermission, self._with_ids(grants))
        # Vera's: the first active taskings of the measured scheme, assigned the way an officer assigns.
        mine = [t for t, _ in self.tasking_rows if t.scheme_id == self.schemes[0].pk and t.status == "active"]
        self.vera_taskings = [t.pk for t in mine[:VERA_TASKINGS]]
        self.vera_volunteer.refresh_from_db()
        for tasking in Tasking.objects.filter(pk__in=self.vera_taskings):
            tasking_assign(tasking=tasking, volunteer=self.vera, by=self.owen)
        vera = (self.vera.pk, self.vera_volunteer.exhibit_initials)
        self.tasking_rows = [
            (t, [*producers, vera] if t.pk in self.vera_taskings else producers) for t, producers in self.tasking_rows
        ]

    def exhibits(self) -> None:
        from django.core.files.storage import default_storage

        from evidence.custody import _row as custody_row  # the chain's own row: the bench cannot drift from it
        from evidence.models import CustodyEvent, Exhibit, ExhibitCounter
        from portal import hashchain

        A = CustodyEvent.Action
        counts = self._per_tasking(EXHIBITS)
        exhibit_ids, event_ids, counter_ids = Ids(Exhibit), Ids(CustodyEvent), Ids(ExhibitCounter)
        emails = dict(self._emails())
        officer_of = {s.pk: o for s, o in zip(self.schemes, self.officers, strict=True)}
        per_event, extra = divmod(CUSTODY_EVENTS, EXHIBITS)
        exhibits: list[Exhibit] = []
        events: list[CustodyEvent] = []
        counters: list[ExhibitCounter] = []
        number = 0
        for (tasking, producers), count in zip(self.tasking_rows, counts, strict=True):
            officer = officer_of[tasking.scheme_id]
            sequences: dict[str, int] = {}
            for j in range(count):
                number += 1
                producer_id, initials = producers[j % len(producers)]
                sequences[initials] = sequences.get(initials, 0) + 1
                content = f"{CHAT}[14:04] dave_77: exhibit {number}\n".encode()
                sha = hashlib.sha256(content).hexdigest()
                if tasking.pk in self.vera_taskings:
                    state = "accepted"  # her taskings are ready for a bundle
                else:
                    state = {9: "rejected"}.get(j % 10, "accepted" if j % 10 < 5 else "awaiting")
                submitted = tasking.window_start + timedelta(minutes=37 * (j + 1))
                reviewed = state != "awaiting"
                exhibit = Exhibit(
                    pk=exhibit_ids.take(),
                    tasking=tasking,
                    producer_id=producer_id,
                    reference=f"{initials}/{sequences[initials]}",
                    sequence=sequences[initials],
                    description=f"Chat export {number} with dave_77, both sides, from first contact",
                    platform="Platform X",
                    other_party=f"dave_{number % 997}",
                    captured_at=submitted - timedelta(minutes=5),
                    capture_method="Platform export",
                    original_name=f"chat-{number}.txt",
                    stored_name=f"exhibits/{tasking.scheme_id}/{tasking.pk}/{secrets.token_hex(16)}",
                    size=len(content),
                    sniffed_type="text/plain",
                    sha256=sha,
                    browser_sha256=sha,
                    quarantined=number % 500 == 0,
                    distressing=number % 100 == 0,
                    review_state=state,
                    submitted_at=submitted,
                    review_reason="Blurred: ask for the export again." if state == "rejected" else "",
                    reviewed_by_id=officer.pk if reviewed else None,
                    reviewed_at=submitted + timedelta(hours=2) if reviewed else None,
                )
                path = Path(default_storage.path(exhibit.stored_name))
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content)
                exhibits.append(exhibit)
                events.extend(
                    self._custody(exhibit, per_event + (1 if number <= extra else 0), officer, emails, event_ids, A)
                )
            counters.extend(
                ExhibitCounter(pk=counter_ids.take(), tasking_id=tasking.pk, initials=initials, last=last)
                for initials, last in sequences.items()
            )
            if len(exhibits) >= BATCH_EXHIBITS:
                self._flush(exhibits, events, counters, custody_row, hashchain)
        self._flush(exhibits, events, counters, custody_row, hashchain)

    def _per_tasking(self, total: int) -> list[int]:
        """`total` over the taskings, each scheme's share as for volunteers, evenly within a scheme."""
        per_scheme = split(total, SCHEMES, MEASURED_SHARE)
        out = []
        for scheme, share in zip(self.schemes, per_scheme, strict=True):
            mine = sum(1 for t, _ in self.tasking_rows if t.scheme_id == scheme.pk)
            out.extend(share // mine + (1 if i < share % mine else 0) for i in range(mine))
        return out

    def _emails(self) -> Iterator[tuple[int, str]]:
        from portal.models import User

        yield from User.objects.values_list("pk", "email").iterator(chunk_size=5000)

    @staticmethod
    def _custody(exhibit, count: int, officer, emails: dict[int, str], ids: Ids, A) -> Iterator:
        """One exhibit's handling, as the services record it: uploaded and hash verified, viewed, the
        review's decision, then downloads and viewings."""
        from evidence.models import CustodyEvent

        producer = (exhibit.producer_id, emails[exhibit.producer_id], "volunteer")
        by_officer = (officer.pk, officer.email, "supervising_officer")
        system = (None, "system", "system")
        decision = {"accepted": A.ACCEPTED, "rejected": A.REJECTED}.get(exhibit.review_state)
        steps = [
            (A.UPLOADED, producer, {"size": exhibit.size, "sha256": exhibit.sha256, "type": exhibit.sniffed_type}),
            (A.HASH_VERIFIED, system, {"browser_sha256": exhibit.sha256, "server_sha256": exhibit.sha256}),
            (A.VIEWED, by_officer, {"quarantined": exhibit.quarantined}),
        ]
        if decision:
            steps.append((decision, by_officer, {"reason": exhibit.review_reason, "schedule": ""}))
        while len(steps) < count:
            action = A.DOWNLOADED if len(steps) % 2 else A.VIEWED
            steps.append((action, by_officer, {"quarantined": exhibit.quarantined}))
        for k, (action, (actor_id, email, role), detail) in enumerate(steps[:count]):
            yield CustodyEvent(
                pk=ids.take(),
                exhibit=exhibit,
                at=exhibit.submitted_at + timedelta(minutes=k * 11, microseconds=k),
                action=action,
                actor_id=actor_id,
                actor_email=email,
                actor_role=role,
                detail=detail,
            )

    @staticmethod
    def _flush(exhibits: list, events: list, counters: list, custody_row, hashchain) -> None:
        """Chain each exhibit's events in id order from GENESIS (they are its first), then COPY the batch."""
        from django.db import transaction

        from evidence.models import CustodyEvent, Exhibit, ExhibitCounter

        previous: dict[int, str] = {}
        for event in events:
            event.prev_hash = previous.get(event.exhibit_id, hashchain.GENESIS)
            event.hash = hashchain.link_hash(event.prev_hash, custody_row(event))
            previous[event.exhibit_id] = event.hash
        with transaction.atomic():
            copy_models(Exhibit, exhibits)
            copy_models(ExhibitCounter, counters)
            copy_models(CustodyEvent, events)
        say(f"    {Exhibit.objects.count()} exhibits, {CustodyEvent.objects.count()} custody events")
        exhibits.clear()
        events.clear()
        counters.clear()

    def evidence_through_services(self) -> None:
        from django.db import transaction

        from evidence import services
        from evidence.models import Exhibit, HandoverBundle, SafeguardingAlert, Tasking
        from evidence.statements import statement_save_draft, statement_sign
        from tests.integration.bundle_helpers import sign_schedules, submit_exhibit

        now = self.now
        officer_of = {s.pk: o for s, o in zip(self.schemes, self.officers, strict=True)}
        # Bulk: a ready bundle on every 10th tasking (not hers), an alert on every 20th, half acknowledged.
        bundle_ids, alert_ids = Ids(HandoverBundle), Ids(SafeguardingAlert)
        bundles, alerts = [], []
        for k, (tasking, producers) in enumerate(self.tasking_rows):
            officer = officer_of[tasking.scheme_id]
            if k % 10 == 5 and tasking.pk not in self.vera_taskings:
                bundles.append(
                    HandoverBundle(
                        pk=bundle_ids.take(),
                        tasking_id=tasking.pk,
                        version=1,
                        state="ready",
                        requested_by_id=officer.pk,
                        requested_at=now - timedelta(days=3),
                        finished_at=now - timedelta(days=3, minutes=-20),
                        pdf_name=f"bundles/{tasking.pk}/v1.pdf",  # a record only: no page here reads the file
                        pdf_sha256=hashlib.sha256(str(tasking.pk).encode()).hexdigest(),
                        page_count=40,
                    )
                )
            if k % 20 == 3:
                acknowledged = k % 40 == 3
                alerts.append(
                    SafeguardingAlert(
                        pk=alert_ids.take(),
                        tasking_id=tasking.pk,
                        raised_by_id=producers[0][0],
                        raised_at=now - timedelta(hours=k % 48 + 1),
                        note="He says a younger child is with him.",
                        acknowledged_by_id=officer.pk if acknowledged else None,
                        acknowledged_at=now - timedelta(minutes=30) if acknowledged else None,
                    )
                )
        with transaction.atomic():
            copy_models(HandoverBundle, bundles)
            copy_models(SafeguardingAlert, alerts)
        # Carla's inbox: bundles of several schemes, each shared by its own scheme's officer.
        by_scheme: dict[int, list] = {}
        for bundle in HandoverBundle.objects.select_related("tasking__scheme").order_by("pk"):
            by_scheme.setdefault(bundle.tasking.scheme_id, []).append(bundle)
        chosen = [b for group in zip(*[iter(g) for g in by_scheme.values()], strict=False) for b in group]
        remaining = [b for g in by_scheme.values() for b in g if b not in chosen]
        for bundle in (chosen + remaining)[:COURT_SHARES]:
            services.bundle_share(
                bundle=bundle,
                recipient=self.carla_user,
                until=now + timedelta(days=28),
                by=officer_of[bundle.tasking.scheme_id],
            )
        # Vera: one more exhibit through the real submission (its file stored, its chain continued from the
        # bulk rows' counter), reviewed by Owen; an MG11 on each of her taskings; Owen signs their schedules.
        folder = VAR / "uploads"
        folder.mkdir(parents=True, exist_ok=True)
        for index, tasking in enumerate(Tasking.objects.filter(pk__in=self.vera_taskings).order_by("pk")):
            if index == 0:
                exhibit = submit_exhibit(self.vera, tasking, folder, "chat.txt", CHAT.encode(), "text/plain")
                services.exhibit_review(exhibit=exhibit, decision="accepted", reason="", by=self.owen)
            hers = list(Exhibit.objects.filter(tasking=tasking, producer=self.vera).values_list("pk", flat=True))
            statement = statement_save_draft(
                tasking=tasking, author=self.vera, body="I produce the exhibits listed.", exhibit_ids=hers
            )
            statement_sign(statement=statement, by=self.vera)
            sign_schedules(tasking, self.owen)

    def audit(self) -> None:
        """Top the platform's one chain up to AUDIT_ROWS, after the head the services left, under the lock
        every writer of the chain takes."""
        from django.db import transaction
        from django.utils import timezone

        from evidence.models import Exhibit
        from portal import hashchain
        from portal.audit import _lock_chain, chained_row
        from portal.models import AuditEvent

        people = list(self._audit_people())
        staff = [p for p in people if p[2] != "volunteer"]
        volunteers = [p for p in people if p[2] == "volunteer"] or staff
        exhibit_refs = list(Exhibit.objects.values_list("pk", "reference", "tasking_id")[:5000])
        with transaction.atomic():
            _lock_chain()  # portal.audit's own lock: the chain never forks, whoever appends
            missing = AUDIT_ROWS - AuditEvent.objects.count()
            previous = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first() or hashchain.GENESIS
            ids = Ids(AuditEvent)
            start = timezone.now()

            def rows() -> Iterator[AuditEvent]:
                nonlocal previous
                for n in range(missing):
                    event = self._audit_event(n, staff, volunteers, exhibit_refs, start + timedelta(microseconds=n * 7))
                    event.pk = ids.take()
                    event.prev_hash = previous
                    event.hash = hashchain.link_hash(previous, chained_row(event))
                    previous = event.hash
                    yield event

            if missing > 0:
                copy_models(AuditEvent, rows())

    def _audit_people(self) -> Iterator[tuple[int, str, str, int]]:
        from portal.models import User

        for person in [*self.officers, *self.welfare]:
            role = "supervising_officer" if person in self.officers else "welfare_officer"
            yield person.pk, person.email, role, person.scheme_id
        volunteers = User.objects.filter(volunteer__status="accredited").values_list("pk", "email", "scheme_id")
        for pk, email, scheme_id in volunteers[:2000]:
            yield pk, email, "volunteer", scheme_id

    @staticmethod
    def _audit_event(n: int, staff: list, volunteers: list, exhibits: list, at: datetime):
        """A mix like the portal's own log: views, submissions, reviews, list consultations, sign-ins."""
        from portal.models import AuditEvent

        kind = n % 20
        exhibit_id, reference, tasking_id = exhibits[n % len(exhibits)]
        if kind < 6:
            actor, action = volunteers[n % len(volunteers)], "evidence.tasking_view"
            obj, detail = ("evidence.tasking", tasking_id), {"page": "overview"}
        elif kind < 10:
            actor, action = volunteers[n % len(volunteers)], "evidence.exhibit_submit"
            obj, detail = ("evidence.tasking", tasking_id), {"exhibit": reference, "sha256": f"{n:064x}"}
        elif kind < 13:
            actor, action = staff[n % len(staff)], "evidence.exhibit_review"
            obj, detail = ("evidence.tasking", tasking_id), {"exhibit": reference, "decision": "accepted"}
        elif kind < 16:
            actor, action = staff[n % len(staff)], "evidence.exhibit.consult_list"
            obj, detail = ("", ""), {"ids": [exhibit_id + i for i in range(100)]}
        elif kind < 18:
            actor, action = staff[n % len(staff)], "welfare.consult_list"
            obj, detail = ("", ""), {"people": [actor[0] + i for i in range(100)], "filter": "all", "search": ""}
        else:
            who = volunteers if n % 3 else staff
            actor, action = who[n % len(who)], "account.login"
            obj, detail = ("", ""), {}
        return AuditEvent(
            at=at,
            actor_id=actor[0],
            actor_email=actor[1],
            actor_role=actor[2],
            action=action,
            object_type=obj[0],
            object_id=str(obj[1]),
            scheme_id=actor[3],
            ip=f"10.{n % 200}.{n % 250}.{n % 240 + 1}",
            user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
            detail=detail,
        )


# --- signing in, and what each page costs in queries ---------------------------------------------------------


@dataclass
class Page:
    name: str
    path: str
    persona: str  # "" for the anonymous baseline
    queries: int = 0  # counted by CaptureQueriesContext
    in_process_ms: float = 0.0  # median of IN_PROCESS_RUNS requests through the test client, no load
    sql_ms: float = 0.0  # of one such request: the time its queries took, round trips included
    slowest: list[tuple[float, str]] = field(default_factory=list)  # (seconds, SQL), slowest first
    runs: list[dict] = field(default_factory=list)
    around: float = 0.0  # the baseline's req/s, the mean of its runs just before and just after this page's


def sign_in(persona: str, seeded: Seeded):
    """A session made by signing in as a person does: password, then (staff, court) the authenticator code
    allauth asks for, so the session carries the MFA record RequireMFAMiddleware checks."""
    from django.test import Client

    from portal.models import User
    from tests.conftest import mfa_login

    email = seeded.emails[persona]
    client = Client(HTTP_HOST="127.0.0.1")
    if email in seeded.totp:
        mfa_login(client, User.objects.get(email=email), seeded.totp[email])
    else:
        response = client.post("/accounts/login/", {"login": email, "password": PASSWORD})
        check(response.status_code == 302, f"{email} could not sign in: {response.status_code}")
    return client


def measure_in_process(client, page: Page) -> None:
    """The page through the test client in this process, with nothing else running: its query count
    (CaptureQueriesContext), its time, and each query's time (a wrapper around every execute)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    check(client.get(page.path).status_code == 200, f"{page.name}: {page.path} did not answer 200")  # warm
    timed: list[tuple[float, str]] = []

    def timing(execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            seconds = time.perf_counter() - start
            timed.append((seconds, connection.ops.last_executed_query(context["cursor"].cursor, sql, params) or sql))

    totals, sql, slowest = [], [], {}
    with connection.execute_wrapper(timing):
        for _ in range(IN_PROCESS_RUNS):
            timed.clear()
            start = time.perf_counter()
            client.get(page.path)
            totals.append(time.perf_counter() - start)
            sql.append(sum(seconds for seconds, _ in timed))
            for seconds, text in timed:  # each query's fastest time over the runs: noise falls away
                slowest[text] = min(seconds, slowest.get(text, seconds))
    page.in_process_ms = statistics.median(totals) * 1000
    page.sql_ms = statistics.median(sql) * 1000
    page.slowest = sorted(((seconds, text) for text, seconds in slowest.items()), reverse=True)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(page.path)
    check(response.status_code == 200, f"{page.name}: {page.path} answered {response.status_code}")
    page.queries = len(captured.captured_queries)


def explain(sql: str) -> list[str]:
    """The plan of one of the page's own reads, run again (a SELECT only: it changes nothing)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        return [row[0] for row in cursor.fetchall()]


# --- the server and the load -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn, 2 sync workers, in its own process group so nothing of it outlives the bench."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "portal.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(WORKERS),
                "--worker-class",
                "sync",
                "--timeout",
                "120",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=os.environ.copy(),
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        import http.client

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            check(self.process.poll() is None, f"gunicorn exited:\n{self.output()}")
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                conn.request("GET", "/bench/baseline/")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            finally:
                conn.close()
            time.sleep(0.2)
        raise BenchFailed(f"gunicorn did not start in {timeout:.0f} s:\n{self.output()}")

    def status(self, path: str, cookie: str) -> int:
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
            return conn.getresponse().status
        finally:
            conn.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


# wrk's report as one JSON line; a response other than 200 (a redirect to sign in, say) is counted apart.
WRK_SCRIPT = """
wrk.headers["Cookie"] = os.getenv("BENCH_COOKIE") or ""
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) not_200 = 0 end
function response(status, headers, body) if status ~= 200 then not_200 = not_200 + 1 end end
function done(summary, latency, requests)
  local wrong = 0
  for _, thread in ipairs(threads) do wrong = wrong + thread:get("not_200") end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"socket_errors": %d, "not_200": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, e.connect + e.read + e.write + e.timeout, wrong))
end
"""


def wrk_command(port: int, path: str, seconds: int, script: Path) -> list[str]:
    return [
        "wrk",
        "-t",
        str(THREADS),
        "-c",
        str(CONNECTIONS),
        "-d",
        f"{seconds}s",
        "--timeout",
        "30s",
        "--latency",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}{path}",
    ]


def wrk_result(output: str) -> dict:
    line = next((line for line in output.splitlines() if line.startswith("WRK_JSON ")), None)
    check(line is not None, f"wrk printed no report:\n{output[-2000:]}")
    result = json.loads(line.removeprefix("WRK_JSON "))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def wrk(port: int, path: str, cookie: str, seconds: int, script: Path) -> dict:
    done = subprocess.run(
        wrk_command(port, path, seconds, script),
        env={**os.environ, "BENCH_COOKIE": cookie},
        capture_output=True,
        text=True,
        timeout=seconds + 120,
    )
    check(done.returncode == 0, f"wrk failed: {done.stderr}")
    return wrk_result(done.stdout)


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, all cores together (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(values) - values[3] - values[4]) / tick, sum(values) / tick  # idle and iowait are not busy


def process_cpu(pids: Iterable[int]) -> float:
    """CPU seconds the processes still running have used (utime + stime from /proc/<pid>/stat)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


class OthersCpu:
    """The share of the machine's CPU that processes other than the benchmark's used during a block: the
    machine's busy time less this process and its waited children (wrk), the gunicorn processes and the
    PostgreSQL backends connected to the benchmark's database, over all cores' time. PostgreSQL's own
    background processes (WAL writer, checkpointer, autovacuum) and the parallel workers a query starts and
    ends within the run (a parallel sequential scan) count as others."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.share = 0.0

    def _ours(self) -> list[int]:
        import psycopg

        with psycopg.connect(SERVER_URL, autocommit=True) as conn:
            rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [DB_NAME]).fetchall()
        return [self.server.process.pid, *children_of(self.server.process.pid), *(pid for (pid,) in rows)]

    def __enter__(self) -> OthersCpu:
        self.pids = self._ours()
        self.busy, self.total = machine_cpu()
        self.own, self.theirs = own_cpu(), process_cpu(self.pids)
        return self

    def __exit__(self, *exc: object) -> None:
        busy, total = machine_cpu()
        ours = own_cpu() - self.own + process_cpu(self.pids) - self.theirs
        self.share = max(0.0, busy - self.busy - ours) / (total - self.total) if total > self.total else 0.0


def own_cpu() -> float:
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)


def children_of(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (FileNotFoundError, ProcessLookupError):
        return []


def percentile(samples: list[float], share: float) -> float:
    """Nearest rank: the smallest sample at least `share` of them do not exceed."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def bundle_requests_under_load(server: Server, page: Page, cookie: str, seeded: Seeded, script: Path) -> dict:
    """While wrk loads `page`, Owen asks for bundles: each timed from the call until bundle_request returns,
    by when its job row is recorded and, on commit, sent to the broker. Each is then marked failed (not
    timed) so the next request on the same tasking makes a new version instead of returning the queued one."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from evidence.bundles.requests import bundle_fail, bundle_request
    from evidence.models import Tasking
    from portal.models import Job, User

    owen = User.objects.get(email=seeded.emails["owen"])
    taskings = list(Tasking.objects.filter(pk__in=seeded.vera_taskings).order_by("pk"))

    def request(tasking, counted: list[int] | None = None) -> float:
        start = time.perf_counter()
        if counted is None:
            bundle = bundle_request(tasking=tasking, by=owen)
        else:
            with CaptureQueriesContext(connection) as captured:
                bundle = bundle_request(tasking=tasking, by=owen)
            counted.append(len(captured.captured_queries))
        seconds = time.perf_counter() - start
        job = Job.objects.get(kind="evidence.bundle_build", object_id=str(bundle.pk))
        check(job.state == "queued" and job.enqueued_at is not None, f"bundle {bundle.pk}'s job was not sent")
        bundle_fail(bundle, "Benchmark: requested to time the request, never built.")
        return seconds

    queries: list[int] = []
    request(taskings[0], queries)
    alone = [request(taskings[n % len(taskings)]) for n in range(5)]  # without load, for comparison
    seconds = max(20, BUNDLE_REQUESTS // 2 + 10)
    load = subprocess.Popen(
        wrk_command(server.port, page.path, seconds, script),
        env={**os.environ, "BENCH_COOKIE": cookie},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    samples, under_load = [], 0
    try:
        time.sleep(3)  # the load is up before the first request
        for n in range(BUNDLE_REQUESTS):
            samples.append(request(taskings[n % len(taskings)]))
            under_load += load.poll() is None
            time.sleep(0.2)
    finally:
        stdout, stderr = load.communicate(timeout=seconds + 120)
    check(load.returncode == 0, f"wrk failed: {stderr}")
    return {
        "samples": samples,
        "page": page.name,
        "under_load": under_load,
        "load": wrk_result(stdout),
        "alone_ms": statistics.median(alone) * 1000,
        "queries": queries[0],
    }


# --- verification ---------------------------------------------------------------------------------------------


def verify() -> dict:
    """The two commands as an operator runs them, in this process (so Python's and Django's start-up is not
    counted), timed; each must say its chains are intact."""
    from django.core.management import CommandError, call_command
    from django.db.models import Sum

    from evidence.models import CustodyEvent, Exhibit

    out = {}
    for command, pattern in (
        ("verify_audit", r"Audit chain (?:intact|self-consistent): (\d+) rows verified"),
        ("verify_custody", r"Custody (?:intact|self-consistent): (\d+) exhibits"),
    ):
        stdout = io.StringIO()
        start = time.perf_counter()
        try:
            call_command(command, stdout=stdout)
        except CommandError as exc:
            raise BenchFailed(f"manage.py {command}: {exc}") from None
        seconds = time.perf_counter() - start
        match = re.search(pattern, stdout.getvalue())
        check(match is not None, f"{command} did not report the chain intact: {stdout.getvalue()}")
        out[command] = {"seconds": seconds, "count": int(match.group(1))}
    out["verify_custody"]["events"] = CustodyEvent.objects.count()
    out["files_bytes"] = Exhibit.objects.aggregate(total=Sum("size"))["total"] or 0
    return out


# --- the run ----------------------------------------------------------------------------------------------------


def main() -> None:
    check(shutil.which("wrk") is not None, "wrk is needed (Debian: apt-get install wrk)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    created = False
    server: Server | None = None
    try:
        reuse = bool(REUSE) and database_exists()
        for name in ("PORTAL_S3_BUCKET", "PORTAL_S3_ACCESS_KEY_ID", "PORTAL_S3_SECRET_ACCESS_KEY"):
            os.environ.pop(name, None)  # the exhibits' files go to the throwaway folder, never a bucket
        os.environ.update(ENV)
        if not reuse:
            shutil.rmtree(VAR, ignore_errors=True)
            VAR.mkdir(parents=True)
            database_create()
            created = True
            start = time.perf_counter()
            manage("migrate", "--noinput")
            say(f"database {DB_NAME} created and migrated in {time.perf_counter() - start:.1f} s")
        import django

        django.setup()
        from django.conf import settings
        from django.db import connection

        if reuse:
            seeded = Seeded.load()
            check(seeded.scale == SCALE, f"{DB_NAME} was seeded at BENCH_SCALE={seeded.scale}, not {SCALE}")
            say(f"reusing the kept database {DB_NAME} (seeded in {seeded.seconds['total']:.0f} s)")
        else:
            seeded = Seeder().run()
            seeded.save()
        say("seeded: " + ", ".join(f"{v} {k}" for k, v in seeded.counts.items()))
        say(f"code measured: {code_version()}")

        db = settings.DATABASES["default"]
        pooling = (
            "psycopg pool"
            if (db.get("OPTIONS") or {}).get("pool")
            else f"persistent (CONN_MAX_AGE={db['CONN_MAX_AGE']})"
        )
        say(
            f"PostgreSQL {connection.pg_version // 10000}, connections per worker: {pooling}, health checks "
            f"{'on' if db.get('CONN_HEALTH_CHECKS') else 'off'}; DEBUG {settings.DEBUG}; gunicorn {WORKERS} sync "
            f"workers; wrk -t{THREADS} -c{CONNECTIONS}, {WARMUP} s warm-up + {DURATION} s per run; "
            f"{os.cpu_count()} CPUs"
        )

        # Signed in as each person does; MFA proved with the authenticator code for staff and the court.
        clients = {persona: sign_in(persona, seeded) for persona in ("vera", "owen", "wendy", "carla")}
        say(
            "signed in: Vera (volunteer) with her password; Owen, Wendy and Carla with password then TOTP code "
            "(allauth's 2FA step), so each session holds the 'mfa' authentication record RequireMFAMiddleware asks for"
        )
        from django.test import Client

        baseline = Page("baseline view", "/bench/baseline/", "")
        # Context, not a goal: the same view for a signed-in officer, so the session, the user and the MFA
        # check every signed-in page pays show apart from each page's own work.
        signed_in = Page("baseline, signed in", "/bench/baseline/", "owen")
        pages = [
            Page("volunteer dashboard", "/", "vera"),
            Page("tasking page", f"/taskings/{seeded.vera_taskings[0]}/", "vera"),
            Page("officer home", "/admin/", "owen"),
            Page("welfare console", "/welfare/", "wendy"),
            Page("admin exhibit list", "/admin/evidence/exhibit/?q=chat&review_state__exact=awaiting", "owen"),
            Page("court inbox", "/bundles/", "carla"),
        ]
        measure_in_process(Client(HTTP_HOST="127.0.0.1"), baseline)
        for page in [signed_in, *pages]:
            measure_in_process(clients[page.persona], page)
        cookies = {p: f"sessionid={quote(c.cookies['sessionid'].value)}" for p, c in clients.items()}
        cookies[""] = ""
        connection.close()

        script = VAR / "volume.lua"
        script.write_text(WRK_SCRIPT)
        server = Server(VAR / "gunicorn.log")
        server.wait_ready()
        for page in pages:
            status = server.status(page.path, cookies[page.persona])
            check(status == 200, f"gunicorn answered {status} for {page.name} ({page.path}) with the session")

        def measure(page: Page) -> dict:
            wrk(server.port, page.path, cookies[page.persona], WARMUP, script)
            with OthersCpu(server) as others:
                result = wrk(server.port, page.path, cookies[page.persona], DURATION, script)
            check(result["not_200"] == 0, f"{page.name}: {result['not_200']} responses were not 200")
            result["others"] = others.share
            page.runs.append(result)
            say(
                f"  {page.name:22} {result['rps']:7.1f} req/s  p50 {result['p50_us'] / 1000:6.1f} ms  "
                f"p99 {result['p99_us'] / 1000:6.1f} ms  (other processes: {others.share:.0%} of the CPU)"
            )
            return result

        say("load (baseline before and after every page):")
        measure(baseline)
        for page in [signed_in, *pages]:
            measure(page)
            measure(baseline)
            page.around = statistics.mean(run["rps"] for run in baseline.runs[-2:])
        say(f"bundle requests while wrk loads the {pages[4].name}:")
        bundles = bundle_requests_under_load(server, pages[4], cookies["owen"], seeded, script)
        server.stop()
        server = None

        verified = None
        if VERIFY:
            say("verifying the chains (manage.py verify_audit, verify_custody):")
            verified = verify()
        report(baseline, signed_in, pages, bundles, verified, seeded)
    except BenchFailed as exc:
        log = f"\n--- gunicorn log ---\n{server.output()}" if server else ""
        print(f"FAILED: {exc}{log}", file=sys.stderr)
        raise SystemExit(1) from None
    finally:
        if server is not None:
            server.stop()
        cleanup(created)


def report(
    baseline: Page, signed_in: Page, pages: list[Page], bundles: dict, verified: dict | None, seeded: Seeded
) -> None:
    rows = []
    for page in [signed_in, *pages]:
        run = page.runs[0]
        ratio = run["rps"] / page.around
        met = ratio >= GOAL_RATIO and run["p99_us"] / 1000 < GOAL_P99_MS
        rows.append((page, run, ratio, met))
    spread = [run["rps"] for run in baseline.runs]
    others = [run["others"] for p in [baseline, signed_in, *pages] for run in p.runs]
    say("")
    say(
        f"Baseline view (a template after {baseline.queries} trivial queries, anonymous): "
        f"{statistics.mean(spread):.1f} req/s (runs {min(spread):.1f}-{max(spread):.1f}), "
        f"p99 {max(r['p99_us'] for r in baseline.runs) / 1000:.1f} ms at worst"
    )
    header = (
        f"{'page':22} {'req/s':>8} {'ratio':>6} {'p50 ms':>7} {'p99 ms':>7} {'queries':>7} {'alone ms':>8} "
        f"{'SQL ms':>7}  goal met"
    )
    say(header)
    say("-" * len(header))
    for page, run, ratio, met in rows:
        say(
            f"{page.name:22} {run['rps']:8.1f} {ratio:6.2f} {run['p50_us'] / 1000:7.1f} {run['p99_us'] / 1000:7.1f} "
            f"{page.queries:7d} {page.in_process_ms:8.1f} {page.sql_ms:7.1f}  "
            + ("(context)" if page is signed_in else "yes" if met else "NO")
        )
    say(
        f"Other processes on the machine used {statistics.mean(others):.0%} of its CPU during the runs on "
        f"average, {max(others):.0%} at most (a share of all {os.cpu_count()} cores; it slows pages and baseline alike)"
    )
    say(
        f"(goals: ratio to the baseline >= {GOAL_RATIO}, p99 < {GOAL_P99_MS} ms at c={CONNECTIONS}. 'alone ms': one "
        f"request through the test client in this process with no load, median of {IN_PROCESS_RUNS}; 'SQL ms': "
        "the time its queries took, round trips included; the baseline: "
        f"{baseline.in_process_ms:.1f} ms and {baseline.sql_ms:.1f} ms)"
    )
    for page, _, _, met in rows:
        if met or page is signed_in:
            continue
        say(f"\n{page.name} ({page.path}) misses its goal; its slowest queries, in this process:")
        for seconds, sql in page.slowest[:3]:
            say(f"  {seconds * 1000:7.1f} ms  {sql[:300]}")
        selects = [sql for _, sql in page.slowest if sql.lstrip().upper().startswith("SELECT")]
        plan = explain(selects[0]) if selects else []
        if plan:
            say("  EXPLAIN ANALYZE of the slowest SELECT:")
            for line in plan[:25]:
                say(f"    {line}")

    samples = [s * 1000 for s in bundles["samples"]]
    p99 = percentile(samples, 0.99)
    load = bundles["load"]
    say(
        f"\nBundle requests: {len(samples)} ({bundles['under_load']} while wrk loaded the {bundles['page']} at "
        f"{load['rps']:.1f} req/s), request to job queued and sent: p50 {percentile(samples, 0.5):.1f} ms, "
        f"p99 {p99:.1f} ms, max {max(samples):.1f} ms (goal p99 < {GOAL_BUNDLE_P99_MS} ms: "
        f"{'met' if p99 < GOAL_BUNDLE_P99_MS else 'MISSED'}); without load {bundles['alone_ms']:.1f} ms "
        f"(median of 5), {bundles['queries']} queries (the job's dispatch to the broker included)"
    )
    if verified is None:
        say("verification not run (BENCH_VERIFY=0)")
        return
    audit, custody = verified["verify_audit"], verified["verify_custody"]
    files_mib = verified["files_bytes"] / 2**20
    whole = audit["seconds"] + custody["seconds"]
    say(
        f"verify_audit: {audit['count']} rows in {audit['seconds']:.1f} s = {audit['count'] / audit['seconds']:.0f} "
        "rows/s, intact"
    )
    say(
        f"verify_custody: {custody['count']} exhibits, {custody['events']} custody events and their files in "
        f"{custody['seconds']:.1f} s = {custody['events'] / custody['seconds']:.0f} events/s "
        f"({custody['count'] / custody['seconds']:.0f} exhibits/s), intact"
    )
    say(
        f"whole platform checked in {whole:.1f} s (goal < {GOAL_VERIFY_SECONDS} s: "
        f"{'met' if whole < GOAL_VERIFY_SECONDS else 'MISSED'}); the exhibit files here are "
        f"small chat exports ({seeded.counts['exhibits']} files, {files_mib:.0f} MiB), so on real evidence the files' "
        "own hashing (about 1 GB/s on these machines) adds the evidence's total size to that"
    )
    say(
        "seeding: "
        + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in seeded.seconds.items() if name != "total")
        + f"; total {seeded.seconds['total']:.0f} s"
    )


def cleanup(created: bool) -> None:
    with contextlib.suppress(Exception):
        from portal.celery import app

        app.control.purge()  # the bundle and certificate jobs sent while seeding and measuring
    with contextlib.suppress(Exception):
        from django.db import connections

        connections.close_all()
    if KEEP:
        say(
            f"kept: database {DB_NAME} and {VAR}; run again on them with BENCH_DB={DB_NAME} "
            "(and BENCH_KEEP_DB=1 to keep them again)"
        )
        return
    if created or REUSE:
        database_drop()
    shutil.rmtree(VAR, ignore_errors=True)


if __name__ == "__main__":
    main()
