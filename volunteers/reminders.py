"""Daily expiry reminders (30, 7 and 0 days before) for vetting, integrity reviews and screening.

Idempotent: each (volunteer, subject, due date, days before) is sent once, recorded in ReminderSent,
so running the job twice a day, or re-running a failed day, sends nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from portal import roles
from portal.models import User
from volunteers.models import IntegrityReview, ReminderSent, ScreeningRecord, VettingRecord, Volunteer

ACTIVE = [Volunteer.Status.VETTED, Volunteer.Status.ACCREDITED, Volunteer.Status.SUSPENDED]
SUBJECTS = {
    "vetting": ("vetting clearance expires", "your vetting clearance expires"),
    "integrity": ("annual integrity review is due", "your annual integrity review is due"),
    "screening": ("welfare screening is due", "your welfare screening is due"),
}


@dataclass(frozen=True)
class Due:
    volunteer: Volunteer
    subject: str
    due_at: datetime


def _due_dates(volunteer: Volunteer) -> list[Due]:
    dues = []
    cleared = (
        volunteer.vetting_records.filter(outcome=VettingRecord.Outcome.CLEARED).order_by(*VettingRecord.LATEST).first()
    )
    if cleared and cleared.expires_at:
        dues.append(Due(volunteer, "vetting", cleared.expires_at))
        review = IntegrityReview.objects.filter(volunteer=volunteer).order_by(*IntegrityReview.LATEST).first()
        review_due = review.next_due if review else cleared.integrity_review_due
        if review_due:
            dues.append(Due(volunteer, "integrity", review_due))
    screening = ScreeningRecord.objects.filter(person_id=volunteer.user_id).order_by(*ScreeningRecord.LATEST).first()
    if screening:
        dues.append(Due(volunteer, "screening", screening.next_due))
    return dues


def _officers_of(scheme_id: int) -> list[str]:
    return list(
        User.objects.filter(scheme_id=scheme_id, groups__name=roles.OFFICER.code, is_active=True)
        .values_list("email", flat=True)
        .distinct()
    )


def reminders_send(*, today: date | None = None) -> int:
    """Send today's reminders; returns how many were sent."""
    today = today or timezone.localdate()
    sent = 0
    officers_by_scheme: dict[int, list[str]] = {}
    for volunteer in Volunteer.objects.filter(status__in=ACTIVE).select_related("user", "scheme"):
        for due in _due_dates(volunteer):
            due_day = timezone.localtime(due.due_at).date()
            days_before = (due_day - today).days
            if days_before not in settings.PORTAL_REMINDER_DAYS:
                continue
            try:
                with transaction.atomic():
                    ReminderSent.objects.create(
                        volunteer=volunteer, subject=due.subject, due_at=due.due_at, days_before=days_before
                    )
                    officers = officers_by_scheme.setdefault(volunteer.scheme_id, _officers_of(volunteer.scheme_id))
                    _send(volunteer, due.subject, due_day, days_before, officers)
            except IntegrityError:
                continue  # already sent for this due date and day
            sent += 1
    return sent


def _send(volunteer: Volunteer, subject: str, due_day: date, days_before: int, officers: list[str]) -> None:
    about_them, about_you = SUBJECTS[subject]
    when = f"{due_day:%-d %B %Y}"
    lead = "today" if days_before == 0 else f"on {when} (in {days_before} days)"
    consequence = (
        "From that date you cannot be deployed until it is renewed."
        if days_before > 0
        else "You cannot be deployed until it is renewed."
    )
    send_mail(
        subject=f"Reminder: {about_you} {'today' if days_before == 0 else 'on ' + when}",
        message=f"Dear {volunteer.user.get_full_name()},\n\nThis is a reminder that {about_you} {lead}. "
        f"{consequence}\n\nSign in to the portal to see what you need to do.",
        from_email=None,
        recipient_list=[volunteer.user.email],
    )
    if officers:
        send_mail(
            subject=f"{volunteer.user.get_full_name()}: {about_them} {'today' if days_before == 0 else 'on ' + when}",
            message=f"{volunteer.user.get_full_name()}'s {about_them} {lead}. The portal will stop showing them as "
            "deployable from that date until it is renewed.",
            from_email=None,
            recipient_list=officers,
        )
