"""Thin Celery tasks of the evidence app."""

from celery import shared_task

from evidence.services import taskings_freeze_lapsed


@shared_task(name="evidence.freeze_lapsed_taskings", ignore_result=True)
def freeze_lapsed_taskings_task() -> int:
    return len(taskings_freeze_lapsed())
