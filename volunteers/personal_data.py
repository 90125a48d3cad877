"""A volunteer's own copy of the personal data the scheme holds about her (UK GDPR Art. 15 and 20): what is in
it and what is not, decided here once, and the PDF and JSON files the "Your personal data" page offers."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.dateparse import parse_date

from portal import roles
from portal.models import User
from portal.pdf import render_pdf
from training.api import training_record
from volunteers.models import (
    CodeOfConductAcceptance,
    IntegrityReview,
    RecordsDisposal,
    ScreeningRecord,
    StandDown,
    StatusChange,
    VettingRecord,
    Volunteer,
)

# What the file holds, in the words the page and the PDF use.
INCLUDED: tuple[str, ...] = (
    "your profile: name, email address, scheme, status, exhibit initials, date of birth, phone number, "
    "addresses, and the dates you applied and were accredited",
    "the history of your status (for example when you were accredited or suspended), with dates",
    "the versions of the code of conduct you accepted, and when",
    "your vetting: the level, the outcome, when it was decided and when it expires, and your integrity reviews",
    "your training: each module, every attempt with its score and result, and your certificates with their dates",
    "your welfare screenings: the kind, the date, the outcome and when the next one is due",
    "any stand-down from deployment: whether it followed exposure or a welfare decision, and its dates",
    "which of your records were deleted after you left, once the time they may be kept had passed, and when",
)

# What it leaves out, and why: each a record about her that is asked for through the data protection officer,
# where someone can first check what may lawfully be released.
NOT_INCLUDED: tuple[tuple[str, str], ...] = (
    (
        "Clinical notes and restrictions from your welfare screenings",
        "These are health records written by clinicians. Ask the data protection officer for them: the law lets "
        "a health professional check them first, so that they are released to you in the right way (Data "
        "Protection Act 2018, Schedule 3).",
    ),
    (
        "Evidence, notes, statements and the taskings you were given",
        "These are held for criminal cases, under Part 3 of the Data Protection Act 2018 (law enforcement). You "
        "can ask the data protection officer for them, but the force may hold some back while releasing them "
        "could harm an investigation or prosecution (section 45).",
    ),
    (
        "The checks made during vetting, any adverse information review, and officers' notes about your "
        "vetting, integrity reviews and status",
        "These can contain police intelligence and what other people said about you in confidence, such as "
        "references. Ask the data protection officer: some of it may be held back to protect the prevention and "
        "detection of crime or a referee's confidence (Data Protection Act 2018, Schedule 2).",
    ),
    (
        "The welfare team's reasons for a stand-down, and the record of distressing material you were exposed to",
        "These describe what you saw and the welfare team's judgement of its effect on you. Ask the welfare "
        "team or the data protection officer.",
    ),
    (
        "The name you give evidence under, and the exhibit initials made from it, if your identity is protected",
        "A copy of this file could be lost or shared, and would then link your own name to them. Your "
        "supervising officer can confirm them with you.",
    ),
    (
        "Records of your sign-ins, and of who has looked at your records",
        "Ask the data protection officer.",
    ),
)


DISPOSED_WORDS = {
    "vetting": "Your vetting records: vetting, checks, integrity reviews and status history (the day you left is kept)",
    "training": "Your training records: attempts, certificates and code of conduct acceptances",
    "welfare": "Your welfare records: screenings, screening requests, exposure records and stand-downs",
}


class NotAVolunteer(Exception):
    """Only a volunteer downloads her personal data here, and only her own."""


def volunteer_of(user: User) -> Volunteer:
    """The signed-in person's own volunteer record: there is no way to ask for anyone else's."""
    if not (user.is_authenticated and user.is_active and roles.has_role(user, roles.VOLUNTEER)):
        raise NotAVolunteer
    volunteer = Volunteer.objects.select_related("scheme").filter(user=user).first()
    if volunteer is None:
        raise NotAVolunteer
    volunteer.user = user
    return volunteer


def _in_uk_time(value: Any) -> Any:
    """Every moment in the file as the portal shows it: in UK time (days stay days)."""
    if isinstance(value, datetime):
        return timezone.localtime(value) if timezone.is_aware(value) else value
    if isinstance(value, dict):
        return {key: _in_uk_time(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_in_uk_time(item) for item in value]
    return value


def _addresses(history: list) -> list[dict]:
    rows = []
    for entry in history or []:
        if isinstance(entry, dict):
            since = entry.get("from")
            rows.append({"address": entry.get("address", ""), "from": parse_date(since) if since else None})
        elif entry:
            rows.append({"address": str(entry), "from": None})
    return rows


def personal_data_for(user: User, *, now: datetime | None = None) -> dict[str, Any]:
    """Everything the file holds about the signed-in volunteer, and what it leaves out. Never clinical notes,
    restrictions, welfare reasons, vetting checks or notes, officers' names, evidence or taskings
    (NOT_INCLUDED says why). Raises NotAVolunteer for anyone else."""
    volunteer = volunteer_of(user)
    now = now or timezone.now()
    data = {
        "about": {
            "title": "Your personal data",
            "created_at": now,
            "controller": f"The police force that runs {volunteer.scheme.name}",
            "included": list(INCLUDED),
        },
        "profile": {
            "name": user.get_full_name(),
            "email": user.email,
            "scheme": volunteer.scheme.name,
            "status": volunteer.get_status_display(),
            # An identity-protected volunteer's initials are her pseudonym's: the file must not link the two
            # (None: left out; "": not given yet).
            "exhibit_initials": None if volunteer.identity_protected else volunteer.exhibit_initials,
            "date_of_birth": volunteer.date_of_birth,
            "phone": volunteer.phone,
            "addresses": _addresses(volunteer.address_history),
            "account_created_at": volunteer.created_at,
            "applied_at": volunteer.applied_at,
            "accredited_at": volunteer.accredited_at,
        },
        "status_history": [
            {"from": change.get_from_status_display(), "to": change.get_to_status_display(), "at": change.at}
            for change in StatusChange.objects.filter(volunteer=volunteer).order_by("at", "pk")
        ],
        "code_of_conduct": [
            {"version": acceptance.code.version, "title": acceptance.code.title, "accepted_at": acceptance.accepted_at}
            for acceptance in CodeOfConductAcceptance.objects.filter(user=user)
            .select_related("code")
            .order_by("accepted_at", "pk")
        ],
        "vetting": [
            {
                "level": record.get_level_display(),
                "outcome": record.get_outcome_display(),
                "started_at": record.started_at,
                "decided_at": record.decided_at,
                "expires_at": record.expires_at,
                "integrity_review_due": record.integrity_review_due,
            }
            for record in VettingRecord.objects.filter(volunteer=volunteer).order_by("started_at", "pk")
        ],
        "integrity_reviews": [
            {"done_at": review.done_at, "next_due": review.next_due}
            for review in IntegrityReview.objects.filter(volunteer=volunteer).order_by("done_at", "pk")
        ],
        "training": training_record(user, at=now),
        # The outcome and dates only: restrictions and clinical notes are never read here.
        "screening": [
            {
                "kind": screening.get_kind_display(),
                "screened_on": screening.screened_on,
                "outcome": screening.get_outcome_display(),
                "next_due": screening.next_due,
            }
            for screening in ScreeningRecord.objects.filter(person=user)
            .only("kind", "screened_on", "outcome", "next_due")
            .order_by("screened_on", "pk")
        ],
        "next_screening_due": user.next_screening_due,
        # Why and when, never the welfare team's detail or reasons for lifting it.
        "stand_downs": [
            {"reason": stand_down.get_reason_display(), "from": stand_down.at, "lifted_at": stand_down.lifted_at}
            for stand_down in StandDown.objects.filter(person=user)
            .only("reason", "at", "lifted_at")
            .order_by("at", "pk")
        ],
        # Kinds of her records disposed of after she left (retention): what and when, so an empty section is
        # explained rather than looking like records lost.
        "disposed": [
            {"records": DISPOSED_WORDS.get(row.kind, row.kind), "disposed_at": row.disposed_at}
            for row in RecordsDisposal.objects.filter(person=user).order_by("disposed_at", "pk")
        ],
        "not_included": [{"what": what, "why": why} for what, why in NOT_INCLUDED],
    }
    return _in_uk_time(data)


def _json_value(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")  # UK time, with its offset from UTC
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not part of a personal data file")


def personal_data_json(data: dict[str, Any]) -> bytes:
    """The same record, machine-readable (UK GDPR Art. 20): times in ISO 8601 with their UK offset."""
    return json.dumps(data, default=_json_value, ensure_ascii=False, indent=2).encode()


def personal_data_pdf(data: dict[str, Any]) -> bytes:
    """The same record as a tagged PDF for people to read, rendered like the portal's other PDFs."""
    html = render_to_string("volunteers/personal_data_pdf.html", {"data": data})
    return render_pdf(html)


def file_name(data: dict[str, Any], extension: str) -> str:
    return f"personal-data-{data['about']['created_at']:%Y-%m-%d}.{extension}"
