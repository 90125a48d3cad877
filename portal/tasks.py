"""Thin Celery tasks of the ground floor: the job and partial-upload sweeps, and a job that proves a worker
answers."""

from __future__ import annotations

import logging
import os
import socket

from celery import shared_task

from portal.jobs import job_progress, job_task, jobs_sweep
from portal.models import Job
from portal.partial_uploads import partial_uploads_sweep

logger = logging.getLogger(__name__)


@shared_task(name="portal.jobs_sweep", ignore_result=True)
def jobs_sweep_task() -> dict[str, int]:
    return jobs_sweep()


@shared_task(name="portal.partial_uploads_sweep", ignore_result=True)
def partial_uploads_sweep_task() -> dict[str, int]:
    result = partial_uploads_sweep()
    return {"removed": result.removed, "removed_bytes": result.removed_bytes, "kept": result.kept}


@job_task("portal.ping")
def ping(job: Job) -> dict:
    """Used by /healthz-style checks and `make demo-check`: the real worker ran a real job."""
    job_progress(job=job, percent=50, stage="Answering")
    return {"worker": socket.gethostname(), "pid": os.getpid(), "echo": job.payload.get("echo", "")}


@shared_task(name="portal.anchor_chains", ignore_result=True)
def anchor_chains_task() -> dict[str, str]:
    from portal.anchors import AnchoringUnavailable, anchor_chains

    try:
        anchor = anchor_chains()
    except AnchoringUnavailable as exc:
        # No authority configured, or it did not answer: logged; verify_audit reports a stale anchor.
        logger.warning("%s", exc)
        return {"anchored": "", "why": str(exc)}
    return {"anchored": anchor.digest}
