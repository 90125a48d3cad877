"""Personas and harness for every test.

The people (scheme "Lantern" unless said otherwise):
- Vera is a volunteer of Lantern. Volunteers need no MFA.
- Owen supervises Lantern's volunteers (supervising officer; must use MFA; works in the admin).
- Wendy is Lantern's welfare officer; Ada is Lantern's scheme administrator.
- Carla is a court / CPS recipient: she belongs to no scheme.
- Otto supervises another scheme, Harbour, and must see nothing of Lantern.
- Root is a platform superuser (no scheme).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from portal import roles

IN_CI = os.environ.get("CI", "").lower() == "true"
PASSWORD = "correct-horse-battery-staple"


def require(condition: bool, reason: str) -> None:
    """Skip when a service or browser is missing locally; in CI the same absence is a failure."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


def on_postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "portal.encrypted_storage.EncryptedFileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    settings.PORTAL_SIGNING_EARLIER_DIR = str(tmp_path / "signing-earlier")  # key rotations stay in one test
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _marked_requirements(request):
    if request.node.get_closest_marker("postgres"):
        require(on_postgres(), "this test needs PostgreSQL: set DATABASE_URL=postgresql://…")
    if request.node.get_closest_marker("redis"):
        require(shutil.which("redis-server") is not None, "this test needs the redis-server binary")


# --- people --------------------------------------------------------------------------------------


@pytest.fixture
def lantern(db):
    from portal.models import Scheme

    return Scheme.objects.create(name="Lantern Partnership", code="lantern")


@pytest.fixture
def harbour(db):
    from portal.models import Scheme

    return Scheme.objects.create(name="Harbour Partnership", code="harbour")


def make_person(email: str, role: roles.Role | None, scheme=None, **extra):
    from portal.accounts import user_create
    from portal.models import User

    if role is None:
        return User.objects.create_superuser(email=email, password=PASSWORD)
    return user_create(
        email=email,
        full_name=extra.get("full_name", email.split("@")[0].title()),
        role_codes=[role.code],
        scheme=scheme,
        force=extra.get("force"),
        password=PASSWORD,
    )


@pytest.fixture
def vera(lantern):
    return make_person("vera@lantern.example", roles.VOLUNTEER, lantern, full_name="Vera Volunteer")


@pytest.fixture
def owen(lantern):
    return make_person("owen@lantern.example", roles.OFFICER, lantern)


@pytest.fixture
def wendy(lantern):
    return make_person("wendy@lantern.example", roles.WELFARE, lantern)


@pytest.fixture
def ada(lantern):
    return make_person("ada@lantern.example", roles.SCHEME_ADMIN, lantern)


@pytest.fixture
def carla(db):
    return make_person("carla@court.example", roles.COURT, None)


@pytest.fixture
def otto(harbour):
    return make_person("otto@harbour.example", roles.OFFICER, harbour)


@pytest.fixture
def root(db):
    return make_person("root@platform.example", None)


def enrol_totp(user) -> str:
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def totp_code(secret: str, *, margin: float = 4.0) -> str:
    """The code an authenticator app shows now. A code read in the last `margin` seconds of its period
    may reach the server in the next one, which refuses it (no tolerance is configured), as a person
    whose code changes while typing would be: wait for the next code instead, as they would."""
    from allauth.mfa import app_settings
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    period = app_settings.TOTP_PERIOD
    left = period - time.time() % period
    if left < margin:
        time.sleep(left + 0.05)
    return format_hotp_value(hotp_value(secret, int(time.time()) // period))


def mfa_login(client, user, secret: str) -> None:
    """Sign in the way a person does: password, then the authenticator code."""
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/2fa/authenticate/")
    response = client.post("/accounts/2fa/authenticate/", {"code": totp_code(secret)})
    assert response.status_code == 302, response.content[:500]


# --- real worker and throwaway broker -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_answers(port: int, process: subprocess.Popen, *, timeout: float) -> bool:
    """Wait until the server `process` listens on 127.0.0.1:`port`; False if it exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False


def shared_database_url() -> str:
    """The URL of the database the tests are using, for a worker process to share."""
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.postgresql":
        user = db.get("USER") or "postgres"
        auth = f"{user}:{db['PASSWORD']}@" if db.get("PASSWORD") else f"{user}@"
        return f"postgresql://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    return f"sqlite:///{db['NAME']}"


class ThrowawayRedis:
    """A redis-server of our own on a free port, so a broker-down test never stops the shared one."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.tmp = tmp
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.tmp),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not port_answers(self.port, self.process, timeout=10):
            raise RuntimeError("throwaway redis-server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def throwaway_redis(tmp_path) -> Iterator[ThrowawayRedis]:
    server = ThrowawayRedis(tmp_path)
    yield server
    server.stop()


class ObjectStoreServer:
    """An S3-compatible server of our own on a free port (moto's, speaking the S3 API over HTTP): the
    bucket that workers on several machines share. Each test gets a bucket of its own."""

    REGION = "eu-west-2"
    KEY, SECRET = "portal-test", "portal-test-secret"

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )
        if not port_answers(self.port, self.process, timeout=30):
            raise RuntimeError(f"the S3-compatible test server did not start:\n{log.read_text(errors='replace')}")

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.REGION,
            aws_access_key_id=self.KEY,
            aws_secret_access_key=self.SECRET,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


class ObjectStore:
    """One bucket on the test server, as the portal's private storage."""

    def __init__(self, server: ObjectStoreServer, bucket: str) -> None:
        self.server, self.bucket = server, bucket
        server.client().create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": server.REGION})

    @property
    def env(self) -> dict[str, str]:
        """What a worker process on another machine is configured with."""
        return {
            "PORTAL_S3_BUCKET": self.bucket,
            "PORTAL_S3_ENDPOINT_URL": self.server.endpoint,
            "PORTAL_S3_REGION": self.server.REGION,
            "PORTAL_S3_ACCESS_KEY_ID": self.server.KEY,
            "PORTAL_S3_SECRET_ACCESS_KEY": self.server.SECRET,
        }

    @property
    def storage(self) -> dict:
        from portal.settings import s3_storage

        return s3_storage(
            self.bucket,
            endpoint_url=self.server.endpoint,
            region=self.server.REGION,
            access_key=self.server.KEY,
            secret_key=self.server.SECRET,
        )

    def keys(self, prefix: str = "") -> list[str]:
        pages = self.server.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def read_raw(self, key: str) -> bytes:
        """The object as the bucket holds it: encrypted by the portal."""
        return self.server.client().get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def read(self, key: str) -> bytes:
        """The object's original bytes, decrypted with the portal's file keys."""
        import io

        from portal.encrypted_storage import file_keys
        from portal.filecrypt import DecryptingReader

        return DecryptingReader(io.BytesIO(self.read_raw(key)), file_keys()).read()


@pytest.fixture(scope="session")
def object_store_server(tmp_path_factory) -> Iterator[ObjectStoreServer]:
    server = ObjectStoreServer(tmp_path_factory.mktemp("s3") / "server.log")
    yield server
    server.stop()


@pytest.fixture
def object_storage(object_store_server, settings) -> ObjectStore:
    """The portal's private storage is an S3-compatible bucket (as on several machines) for this test."""
    import uuid

    store = ObjectStore(object_store_server, f"portal-{uuid.uuid4().hex[:12]}")
    settings.STORAGES = {**settings.STORAGES, "default": store.storage}
    return store


def _switch_broker(url: str) -> None:
    from portal.celery import app

    # Celery prefers the CELERY_BROKER_URL environment variable to its configuration.
    os.environ["CELERY_BROKER_URL"] = url
    app.conf.broker_url = url
    # Redis's transport options (visibility timeout) would reach SQLAlchemy's create_engine and fail there.
    redis_options = {"visibility_timeout": settings.CELERY_TASK_TIME_LIMIT + 600}
    app.conf.broker_transport_options = redis_options if url.startswith("redis") else {}
    if app._pool is not None:
        app._pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None
    # kombu keeps producer pools per connection for the whole process: one left from an earlier switch to
    # the same URL would hand out producers of a pool closed above ("Acquire on closed pool").
    from kombu import pools

    pools.reset()


@pytest.fixture(autouse=True, scope="session")
def _in_memory_broker():
    """Unless a test asks for a real broker, messages stay in this process (memory://)."""
    from portal.celery import app

    configured = app.conf.broker_url
    from_env = os.environ.get("CELERY_BROKER_URL")
    _switch_broker("memory://")
    yield
    _switch_broker(configured)
    if from_env is None:
        os.environ.pop("CELERY_BROKER_URL", None)


@pytest.fixture
def use_broker():
    """Point this test process's Celery producer at another broker, and back afterwards."""
    from portal.celery import app

    original = app.conf.broker_url

    def switch(url: str) -> None:
        _switch_broker(url)

    yield switch
    switch(original)


class Worker:
    """A real Celery worker process (solo pool). By default it consumes both queues, the work and the
    control tasks (the sweep); production runs a one-slot worker for the control queue beside each."""

    def __init__(
        self,
        broker_url: str,
        log: Path,
        extra_env: dict | None = None,
        queues: str = "celery,control",
        include: str = "",
    ) -> None:
        env = {
            **os.environ,
            **(extra_env or {}),
            "DATABASE_URL": shared_database_url(),
            "CELERY_BROKER_URL": broker_url,
            "CELERY_RESULT_BACKEND": broker_url if broker_url.startswith("redis") else "",
            "DJANGO_SETTINGS_MODULE": "portal.settings",
        }
        if not env["CELERY_RESULT_BACKEND"]:
            env.pop("CELERY_RESULT_BACKEND")
        self.log = log
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "--pool=solo",
                "--loglevel=INFO",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "-Q",
                queues,
                *(("--include", include) if include else ()),
                "-n",
                f"test-{os.getpid()}-{log.stem}@%h",
            ],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


@pytest.fixture
def start_worker(tmp_path):
    workers: list[Worker] = []

    def start(broker_url: str, queues: str = "celery,control", include: str = "", **extra_env: str) -> Worker:
        worker = Worker(broker_url, tmp_path / f"worker-{len(workers)}.log", extra_env, queues, include)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


class WebServer:
    """The portal under gunicorn, as production serves it (one sync worker), on the tests' database: for
    what only a real server shows (a body left unread breaks the client's connection; Django's own test
    server reads it for you). Sign in with a Client in the test (transactional_db) and send its cookie."""

    def __init__(self, log: Path, extra_env: dict[str, str]) -> None:
        self.port = free_port()
        self.log = log
        self.extra_env = extra_env
        self.process: subprocess.Popen | None = None

    def _env(self) -> dict[str, str]:
        """The test's settings as they are when the server starts (storage, upload folder, database)."""
        env = {k: v for k, v in os.environ.items() if not v.startswith("memory://")}
        return {
            **env,
            "DATABASE_URL": shared_database_url(),
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "PORTAL_PRIVATE_STORAGE": settings.STORAGES["default"].get("OPTIONS", {}).get("location", ""),
            "PORTAL_UPLOAD_TEMP_DIR": settings.PORTAL_UPLOAD_TEMP_DIR,
            **self.extra_env,
        }

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "gunicorn", "portal.wsgi:application", "--bind", f"127.0.0.1:{self.port}"),
                *("--workers", "1", "--timeout", "120", "--graceful-timeout", "5", "--no-control-socket"),
            ],
            cwd=settings.BASE_DIR,
            env=self._env(),
            stdout=self.log.open("a"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if not port_answers(self.port, self.process, timeout=60):
            raise RuntimeError(f"gunicorn did not start:\n{self.output()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


@pytest.fixture
def web_server(tmp_path) -> Iterator[WebServer]:
    server = WebServer(tmp_path / "gunicorn.log", {})
    yield server
    server.stop()


def wait_for(predicate, timeout: float = 60, interval: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


# --- volunteers, through the real services -----------------------------------------------------------


def invite_and_apply(scheme, inviter, email: str, full_name: str):
    """An invitee accepts their invitation: they become an applicant volunteer."""
    from datetime import date

    from volunteers.models import CodeOfConduct
    from volunteers.services import invitation_accept, invitation_create

    _, token = invitation_create(scheme=scheme, email=email, full_name=full_name, by=inviter)
    conduct = CodeOfConduct.objects.order_by("-version").first()
    return invitation_accept(
        token=token,
        full_name=full_name,
        password=PASSWORD,
        date_of_birth=date(1990, 3, 27),
        phone="07700 900123",
        address_history=[{"address": "1 High Street, Anytown", "from": "2015-01-01"}],
        accept_conduct_version=conduct.version if conduct else None,
    )


def clear_vetting(volunteer, officer, level: str = "MV"):
    from volunteers import services
    from volunteers.models import VettingCheck

    record = services.vetting_start(volunteer=volunteer, level=level, by=officer)
    for kind in VettingCheck.Kind.values:
        services.vetting_record_check(
            record=record, kind=kind, result="satisfactory", notes="Passport, utility bill, bank statement", by=officer
        )
    return services.vetting_decide(record=record, outcome="cleared", reasons="", by=officer)


def screen(volunteer_user, welfare_officer, outcome: str = "fit", restrictions: str = "", notes: str = "Well."):
    from django.utils import timezone

    from volunteers.services import screening_record

    return screening_record(
        person=volunteer_user,
        kind="pre_deployment",
        screened_on=timezone.localdate(),
        provider="Occupational Health Ltd",
        outcome=outcome,
        restrictions=restrictions,
        clinical_notes=notes,
        by=welfare_officer,
    )


@pytest.fixture
def conduct(db):
    from volunteers.services import conduct_publish

    return conduct_publish(
        title="Volunteer code of conduct", text="Never initiate sexual talk.\n\nNever confront.", by=None
    )


@pytest.fixture
def deployable_vera(lantern, owen, wendy, conduct):
    """Vera, invited by Owen, vetted to MV, screened fit by Wendy, accredited: deployable."""
    from volunteers.services import volunteer_transition

    volunteer = invite_and_apply(lantern, owen, "vera.d@lantern.example", "Vera Deploy")
    clear_vetting(volunteer, owen)
    screen(volunteer.user, wendy)
    volunteer.refresh_from_db()
    return volunteer_transition(volunteer=volunteer, to="accredited", by=owen, reason="All checks complete.")


# --- training -------------------------------------------------------------------------------------------


def module_data(slug: str = "safety-basics", *, questions: int = 4, mandatory: bool = True, pass_mark: int = 75):
    """A small module: question i has correct choice "Right i"; every 2nd question has two right answers."""
    items = []
    for i in range(questions):
        multiple = i % 2 == 1
        choices = [
            {"text": f"Right {i}", "correct": True},
            {"text": f"Wrong {i}", "correct": False},
            {"text": f"Also wrong {i}", "correct": False},
        ]
        if multiple:
            choices.append({"text": f"Also right {i}", "correct": True})
        items.append(
            {
                "kind": "multiple" if multiple else "single",
                "text": f"Question {i} about {slug}?",
                "explanation": f"Explanation {i}: because.",
                "choices": choices,
            }
        )
    return {
        "slug": slug,
        "title": slug.replace("-", " ").capitalize(),
        "summary": "Basics.",
        "order": 1,
        "mandatory": mandatory,
        "validity_months": 12,
        "pass_mark": pass_mark,
        "estimated_minutes": 10,
        "learning_outcomes": ["Know the basics"],
        "content": "## Basics\n\nStay **safe**.",
        "questions": items,
    }


def right_answers(version, *, wrong: int = 0) -> dict[int, list[int]]:
    """Answers for every question, the first `wrong` of them answered wrongly."""
    answers = {}
    for index, question in enumerate(version.questions.prefetch_related("choices").order_by("order")):
        correct = [c.pk for c in question.choices.all() if c.is_correct]
        incorrect = [c.pk for c in question.choices.all() if not c.is_correct]
        answers[question.pk] = incorrect[:1] if index < wrong else correct
    return answers


def pass_module(user, version):
    from training.services import attempt_start, attempt_submit

    attempt = attempt_start(user=user, module=version.module)
    return attempt_submit(attempt=attempt, answers=right_answers(version))


# --- evidence ---------------------------------------------------------------------------------------------


def make_tasking(scheme, officer, *, status: str = "active", hours: int = 48, reference: str = "OP-LANTERN-1"):
    from datetime import timedelta

    from django.utils import timezone

    from evidence.models import Authorisation, Tasking

    now = timezone.now()
    authorisation = Authorisation.objects.create(
        scheme=scheme,
        kind="chis",
        reference=f"AUTH-{reference}",
        authorising_officer="Supt Sarah Grant",
        authorising_rank="Superintendent",
        granted_at=now - timedelta(days=1),
        expires_at=now + timedelta(days=300),
        recorded_by=officer,
    )
    return Tasking.objects.create(
        scheme=scheme,
        reference=reference,
        title="Chat room monitoring",
        objective="Identify adults grooming.",
        urn="42AB1234526",
        officer_in_case="DC 4521 Owen Officer",
        permitted_conduct="Respond only; never initiate sexual talk or propose meeting.",
        platforms="Platform X",
        persona="'Mia', 13, from Leeds",
        window_start=now - timedelta(hours=1),
        window_end=now + timedelta(hours=hours),
        authorisation=authorisation,
        handler=officer,
        controller=officer,
        status=status,
        created_by=officer,
    )


@pytest.fixture
def tasking(lantern, owen):
    return make_tasking(lantern, owen)


@pytest.fixture
def assigned_vera(deployable_vera, tasking, owen):
    from evidence.services import tasking_assign

    tasking_assign(tasking=tasking, volunteer=deployable_vera.user, by=owen)
    return deployable_vera
