"""Thin Celery tasks of the evidence app.

A bundle build is a job (portal.jobs) whose task fixes the plan and hands the work to a Celery chord:
one task per chunk, which any worker on any machine may take, then one assembly task that numbers,
signs and commits. Chunk results travel through the result backend as storage names (the chunk's
PDF in the bundle's work area), never PDF bytes.
If the chord falls silent (a worker killed, a message lost), the job's heartbeat stops, the sweep
sends the job again and it dispatches only the chunks not yet rendered.
"""

import logging
import resource
import time

from celery import Task, chord, shared_task
from django.db import DatabaseError, InterfaceError, OperationalError

from evidence import bundles
from evidence.models import HandoverBundle
from evidence.services import taskings_freeze_lapsed
from portal.jobs import JobHandedOff, job_complete, job_fail, job_progress, job_task
from portal.models import Job
from portal.storage import STORAGE_TRANSIENT

logger = logging.getLogger(__name__)

# Worth another go after a pause: a full or unavailable disk or object store, a dropped database connection.
TRANSIENT = (OSError, *STORAGE_TRANSIENT, OperationalError, InterfaceError)
RETRY = {
    "autoretry_for": TRANSIENT,
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 3,
}


@shared_task(name="evidence.expire_resumable_uploads", ignore_result=True)
def expire_resumable_uploads_task() -> int:
    """Resumable uploads nobody continued for PORTAL_RESUMABLE_EXPIRY_HOURS: partial file and row removed."""
    from evidence.resumable import resumable_expire

    return resumable_expire()


@shared_task(name="evidence.freeze_lapsed_taskings", ignore_result=True)
def freeze_lapsed_taskings_task() -> int:
    return len(taskings_freeze_lapsed())


def _bundle(bundle_id: int) -> HandoverBundle:
    return HandoverBundle.objects.select_related("tasking__scheme", "tasking__authorisation").get(pk=bundle_id)


def _peak_rss_mib() -> int:
    """This process's peak resident memory so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _heartbeat(job_id: int, percent: int, stage: str) -> None:
    job = Job.objects.filter(pk=job_id).first()
    if job is not None:
        job_progress(job=job, percent=percent, stage=stage)


class BundleTask(Task):
    """A chunk or assembly that has failed for good fails its bundle and job, with a reason people read."""

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        bundle_id, job_id = (args[-2], args[-1]) if self.name == "evidence.bundle_assemble" else (args[0], args[2])
        part = "Assembling and signing" if self.name == "evidence.bundle_assemble" else f"Rendering part {args[1] + 1}"
        reason = f"{part} failed: {exc.__class__.__name__}: {exc}"
        try:
            bundle = HandoverBundle.objects.get(pk=bundle_id)
            bundles.bundle_fail(bundle, reason)
            job_fail(job_id=job_id, error=reason)
        except DatabaseError:  # the database itself is gone: the sweep will find the silent job
            pass


@job_task("evidence.transcript_senders")
def transcript_senders_job(job: Job) -> dict:
    """Deconfliction of a chat export's senders (evidence/deconfliction/services.py)."""
    from evidence.deconfliction.services import transcript_identifiers_record
    from evidence.models import Exhibit

    return transcript_identifiers_record(Exhibit.objects.select_related("tasking").get(pk=job.payload["exhibit"]))


@job_task("evidence.bundle_build")
def bundle_build_job(job: Job) -> dict:
    bundle = _bundle(int(job.object_id))
    if bundle.state == HandoverBundle.State.READY:
        return {"pdf_sha256": bundle.pdf_sha256}
    plan = bundles.bundle_start(bundle)
    total = len(plan["chunks"])
    done = bundles.WorkArea(bundle).done()
    missing = [i for i in range(total) if i not in done]
    job_progress(job=job, percent=5, stage=f"Rendering {total} parts")
    assemble = bundle_assemble_task.s(bundle.pk, job.pk)
    if missing:
        # The longest parts first, so that two or more workers finish together rather than one waiting
        # on a long part it started last.
        missing.sort(key=lambda index: bundles.chunk_cost(plan["chunks"][index]), reverse=True)
        chord([bundle_render_chunk_task.s(bundle.pk, i, job.pk) for i in missing])(assemble)
    else:
        assemble.delay([])
    raise JobHandedOff


@shared_task(name="evidence.bundle_render_chunk", bind=True, base=BundleTask, **RETRY)
def bundle_render_chunk_task(self, bundle_id: int, index: int, job_id: int) -> dict:
    bundle = _bundle(bundle_id)
    if bundle.state == HandoverBundle.State.READY:  # a late duplicate: nothing to do
        return {"index": index, "name": "", "pages": 0}
    record = bundles.bundle_render_chunk(bundle, index)
    logger.info(
        "bundle part rendered: bundle=%s part=%s pages=%s peak_rss_mib=%s",
        bundle.pk,
        index,
        record["pages"],
        _peak_rss_mib(),
    )
    total, done = len(bundle.plan["chunks"]), bundles.bundle_chunks_done(bundle)
    _heartbeat(job_id, 10 + 70 * done // total, f"Rendered {done} of {total} parts")
    return {"index": index, "name": record["name"], "pages": record["pages"]}


@shared_task(name="evidence.bundle_assemble", bind=True, base=BundleTask, **RETRY)
def bundle_assemble_task(self, chunk_results: list, bundle_id: int, job_id: int) -> dict:
    bundle, started = _bundle(bundle_id), time.monotonic()
    bundle = bundles.bundle_assemble(bundle, progress=lambda percent, stage: _heartbeat(job_id, percent, stage))
    logger.info(
        "bundle assembled: bundle=%s pages=%s peak_rss_mib=%s seconds=%.1f",
        bundle.pk,
        bundle.page_count,
        _peak_rss_mib(),
        time.monotonic() - started,
    )
    job_complete(job_id=job_id, result={"pdf_sha256": bundle.pdf_sha256})
    return {"pdf_sha256": bundle.pdf_sha256}
