"""The volunteer's own view of what is left to do: a GOV.UK task list built from deployability."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from volunteers.deployability import Audience, Code, Deployability, deployability_for, uk_date
from volunteers.models import Volunteer


@dataclass(frozen=True)
class Task:
    title: str
    status: str  # completed | action_needed | waiting | cannot_start
    hint: str = ""
    href: str = ""
    waiting_on: str = "your supervising officer"

    @property
    def status_label(self) -> str:
        return {
            "completed": "Completed",
            "action_needed": "Action needed",
            "waiting": f"Waiting for {self.waiting_on}",
            "cannot_start": "Cannot start yet",
        }[self.status]


def _task(
    title: str,
    blockers: list,
    codes: set[Code],
    *,
    action: bool = False,
    href: str = "",
    waiting_on: str = "your supervising officer",
    done_hint: str = "",
) -> Task:
    mine = [b for b in blockers if b.code in codes]
    if not mine:
        return Task(title, "completed", done_hint)
    hint = " ".join(dict.fromkeys(b.text_for(Audience.VOLUNTEER) for b in mine))
    return Task(title, "action_needed" if action else "waiting", hint, href if action else "", waiting_on)


def volunteer_tasks(volunteer: Volunteer, decision: Deployability | None = None) -> list[Task]:
    decision = decision or deployability_for(volunteer)
    blockers = decision.blockers
    tasks = [
        Task(
            "Apply",
            "completed",
            f"Application received on {uk_date(volunteer.applied_at)}." if volunteer.applied_at else "",
        ),
        _task(
            "Accept the code of conduct", blockers, {Code.CONDUCT_NOT_ACCEPTED}, action=True, href=reverse("conduct")
        ),
        _task(
            "Vetting",
            blockers,
            {
                Code.VETTING_MISSING,
                Code.VETTING_EXPIRED,
                Code.VETTING_BELOW_LEVEL,
                Code.ADVERSE_REVIEW_OPEN,
                Code.INTEGRITY_REVIEW_OVERDUE,
            },
        ),
        _task(
            "Welfare screening",
            blockers,
            {
                Code.SCREENING_MISSING,
                Code.SCREENING_OVERDUE,
                Code.SCREENING_UNFIT,
                Code.STOOD_DOWN_EXPOSURE,
                Code.STOOD_DOWN_WELFARE,
            },
            waiting_on="the welfare team",
        ),
        _task(
            "Training",
            blockers,
            {Code.TRAINING_NOT_CURRENT},
            action=True,
            href=reverse("training_index"),
            done_hint=decision.training_summary,
        ),
        _task("Accreditation", blockers, {Code.NOT_ACCREDITED, Code.SUSPENDED, Code.LEFT_SCHEME}),
    ]
    if decision.screening_next_due and not any(t.title == "Welfare screening" and t.hint for t in tasks):
        tasks[3] = Task(
            "Welfare screening", "completed", f"Next screening due by {uk_date(decision.screening_next_due)}."
        )
    return tasks
