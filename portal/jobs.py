"""The generic background-job record: create, dispatch on commit, claim, report progress, sweep.

The database row is the source of truth. The broker carries only the job's id, so a message lost
while the broker was down, or a worker killed mid-task, costs time but never work: the sweep finds
queued or stalled rows and sends them again, up to a capped number of attempts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from portal.models import Job, User
from portal.permissions import scheme_id_of

logger = logging.getLogger(__name__)

# kind -> Celery task; filled by job_task() as each app's tasks module is imported.
_REGISTRY: dict[str, Any] = {}


class JobGaveUp(Exception):
    """Raised inside a job function to fail it at once, with a message people will read."""


class JobHandedOff(Exception):
    """Raised inside a job function that has handed its work to other tasks (a Celery chord): the job
    stays running, those tasks report progress (the heartbeat) and finish it with `job_complete` or
    `job_fail`. If they fall silent, the sweep sends the job again and the function picks up the pieces."""


def job_task(kind: str) -> Callable[[Callable[[Job], dict | None]], Any]:
    """Turn `fn(job) -> result dict` into a Celery task that runs one job row by id."""

    def decorate(fn: Callable[[Job], dict | None]) -> Any:
        @shared_task(name=f"jobs.{kind}", ignore_result=True)
        def run(job_id: int) -> None:
            job_run(job_id=job_id, fn=fn)

        _REGISTRY[kind] = run
        return run

    return decorate


def job_create(
    *,
    kind: str,
    obj: Any = None,
    payload: dict | None = None,
    by: User | None = None,
    max_attempts: int | None = None,
) -> Job:
    """Record a job and send it to the broker once the surrounding transaction commits."""
    if kind not in _REGISTRY:
        raise ValueError(f"No task is registered for job kind {kind!r}.")
    job = Job.objects.create(
        kind=kind,
        object_type=f"{obj._meta.app_label}.{obj._meta.model_name}" if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        # By the object's declared scheme path, so a bundle's or a certificate's job shows in its scheme's list.
        scheme_id=scheme_id_of(obj) if obj is not None else (by.scheme_id if by else None),
        payload=payload or {},
        created_by=by,
        max_attempts=max_attempts or settings.PORTAL_JOB_MAX_ATTEMPTS,
    )
    transaction.on_commit(lambda: job_dispatch(job_id=job.pk))
    return job


def job_dispatch(*, job_id: int) -> bool:
    """Send the job's id to the broker. A broker that is down leaves the job queued for the sweep."""
    job = Job.objects.filter(pk=job_id, state=Job.State.QUEUED).first()
    if job is None:
        return False
    task = _REGISTRY.get(job.kind)
    if task is None:
        logger.error("Job %s has kind %r, for which no task is registered.", job_id, job.kind)
        return False
    try:
        task.apply_async(
            args=[job.pk],
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1},
        )
    except Exception as exc:  # kombu raises many types (OperationalError, ConnectionError, OSError)
        logger.warning("Job %s stays queued: the broker could not be reached (%s). The sweep will retry.", job_id, exc)
        Job.objects.filter(pk=job_id).update(
            last_error=f"Broker unreachable at {timezone.now():%H:%M:%S}: {exc}"[:2000]
        )
        return False
    Job.objects.filter(pk=job_id, state=Job.State.QUEUED).update(enqueued_at=timezone.now())
    return True


def _claim(job_id: int) -> Job | None:
    """Mark the job running if nobody else holds it; a duplicate message claims nothing."""
    now = timezone.now()
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.state != Job.State.QUEUED:
            return None
        if job.attempts >= job.max_attempts:
            job.state = Job.State.FAILED
            job.finished_at = now
            job.last_error = f"Gave up after {job.attempts} attempts. {job.last_error}".strip()
            job.save(update_fields=["state", "finished_at", "last_error"])
            return None
        job.state = Job.State.RUNNING
        job.attempts += 1
        job.started_at = job.started_at or now
        job.heartbeat_at = now
        job.save(update_fields=["state", "attempts", "started_at", "heartbeat_at"])
        return job


def job_run(*, job_id: int, fn: Callable[[Job], dict | None]) -> None:
    job = _claim(job_id)
    if job is None:
        return
    try:
        result = fn(job) or {}
    except JobHandedOff:
        Job.objects.filter(pk=job.pk, state=Job.State.RUNNING).update(heartbeat_at=timezone.now())
    except JobGaveUp as exc:
        _finish(job, Job.State.FAILED, error=str(exc))
    except Exception as exc:
        logger.exception("Job %s (%s) failed on attempt %s", job.pk, job.kind, job.attempts)
        if job.attempts >= job.max_attempts:
            _finish(job, Job.State.FAILED, error=f"Failed after {job.attempts} attempts: {exc}")
        else:
            # Back to the queue; the sweep sends it again after a pause that grows with each attempt.
            Job.objects.filter(pk=job.pk).update(
                state=Job.State.QUEUED, enqueued_at=timezone.now(), last_error=f"Attempt {job.attempts}: {exc}"[:2000]
            )
    else:
        _finish(job, Job.State.SUCCEEDED, result=result)


def _finish(job: Job, state: str, *, error: str = "", result: dict | None = None) -> None:
    fields: dict[str, Any] = {"state": state, "finished_at": timezone.now(), "heartbeat_at": timezone.now()}
    if state == Job.State.SUCCEEDED:
        # An earlier attempt's error no longer describes the job: a finished job shows none.
        fields.update(progress=100, stage="Finished", result=result or {}, last_error="")
    if error:
        fields["last_error"] = error[:2000]
    Job.objects.filter(pk=job.pk).update(**fields)


def job_complete(*, job_id: int, result: dict | None = None) -> None:
    """Finish a handed-off job (see JobHandedOff)."""
    job = Job.objects.filter(pk=job_id).first()
    if job is not None and job.state != Job.State.SUCCEEDED:
        _finish(job, Job.State.SUCCEEDED, result=result)


def job_fail(*, job_id: int, error: str) -> None:
    """Fail a handed-off job for good, with a reason people will read; `job_retry` sends it again."""
    job = Job.objects.filter(pk=job_id).first()
    if job is not None and job.state in {Job.State.RUNNING, Job.State.QUEUED}:
        _finish(job, Job.State.FAILED, error=error)


def job_progress(*, job: Job, percent: int, stage: str = "") -> None:
    """Report progress; it doubles as the heartbeat that tells the sweep the worker is alive."""
    percent = max(0, min(100, int(percent)))
    Job.objects.filter(pk=job.pk, state=Job.State.RUNNING).update(
        progress=percent, stage=stage[:200], heartbeat_at=timezone.now()
    )


def jobs_sweep() -> dict[str, int]:
    """Re-send jobs the broker lost and rescue jobs whose worker stopped; give up after the cap."""
    now = timezone.now()
    stall_before = now - timedelta(seconds=settings.PORTAL_JOB_STALL_SECONDS)
    requeue_before = now - timedelta(seconds=settings.PORTAL_JOB_REQUEUE_SECONDS)
    stalled = failed = dispatched = 0

    for job in Job.objects.filter(state=Job.State.RUNNING, heartbeat_at__lt=stall_before):
        if job.attempts >= job.max_attempts:
            updated = Job.objects.filter(pk=job.pk, state=Job.State.RUNNING, heartbeat_at__lt=stall_before).update(
                state=Job.State.FAILED,
                finished_at=now,
                last_error=(
                    f"Gave up after {job.attempts} attempts: the worker stopped responding "
                    f"(last heartbeat {timezone.localtime(job.heartbeat_at):%d %b %Y %H:%M:%S}). "
                    "Check the worker's log, then retry the job."
                ),
            )
            failed += updated
        else:
            stalled += Job.objects.filter(pk=job.pk, state=Job.State.RUNNING, heartbeat_at__lt=stall_before).update(
                state=Job.State.QUEUED,
                enqueued_at=None,
                last_error=f"Attempt {job.attempts} stopped responding; sent again.",
            )

    waiting = Job.objects.filter(state=Job.State.QUEUED).filter(
        Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=requeue_before)
    )
    for job_id in waiting.values_list("pk", flat=True):
        if job_dispatch(job_id=job_id):
            dispatched += 1
    return {"stalled": stalled, "failed": failed, "dispatched": dispatched}


def job_retry(*, job: Job, by: User) -> Job:
    """Let a person send a failed job again, with a fresh allowance of attempts."""
    from portal.audit import audit_record

    with transaction.atomic():
        Job.objects.filter(pk=job.pk, state=Job.State.FAILED).update(
            state=Job.State.QUEUED, attempts=0, enqueued_at=None, progress=0, stage="", finished_at=None
        )
        audit_record(action="job.retry", actor=by, obj=job, scheme_id=job.scheme_id)
        transaction.on_commit(lambda: job_dispatch(job_id=job.pk))
    job.refresh_from_db()
    return job
