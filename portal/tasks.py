"""Thin Celery tasks of the ground floor: the job sweep and a job that proves a worker answers."""

from __future__ import annotations

import os
import socket

from celery import shared_task

from portal.jobs import job_progress, job_task, jobs_sweep
from portal.models import Job


@shared_task(name="portal.jobs_sweep", ignore_result=True)
def jobs_sweep_task() -> dict[str, int]:
    return jobs_sweep()


@job_task("portal.ping")
def ping(job: Job) -> dict:
    """Used by /healthz-style checks and `make demo-check`: the real worker ran a real job."""
    job_progress(job=job, percent=50, stage="Answering")
    return {"worker": socket.gethostname(), "pid": os.getpid(), "echo": job.payload.get("echo", "")}
