"""Reads of evidence for the person asking: which taskings a volunteer knows about, and her work on them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db.models import Count, QuerySet
from django.http import Http404
from django.utils import timezone

from evidence.models import Assignment, ContemporaneousNote, Exhibit, Statement, Tasking
from evidence.policy import SUBMIT, Decision, submission_decisions
from portal.models import User
from portal.permissions import objects_with_perm

if TYPE_CHECKING:
    from volunteers.deployability import Deployability
    from volunteers.models import Volunteer


def assigned_taskings(user: User) -> QuerySet:
    """The taskings she is assigned to now (the guardian grant that assignment gives)."""
    return objects_with_perm(user, f"evidence.{SUBMIT}", Tasking.objects.select_related("authorisation", "handler"))


def assigned_tasking_or_404(user: User, tasking_id: int) -> Tasking:
    """A tasking she is assigned to now (writes to it are then decided by the one rule, in services); the
    same 404 for one that does not exist and one that is not hers."""
    tasking = assigned_taskings(user).filter(pk=tasking_id).first()
    if tasking is None:
        raise Http404("No such tasking.")
    return tasking


def known_tasking(user: User, tasking_id: int) -> Tasking | None:
    """A tasking she is assigned to now or was once, so that after an unassignment she is told it is
    closed to her and whom to ask, rather than that it never existed. Anyone else: None (not found)."""
    tasking = assigned_taskings(user).filter(pk=tasking_id).first()
    if tasking is None and Assignment.objects.filter(tasking_id=tasking_id, volunteer=user).exists():
        tasking = Tasking.objects.select_related("authorisation", "handler").filter(pk=tasking_id).first()
    return tasking


def my_exhibits(user: User, tasking: Tasking) -> QuerySet:
    return Exhibit.objects.filter(tasking=tasking, producer=user).order_by("sequence")


def my_notes(user: User, tasking: Tasking) -> QuerySet:
    return ContemporaneousNote.objects.filter(tasking=tasking, author=user).order_by("written_at", "id")


def my_statements(user: User, tasking: Tasking) -> QuerySet:
    return Statement.objects.filter(tasking=tasking, author=user).select_related("corrects").order_by("-created_at")


@dataclass(frozen=True)
class WorkSummary:
    """What she has produced for one tasking, counted for the tasking's overview."""

    exhibits: Counter = field(default_factory=Counter)  # by Exhibit.Review value
    notes: int = 0
    statements: Counter = field(default_factory=Counter)  # by Statement.State value

    @property
    def exhibit_total(self) -> int:
        return sum(self.exhibits.values())

    @property
    def statement_total(self) -> int:
        return sum(self.statements.values())

    @property
    def exhibit_states(self) -> list[str]:
        """For example ["1 awaiting review", "2 accepted"], in the order review goes."""
        words = {
            Exhibit.Review.AWAITING: "awaiting review",
            Exhibit.Review.ACCEPTED: "accepted",
            Exhibit.Review.REJECTED: "rejected",
            Exhibit.Review.UNUSED: "kept as unused material",
        }
        return [f"{self.exhibits[state]} {word}" for state, word in words.items() if self.exhibits[state]]

    @property
    def statement_states(self) -> list[str]:
        words = {
            Statement.State.SIGNED: ("signed", "signed"),
            Statement.State.DRAFT: ("draft", "drafts"),
            Statement.State.DISCARDED: ("discarded draft", "discarded drafts"),
        }
        return [
            f"{self.statements[state]} {one if self.statements[state] == 1 else many}"
            for state, (one, many) in words.items()
            if self.statements[state]
        ]


def work_summary(user: User, tasking: Tasking) -> WorkSummary:
    """Three grouped counts, whatever the number of exhibits, notes and statements."""
    exhibits = Counter(dict(my_exhibits(user, tasking).order_by().values_list("review_state").annotate(n=Count("id"))))
    statements = Counter(dict(my_statements(user, tasking).order_by().values_list("state").annotate(n=Count("id"))))
    return WorkSummary(exhibits=exhibits, notes=my_notes(user, tasking).count(), statements=statements)


@dataclass(frozen=True)
class TaskingNext:
    """One of her current taskings on the dashboard, with what it needs from her next."""

    tasking: Tasking
    decision: Decision
    next_steps: list[str]

    @property
    def open(self) -> bool:
        return self.decision.allowed


def current_taskings(
    user: User, *, volunteer: Volunteer | None = None, deployability: Deployability | None = None
) -> list[TaskingNext]:
    """The taskings she is assigned to that are not closed or over, open ones first, each with the one
    rule's decision in her words: until when she may submit, or why she may not. Her deployability, when
    the page has it already, is passed on to the one rule (policy.submission_decisions)."""
    now = (deployability.checked_at if deployability is not None else None) or timezone.now()
    taskings = list(
        assigned_taskings(user)
        .exclude(status=Tasking.Status.CLOSED)
        .filter(window_end__gt=now)
        .order_by("window_end", "pk")
    )
    drafts = dict(
        Statement.objects.filter(author=user, tasking__in=taskings, state=Statement.State.DRAFT)
        .order_by()
        .values_list("tasking")
        .annotate(n=Count("id"))
    )
    rejected = dict(
        Exhibit.objects.filter(producer=user, tasking__in=taskings, review_state=Exhibit.Review.REJECTED)
        .order_by()
        .values_list("tasking")
        .annotate(n=Count("id"))
    )
    decisions = submission_decisions(
        user=user, taskings=taskings, at=now, volunteer=volunteer, deployability=deployability
    )
    rows = []
    for tasking in taskings:
        decision = decisions[tasking.pk]
        if decision.allowed:
            until = timezone.localtime(decision.until)
            steps = [f"Open for evidence until {until:%-d %B %Y}, {until:%H:%M}."]
            if drafts.get(tasking.pk):
                count = drafts[tasking.pk]
                steps.append(
                    "You have a draft statement to check and sign, or discard."
                    if count == 1
                    else f"You have {count} draft statements to check and sign, or discard."
                )
            if rejected.get(tasking.pk):
                count = rejected[tasking.pk]
                steps.append(
                    "Your supervising officer rejected an exhibit: read why on the exhibits page."
                    if count == 1
                    else f"Your supervising officer rejected {count} exhibits: read why on the exhibits page."
                )
        else:
            steps = list(dict.fromkeys(reason.volunteer for reason in decision.reasons))
        rows.append(TaskingNext(tasking=tasking, decision=decision, next_steps=steps))
    return sorted(rows, key=lambda row: not row.open)
