"""Thin Celery tasks of the evidence app."""

from celery import shared_task

from evidence.bundles import bundle_build
from evidence.models import HandoverBundle
from evidence.services import taskings_freeze_lapsed
from portal.jobs import job_progress, job_task
from portal.models import Job


@shared_task(name="evidence.freeze_lapsed_taskings", ignore_result=True)
def freeze_lapsed_taskings_task() -> int:
    return len(taskings_freeze_lapsed())


@job_task("evidence.bundle_build")
def bundle_build_job(job: Job) -> dict:
    bundle = HandoverBundle.objects.select_related("tasking__scheme", "tasking__authorisation").get(pk=job.object_id)
    bundle = bundle_build(bundle, progress=lambda percent, stage: job_progress(job=job, percent=percent, stage=stage))
    return {"pdf_sha256": bundle.pdf_sha256}
