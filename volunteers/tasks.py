"""Thin Celery tasks of the volunteers app."""

from celery import shared_task

from volunteers.reminders import reminders_send


@shared_task(name="volunteers.expiry_reminders", ignore_result=True)
def expiry_reminders_task() -> int:
    return reminders_send()
