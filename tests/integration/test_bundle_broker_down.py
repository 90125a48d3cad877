"""A bundle requested while the broker is down: the request still commits, the job waits with a reason,
and once the broker is back the sweep sends it and a real worker builds exactly one valid bundle."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from evidence import bundles
from evidence.models import HandoverBundle
from evidence.verify import verify
from portal.jobs import jobs_sweep
from portal.models import Job
from tests.conftest import wait_for
from tests.integration.bundle_helpers import make_ready, sign_schedules, stored_bytes


@pytest.mark.redis
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_bundle_requested_while_the_broker_is_down_is_built_once_it_is_back(
    assigned_vera, tasking, owen, tmp_path, throwaway_redis, use_broker, start_worker, settings
):
    settings.PORTAL_SIGNING_KEY_PATH = str(tmp_path / "key.pem")
    settings.PORTAL_SIGNING_CERT_PATH = str(tmp_path / "cert.pem")
    call_command("create_signing_key", "--force")
    make_ready(tasking, assigned_vera.user, owen, tmp_path)
    settings.PORTAL_JOB_STALL_SECONDS = 300  # nothing in this test is a stalled job
    settings.PORTAL_JOB_REQUEUE_SECONDS = 600  # only a never-sent job (enqueued_at empty) is sent by the sweep

    use_broker(throwaway_redis.url)  # the throwaway broker is not started yet: it is "down"
    sign_schedules(tasking, owen)
    bundle = bundles.bundle_request(tasking=tasking, by=owen)  # commits; the send fails and is recorded

    bundle.refresh_from_db()
    assert bundle.state == HandoverBundle.State.QUEUED and bundle.version == 1
    job = Job.objects.get(kind="evidence.bundle_build", object_id=str(bundle.pk))
    assert job.state == Job.State.QUEUED and job.enqueued_at is None and job.attempts == 0
    assert "Broker unreachable" in job.last_error, job.last_error

    throwaway_redis.start()
    worker = start_worker(
        throwaway_redis.url,
        PORTAL_PRIVATE_STORAGE=settings.STORAGES["default"]["OPTIONS"]["location"],
        PORTAL_SIGNING_KEY_PATH=settings.PORTAL_SIGNING_KEY_PATH,
        PORTAL_SIGNING_CERT_PATH=settings.PORTAL_SIGNING_CERT_PATH,
    )
    assert not wait_for(lambda: Job.objects.get(pk=job.pk).state != Job.State.QUEUED, timeout=3), (
        "the job ran before anyone sent it again: it should have waited for the sweep"
    )
    assert jobs_sweep()["dispatched"] == 1

    def ready() -> bool:
        return HandoverBundle.objects.get(pk=bundle.pk).state == HandoverBundle.State.READY

    assert wait_for(ready, timeout=120), worker.output()
    assert wait_for(lambda: Job.objects.get(pk=job.pk).state == Job.State.SUCCEEDED, timeout=30), worker.output()

    assert HandoverBundle.objects.filter(tasking=tasking).count() == 1
    bundle.refresh_from_db()
    assert bundle.version == 1 and bundle.pdf_name and len(bundle.pdf_sha256) == 64
    assert Job.objects.filter(kind="evidence.bundle_build", object_id=str(bundle.pk)).count() == 1
    report = verify(stored_bytes(bundle.pdf_name), settings.PORTAL_SIGNING_CERT_PATH)
    assert report.ok, report.failure
    assert report.manifest["bundle"] == bundle.pk and report.manifest["version"] == 1
