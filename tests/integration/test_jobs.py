"""Background jobs: the database row is the truth; a lost message or a dead worker costs time, not work."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from portal.jobs import job_create, jobs_sweep
from portal.models import Job
from tests.conftest import free_port, wait_for


def test_a_job_is_not_sent_before_its_transaction_commits(db, use_broker, django_capture_on_commit_callbacks):
    use_broker(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens: a send would fail loudly
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = job_create(kind="portal.ping")
    assert len(callbacks) == 1
    job.refresh_from_db()
    assert job.state == Job.State.QUEUED and job.enqueued_at is None


def test_a_broker_that_is_down_leaves_the_job_queued_and_says_why(db, use_broker, django_capture_on_commit_callbacks):
    use_broker(f"redis://127.0.0.1:{free_port()}/0")
    with django_capture_on_commit_callbacks(execute=True):
        job = job_create(kind="portal.ping")
    job.refresh_from_db()
    assert job.state == Job.State.QUEUED
    assert job.enqueued_at is None
    assert "Broker unreachable" in job.last_error


def test_an_unknown_kind_is_refused_at_creation(db):
    with pytest.raises(ValueError, match="No task is registered for job kind 'nonsense'"):
        job_create(kind="nonsense")


def test_the_sweep_sends_a_stalled_job_again(db):
    job = Job.objects.create(
        kind="portal.ping", state=Job.State.RUNNING, attempts=1, heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    result = jobs_sweep()
    job.refresh_from_db()
    assert result["stalled"] == 1
    assert job.state == Job.State.QUEUED
    assert "stopped responding" in job.last_error


def test_the_sweep_gives_up_after_the_cap_with_a_clear_error(db):
    job = Job.objects.create(
        kind="portal.ping",
        state=Job.State.RUNNING,
        attempts=5,
        max_attempts=5,
        heartbeat_at=timezone.now() - timedelta(hours=1),
    )
    jobs_sweep()
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert job.last_error.startswith("Gave up after 5 attempts: the worker stopped responding")


def test_a_fresh_heartbeat_is_left_alone(db):
    job = Job.objects.create(kind="portal.ping", state=Job.State.RUNNING, attempts=1, heartbeat_at=timezone.now())
    jobs_sweep()
    job.refresh_from_db()
    assert job.state == Job.State.RUNNING


def test_a_duplicate_message_runs_the_job_once(db):
    from portal.jobs import job_run

    calls = []
    job = Job.objects.create(kind="portal.ping")
    job_run(job_id=job.pk, fn=lambda j: calls.append(j.pk) or {})
    job_run(job_id=job.pk, fn=lambda j: calls.append(j.pk) or {})
    job.refresh_from_db()
    assert calls == [job.pk]
    assert job.state == Job.State.SUCCEEDED and job.attempts == 1


def test_a_failing_job_goes_back_to_the_queue_until_its_attempts_run_out(db):
    from portal.jobs import job_run

    def boom(job):
        raise OSError("disk full")

    job = Job.objects.create(kind="portal.ping", max_attempts=2)
    job_run(job_id=job.pk, fn=boom)
    job.refresh_from_db()
    assert job.state == Job.State.QUEUED and "Attempt 1: disk full" in job.last_error
    job_run(job_id=job.pk, fn=boom)
    job.refresh_from_db()
    assert job.state == Job.State.FAILED and job.last_error == "Failed after 2 attempts: disk full"


def test_a_job_that_succeeds_after_a_failed_attempt_no_longer_shows_the_old_error(db):
    from portal.jobs import job_complete, job_run

    attempts = []

    def flaky(job):
        attempts.append(job.attempts)
        if len(attempts) == 1:
            raise OSError("disk full")
        return {"ok": True}

    job = Job.objects.create(kind="portal.ping", max_attempts=3)
    job_run(job_id=job.pk, fn=flaky)
    job.refresh_from_db()
    assert job.last_error == "Attempt 1: disk full"
    job_run(job_id=job.pk, fn=flaky)
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED and job.last_error == "" and job.result == {"ok": True}
    # A handed-off job finished by its last part clears it too.
    handed = Job.objects.create(kind="portal.ping", state=Job.State.RUNNING, last_error="Attempt 1: broker")
    job_complete(job_id=handed.pk)
    handed.refresh_from_db()
    assert handed.state == Job.State.SUCCEEDED and handed.last_error == ""


@pytest.mark.redis
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_job_enqueued_while_the_broker_is_down_runs_after_the_sweep_once_it_is_back(
    throwaway_redis, use_broker, start_worker
):
    use_broker(throwaway_redis.url)  # the throwaway broker is not started yet: it is "down"
    with transaction.atomic():
        job = job_create(kind="portal.ping", payload={"echo": "after the outage"})
    job.refresh_from_db()
    assert job.state == Job.State.QUEUED and job.enqueued_at is None

    throwaway_redis.start()
    worker = start_worker(throwaway_redis.url)
    assert not wait_for(lambda: Job.objects.get(pk=job.pk).state != Job.State.QUEUED, timeout=3), (
        "the job ran before anyone re-sent it: it should have waited for the sweep"
    )
    assert jobs_sweep()["dispatched"] == 1
    finished = wait_for(lambda: Job.objects.get(pk=job.pk).state == Job.State.SUCCEEDED, timeout=60)
    assert finished, worker.output()
    job.refresh_from_db()
    assert job.result["echo"] == "after the outage"
    assert job.attempts == 1
