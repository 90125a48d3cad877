"""Reads of evidence for the person asking: which taskings a volunteer knows about."""

from __future__ import annotations

from django.db.models import QuerySet

from evidence.models import Assignment, Tasking
from evidence.policy import SUBMIT
from portal.models import User
from portal.permissions import objects_with_perm


def assigned_taskings(user: User) -> QuerySet:
    """The taskings she is assigned to now (the guardian grant that assignment gives)."""
    return objects_with_perm(user, f"evidence.{SUBMIT}", Tasking.objects.select_related("authorisation", "handler"))


def known_tasking(user: User, tasking_id: int) -> Tasking | None:
    """A tasking she is assigned to now or was once, so that after an unassignment she is told it is
    closed to her and whom to ask, rather than that it never existed. Anyone else: None (not found)."""
    tasking = assigned_taskings(user).filter(pk=tasking_id).first()
    if tasking is None and Assignment.objects.filter(tasking_id=tasking_id, volunteer=user).exists():
        tasking = Tasking.objects.select_related("authorisation", "handler").filter(pk=tasking_id).first()
    return tasking
