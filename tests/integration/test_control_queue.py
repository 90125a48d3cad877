"""Recovery does not wait behind the work it recovers: the sweep and the other control tasks have a queue
of their own, consumed by a one-slot worker beside the busy ones."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from portal.celery import app
from portal.models import Job
from portal.tasks import jobs_sweep_task
from tests.conftest import wait_for

pytestmark = [pytest.mark.redis, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_every_beat_task_goes_to_the_control_queue():
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert app.amqp.router.route({}, entry["task"])["queue"].name == "control", entry["task"]
    assert app.amqp.router.route({}, "evidence.bundle_render_chunk")["queue"].name == "celery"


def test_the_sweep_rescues_a_stalled_job_while_every_work_slot_is_busy(
    throwaway_redis, use_broker, start_worker, tmp_path
):
    throwaway_redis.start()
    use_broker(throwaway_redis.url)
    busy = start_worker(throwaway_redis.url, queues="celery", include="tests.worker_tasks")
    control = start_worker(throwaway_redis.url, queues="control")
    release = tmp_path / "release"
    try:
        # The work queue's only slot is taken, as by a long chunk render.
        app.send_task("tests.block_until", args=[str(release)], queue="celery")
        assert wait_for(lambda: "tests.block_until" in busy.output() and "received" in busy.output(), 30)

        # A job whose worker died: running, heartbeat long gone.
        stale = timezone.now() - timedelta(seconds=settings.PORTAL_JOB_STALL_SECONDS + 60)
        job = Job.objects.create(
            kind="portal.ping", state=Job.State.RUNNING, attempts=1, started_at=stale, heartbeat_at=stale
        )
        jobs_sweep_task.delay()  # what beat sends every minute

        rescued = wait_for(lambda: Job.objects.get(pk=job.pk).enqueued_at is not None, timeout=30)
        assert rescued, f"the sweep waited behind the busy worker\n{control.output()}"
        assert not release.exists()  # the work slot was still taken: the control worker ran the sweep
        job.refresh_from_db()
        assert job.state == Job.State.QUEUED and job.last_error == "Attempt 1 stopped responding; sent again."
    finally:
        release.touch()
    # Once the slot is free the rescued job runs, and its old error is gone.
    assert wait_for(lambda: Job.objects.get(pk=job.pk).state == Job.State.SUCCEEDED, timeout=60), busy.output()
    assert Job.objects.get(pk=job.pk).last_error == ""
