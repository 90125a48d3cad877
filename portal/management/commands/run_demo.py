"""Run the web server, the Celery workers (work, and control on a slot of its own) and beat together; stop
them all on Ctrl-C.

With --check it runs unattended instead: boots everything, waits for /healthz, sends one job through
the real worker, then stops every process it started and exits 0 (or 1 with the reason).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.demo import DECONFLICTION_TRY, demo_seed, demo_seed_evidence


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def process_environment(url: str) -> dict[str, str]:
    """What the web server, worker and beat run with: links in e-mails and certificate PDFs point at this
    run's real address, and visitors meet the portal's own error pages, not Django's debug pages."""
    return {
        **os.environ,
        "PORTAL_BASE_URL": os.environ.get("PORTAL_BASE_URL", url.rstrip("/")),
        "DJANGO_DEBUG_PAGES": os.environ.get("DJANGO_DEBUG_PAGES", "false"),
    }


class Command(BaseCommand):
    help = "Run the portal with a real Celery worker and beat (the embedded default needs no servers)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORTAL_DEMO_PORT", "8000")))
        parser.add_argument("--check", action="store_true", help="Boot, prove it works, stop, exit.")
        parser.add_argument("--timeout", type=int, default=90, help="Seconds --check waits for each step.")

    def handle(self, *args, port: int, check: bool, timeout: int, **options) -> None:
        # SIGTERM (from `timeout`, systemd or kill) must clean up like Ctrl-C: no process left behind.
        signal.signal(signal.SIGTERM, _interrupt)
        signal.signal(signal.SIGHUP, _interrupt)
        if check:
            port = _free_port()
        elif _port_in_use(port):
            raise CommandError(f"Port {port} is already in use: stop what runs there, or set PORTAL_DEMO_PORT.")
        bin_dir = Path(sys.executable).parent
        log_dir = settings.VAR_DIR / "log"
        log_dir.mkdir(exist_ok=True)
        commands = {
            "web": [
                str(bin_dir / "gunicorn"),
                "portal.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--access-logfile",
                "-",
            ],
            "worker": [
                str(bin_dir / "celery"),
                "-A",
                "portal",
                "worker",
                "--loglevel=INFO",
                "--concurrency=2",
                "--queues=celery",
                "--hostname",
                f"demo-{os.getpid()}@%h",
            ],
            # The sweep, reminders and freezes, on a slot of their own: never behind a long render.
            "control": [
                str(bin_dir / "celery"),
                "-A",
                "portal",
                "worker",
                "--loglevel=INFO",
                "--concurrency=1",
                "--queues=control",
                "--hostname",
                f"demo-control-{os.getpid()}@%h",
            ],
            "beat": [str(bin_dir / "celery"), "-A", "portal", "beat", "--loglevel=INFO"],
        }
        processes: dict[str, subprocess.Popen] = {}
        logs = {}
        prefix = "demo-check-" if check else "demo-"
        url = f"http://127.0.0.1:{port}/"
        env = process_environment(url)
        try:
            for name, command in commands.items():
                logs[name] = open(log_dir / f"{prefix}{name}.log", "w")  # noqa: SIM115
                processes[name] = subprocess.Popen(
                    command,
                    cwd=settings.BASE_DIR,
                    env=env,
                    start_new_session=True,  # its own process group, so we can stop its children too
                    stdout=logs[name],
                    stderr=subprocess.STDOUT,
                )
            self._wait_healthy(url, processes, timeout)
            if check:
                self._run_one_job(timeout)
                self.stdout.write(self.style.SUCCESS(f"demo-check passed: {url}healthz answered and a job ran."))
                return
            self._print_banner(url, log_dir, prefix)
            self._wait_forever(processes)
        except KeyboardInterrupt:
            self.stdout.write("\nStopping…")
        except CommandError:
            for name, handle in logs.items():
                handle.flush()
                tail = (log_dir / f"{prefix}{name}.log").read_text(errors="replace")[-1500:]
                self.stderr.write(f"--- last lines of {name} ---\n{tail}")
            raise
        finally:
            self._stop(processes)
            for handle in logs.values():
                handle.close()

    def _wait_healthy(self, url: str, processes: dict[str, subprocess.Popen], timeout: int) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            for name, process in processes.items():
                if process.poll() is not None:
                    raise CommandError(f"The {name} process exited with code {process.returncode} while starting.")
            try:
                with urllib.request.urlopen(url + "healthz", timeout=3) as response:  # noqa: S310  (our own http URL)
                    if response.status == 200:
                        return
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}: {exc.read()[:200]!r}"
            except (urllib.error.URLError, OSError) as exc:
                last = str(exc)
            time.sleep(0.5)
        raise CommandError(f"/healthz did not answer 200 within {timeout}s (last: {last}).")

    def _run_one_job(self, timeout: int) -> None:
        from django.db import transaction

        from portal.jobs import job_create
        from portal.models import Job

        with transaction.atomic():
            job = job_create(kind="portal.ping", payload={"echo": "demo-check"})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.state == Job.State.SUCCEEDED:
                self.stdout.write(f"Job {job.pk} ran on the worker: {json.dumps(job.result)}")
                return
            if job.state == Job.State.FAILED:
                raise CommandError(f"Job {job.pk} failed: {job.last_error}")
            time.sleep(0.5)
        raise CommandError(f"Job {job.pk} was still {job.state} after {timeout}s: is the worker consuming?")

    def _print_banner(self, url: str, log_dir: Path, prefix: str) -> None:
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"The portal is running at {url}"))
        self.stdout.write("Sign in with one of these (officers and other privileged roles then enter a TOTP code):")
        logins = demo_seed()
        role_width = max(len(login.role) for login in logins) + 2
        email_width = max(len(login.email) for login in logins) + 2
        password_width = max(len(login.password) for login in logins) + 2
        for login in logins:
            line = f"  {login.role:<{role_width}}{login.email:<{email_width}}{login.password:<{password_width}}"
            if login.totp_secret:
                line += f"TOTP secret {login.totp_secret}"
            self.stdout.write(line.rstrip())
        self.stdout.write("Current TOTP code for an account: make totp EMAIL=<address>")
        self.stdout.write(demo_seed_evidence().message)
        self.stdout.write(DECONFLICTION_TRY)
        self.stdout.write(f"Logs: {log_dir}/{prefix}web.log, {prefix}worker.log, {prefix}control.log, {prefix}beat.log")
        self.stdout.write("Press Ctrl-C to stop the web server, the workers and beat.")

    def _wait_forever(self, processes: dict[str, subprocess.Popen]) -> None:
        while True:
            for name, process in processes.items():
                if process.poll() is not None:
                    raise CommandError(f"The {name} process stopped unexpectedly (exit code {process.returncode}).")
            time.sleep(1)

    def _stop(self, processes: dict[str, subprocess.Popen]) -> None:
        for process in processes.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
        for process in processes.values():
            # Whatever is left in each process group (gunicorn or celery children) goes too.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
