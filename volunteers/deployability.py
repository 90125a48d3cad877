"""Deployability: may this volunteer be tasked now? One function, every reason, worded per audience.

The evidence app asks `deployability_for(volunteer)`; nothing else decides it. Time is read at every
call, so a clearance or a screening that lapses closes the gate by itself, with no manual step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from django.db.models import Sum
from django.utils import timezone

from training import api as training_api
from volunteers.models import (
    AdverseInformation,
    CodeOfConduct,
    CodeOfConductAcceptance,
    IntegrityReview,
    ScreeningRecord,
    StandDown,
    VettingRecord,
    Volunteer,
)
from volunteers.rules import rules_for


class Audience(StrEnum):
    VOLUNTEER = "volunteer"
    OFFICER = "officer"
    WELFARE = "welfare"


class Code(StrEnum):
    NOT_ACCREDITED = "not_accredited"
    SUSPENDED = "suspended"
    LEFT_SCHEME = "left_scheme"
    VETTING_MISSING = "vetting_missing"
    VETTING_BELOW_LEVEL = "vetting_below_level"
    VETTING_EXPIRED = "vetting_expired"
    ADVERSE_REVIEW_OPEN = "adverse_review_open"
    INTEGRITY_REVIEW_OVERDUE = "integrity_review_overdue"
    SCREENING_MISSING = "screening_missing"
    SCREENING_OVERDUE = "screening_overdue"
    SCREENING_UNFIT = "screening_unfit"
    STOOD_DOWN_EXPOSURE = "stood_down_exposure"
    STOOD_DOWN_WELFARE = "stood_down_welfare"
    TRAINING_NOT_CURRENT = "training_not_current"
    CONDUCT_NOT_ACCEPTED = "conduct_not_accepted"


WELFARE_CODES = {
    Code.SCREENING_MISSING,
    Code.SCREENING_OVERDUE,
    Code.SCREENING_UNFIT,
    Code.STOOD_DOWN_EXPOSURE,
    Code.STOOD_DOWN_WELFARE,
}


def uk_date(moment: datetime) -> str:
    return f"{timezone.localtime(moment):%-d %B %Y}"


@dataclass(frozen=True)
class Blocker:
    code: Code
    volunteer: str  # plain English, about their own situation, no clinical detail
    officer: str  # no health detail at all
    welfare: str  # the detail

    def text_for(self, audience: Audience) -> str:
        return getattr(self, audience.value)


@dataclass(frozen=True)
class Deployability:
    allowed: bool
    blockers: list[Blocker] = field(default_factory=list)
    restrictions: str = ""  # set by welfare on a "fit with restrictions" outcome; shown to officers
    screening_next_due: datetime | None = None
    training_summary: str = ""
    checked_at: datetime | None = None

    @property
    def codes(self) -> list[Code]:
        return [blocker.code for blocker in self.blockers]

    def reasons_for(self, audience: Audience) -> list[str]:
        if audience is Audience.OFFICER:
            # Welfare reasons collapse into one line: the officer learns "not on welfare grounds", never why.
            texts, welfare_said = [], False
            for blocker in self.blockers:
                if blocker.code in WELFARE_CODES:
                    if not welfare_said:
                        texts.append("Not deployable on welfare grounds: the welfare team will say when this changes.")
                        welfare_said = True
                else:
                    texts.append(blocker.officer)
            return texts
        return list(dict.fromkeys(blocker.text_for(audience) for blocker in self.blockers))


def _status_blockers(volunteer: Volunteer) -> list[Blocker]:
    status = volunteer.status
    if status == Volunteer.Status.ACCREDITED:
        return []
    if status == Volunteer.Status.SUSPENDED:
        return [
            Blocker(
                Code.SUSPENDED,
                "Your accreditation is suspended: your supervising officer will contact you.",
                "Suspended.",
                "Suspended by the scheme.",
            )
        ]
    if status in {Volunteer.Status.WITHDRAWN, Volunteer.Status.REFUSED}:
        label = volunteer.get_status_display().lower()
        return [
            Blocker(Code.LEFT_SCHEME, f"Your application was {label}.", f"{label.capitalize()}.", label.capitalize())
        ]
    return [
        Blocker(
            Code.NOT_ACCREDITED,
            "You are not accredited yet: your supervising officer accredits you once vetting is cleared.",
            f"Not accredited (status: {volunteer.get_status_display().lower()}).",
            f"Not accredited (status: {volunteer.get_status_display().lower()}).",
        )
    ]


def _vetting_blockers(volunteer: Volunteer, now: datetime) -> list[Blocker]:
    rules = rules_for(volunteer.scheme)
    cleared = (
        VettingRecord.objects.filter(volunteer=volunteer, outcome=VettingRecord.Outcome.CLEARED)
        .order_by(*VettingRecord.LATEST)
        .first()
    )
    blockers = []
    if cleared is None:
        return [
            Blocker(
                Code.VETTING_MISSING,
                "Your vetting has not been cleared yet.",
                "Vetting not cleared.",
                "Vetting not cleared.",
            )
        ]
    if cleared.expires_at and cleared.expires_at <= now:
        when = uk_date(cleared.expires_at)
        blockers.append(
            Blocker(
                Code.VETTING_EXPIRED,
                f"Your vetting clearance expired on {when}: your supervising officer will arrange renewal.",
                f"Vetting expired on {when}.",
                f"Vetting expired on {when}.",
            )
        )
    if not rules.meets_required_level(cleared.level):
        blockers.append(
            Blocker(
                Code.VETTING_BELOW_LEVEL,
                "Your vetting level is below the level this scheme requires: your supervising officer will explain.",
                f"Cleared to {cleared.level}; the scheme requires {rules.required_level}.",
                f"Cleared to {cleared.level}; the scheme requires {rules.required_level}.",
            )
        )
    if AdverseInformation.objects.filter(volunteer=volunteer, resolved_at__isnull=True).exists():
        blockers.append(
            Blocker(
                Code.ADVERSE_REVIEW_OPEN,
                "Your vetting is under review: your supervising officer will contact you.",
                "Adverse information under review.",
                "Vetting review open.",
            )
        )
    last_review = IntegrityReview.objects.filter(volunteer=volunteer).order_by(*IntegrityReview.LATEST).first()
    review_due = last_review.next_due if last_review else cleared.integrity_review_due
    if review_due and review_due <= now:
        when = uk_date(review_due)
        blockers.append(
            Blocker(
                Code.INTEGRITY_REVIEW_OVERDUE,
                f"Your annual integrity review was due on {when}: contact your supervising officer.",
                f"Integrity review overdue since {when}.",
                f"Integrity review overdue since {when}.",
            )
        )
    return blockers


def _welfare_state(volunteer: Volunteer, now: datetime) -> tuple[list[Blocker], str, datetime | None]:
    blockers = []
    latest = ScreeningRecord.objects.filter(person_id=volunteer.user_id).order_by(*ScreeningRecord.LATEST).first()
    restrictions = ""
    next_due = latest.next_due if latest else None
    if latest is None:
        blockers.append(
            Blocker(
                Code.SCREENING_MISSING,
                "You have not had your welfare screening yet: the welfare team will contact you.",
                "Screening not done.",
                "No screening on record.",
            )
        )
    else:
        if latest.outcome == ScreeningRecord.Outcome.UNFIT:
            blockers.append(
                Blocker(
                    Code.SCREENING_UNFIT,
                    "You are not cleared for deployment on welfare grounds: contact the welfare team.",
                    "Not deployable on welfare grounds.",
                    f"Latest screening ({latest.get_kind_display()}, {latest.screened_on:%-d %B %Y}): unfit.",
                )
            )
        elif latest.outcome == ScreeningRecord.Outcome.FIT_WITH_RESTRICTIONS:
            restrictions = latest.restrictions
        if latest.next_due <= now:
            when = uk_date(latest.next_due)
            blockers.append(
                Blocker(
                    Code.SCREENING_OVERDUE,
                    f"Your {latest.get_kind_display().split(' (')[0].lower()} screening was due on {when}: "
                    "contact the welfare team.",
                    "Not deployable on welfare grounds.",
                    f"Screening overdue since {when} (last: {latest.get_kind_display()}).",
                )
            )
    for stand_down in StandDown.objects.filter(person_id=volunteer.user_id, lifted_at__isnull=True):
        exposure = stand_down.reason == StandDown.Reason.EXPOSURE
        blockers.append(
            Blocker(
                Code.STOOD_DOWN_EXPOSURE if exposure else Code.STOOD_DOWN_WELFARE,
                "You are stood down from deployment for your wellbeing: the welfare team will contact you.",
                "Not deployable on welfare grounds.",
                f"Stood down on {uk_date(stand_down.at)}: {stand_down.get_reason_display().lower()}"
                + (f" — {stand_down.detail}" if stand_down.detail else "."),
            )
        )
    return blockers, restrictions, next_due


def _conduct_blockers(volunteer: Volunteer) -> list[Blocker]:
    current = CodeOfConduct.objects.only("pk", "version").order_by("-version").first()
    if current is None:
        return []
    if CodeOfConductAcceptance.objects.filter(user_id=volunteer.user_id, code=current).exists():
        return []
    return [
        Blocker(
            Code.CONDUCT_NOT_ACCEPTED,
            f"Read and accept the code of conduct (version {current.version}).",
            f"Has not accepted code of conduct version {current.version}.",
            f"Has not accepted code of conduct version {current.version}.",
        )
    ]


def deployability_for(volunteer: Volunteer, *, at: datetime | None = None) -> Deployability:
    """Every condition of the one rule that concerns the volunteer (not the tasking), checked now."""
    now = at or timezone.now()
    blockers = _status_blockers(volunteer)
    blockers += _vetting_blockers(volunteer, now)
    welfare, restrictions, next_due = _welfare_state(volunteer, now)
    blockers += welfare
    training = training_api.mandatory_training_status(volunteer.user, at=now)
    if not training.current:
        missing = ", ".join(training.missing) or "mandatory training"
        blockers.append(
            Blocker(
                Code.TRAINING_NOT_CURRENT,
                f"Complete your training: {missing}.",
                f"Training not current: {missing}.",
                f"Training not current: {missing}.",
            )
        )
    blockers += _conduct_blockers(volunteer)
    return Deployability(
        allowed=not blockers,
        blockers=blockers,
        restrictions=restrictions,
        screening_next_due=next_due,
        training_summary=training.summary,
        checked_at=now,
    )


def exposure_minutes(person_id: int, *, since: datetime) -> int:
    from volunteers.models import ExposureEvent

    return (
        ExposureEvent.objects.filter(person_id=person_id, at__gte=since).aggregate(total=Sum("minutes"))["total"] or 0
    )


def heavy_exposure(person_id: int, scheme, *, now: datetime) -> bool:
    rules = rules_for(scheme)
    return exposure_minutes(person_id, since=now - timedelta(days=365)) >= rules.heavy_exposure_minutes_per_year


def screening_state(person_id: int, *, at: datetime | None = None) -> str:
    """Screening as officers may see it: "Current", "Due soon", "Overdue" or "Not done" — no outcome."""
    now = at or timezone.now()
    latest = ScreeningRecord.objects.filter(person_id=person_id).order_by(*ScreeningRecord.LATEST).first()
    if latest is None:
        return "Not done"
    if latest.next_due <= now:
        return "Overdue"
    if latest.next_due <= now + timedelta(days=30):
        return f"Due by {uk_date(latest.next_due)}"
    return "Current"
