"""Every retention change — a case's outcome recorded, a legal hold placed or lifted — checked against the
policy, validated, and audited in the same transaction, with the retention decision it leads to."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from evidence.models import Exhibit, Tasking
from portal.audit import audit_record
from portal.models import User
from portal.text import require_storable
from retention import rules
from retention.models import CaseOutcome, LegalHold
from retention.policy import hold_scheme_id, may_lift_hold, may_place_hold, may_record_outcome
from retention.selectors import disposal_status


class RetentionRefused(PermissionDenied):
    """The person may not make this retention change (retention/policy.py); the message says why."""


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _decision(item) -> dict:
    """The retention decision an audit row records: the date, the rule and whether holds stand."""
    status = disposal_status(item)
    return {
        "earliest": _iso(status.earliest),
        "rule": status.rule,
        "holds": [hold.pk for hold in status.holds],
    }


def _outcome_row(outcome: CaseOutcome | None) -> dict:
    if outcome is None:
        return {"outcome": rules.Outcome.OPEN.value}
    return {
        "outcome": outcome.outcome,
        "decided_on": _iso(outcome.decided_on),
        "convicted_on": _iso(outcome.convicted_on),
        "sentence": outcome.sentence,
        "custodial": outcome.custodial,
        "release_on": _iso(outcome.release_on),
        "appeal_pending": outcome.appeal_pending,
        "appeal_determined_on": _iso(outcome.appeal_determined_on),
        "note": outcome.note,
    }


def outcome_record(
    *,
    tasking: Tasking,
    by: User,
    outcome: str,
    decided_on: date | None = None,
    convicted_on: date | None = None,
    sentence: str = "",
    custodial: bool = False,
    release_on: date | None = None,
    appeal_pending: bool = False,
    appeal_determined_on: date | None = None,
    note: str = "",
) -> CaseOutcome:
    """Record (or correct) what became of the tasking's case. What does not belong to the outcome is not kept
    (no release date on an acquittal); the previous record and the retention decision are audited."""
    if not may_record_outcome(by, tasking):
        raise RetentionRefused("Only a supervising officer of the tasking's scheme records its case outcome.")
    if outcome not in {each.value for each in rules.Outcome}:
        raise ValidationError({"outcome": "Choose what became of the case"})
    given = rules.CaseFacts(
        outcome=outcome,
        decided_on=decided_on,
        convicted_on=convicted_on,
        custodial=custodial,
        release_on=release_on,
        appeal_pending=appeal_pending,
        appeal_determined_on=appeal_determined_on,
    )
    problems = rules.outcome_problems(given, timezone.localdate())
    if problems:
        raise ValidationError(problems)
    facts = rules.relevant_facts(given)
    sentence, note = sentence.strip(), note.strip()
    require_storable(sentence, what="The sentence")
    require_storable(note, what="The note")
    with transaction.atomic():
        tasking = Tasking.objects.select_for_update().get(pk=tasking.pk)
        record = CaseOutcome.objects.filter(tasking=tasking).first()
        before = _outcome_row(record)
        record = record or CaseOutcome(tasking=tasking)
        record.outcome = facts.outcome.value
        record.decided_on = facts.decided_on
        record.convicted_on = facts.convicted_on
        record.sentence = sentence if facts.outcome is rules.Outcome.CONVICTED else ""
        record.custodial = facts.custodial
        record.release_on = facts.release_on
        record.appeal_pending = facts.appeal_pending
        record.appeal_determined_on = facts.appeal_determined_on
        record.note = note
        record.recorded_by = by
        record.recorded_at = timezone.now()
        record.save()
        audit_record(
            action="retention.outcome_record",
            actor=by,
            obj=tasking,
            detail={"from": before, "to": _outcome_row(record), "retention": _decision(tasking)},
        )
    return record


def hold_problems(*, kind: str, reason: str, review_on: date | None) -> dict[str, str]:
    """What is missing or wrong in a hold about to be placed, by field (the form shows the same, beside each)."""
    problems = {}
    if kind not in LegalHold.Kind.values:
        problems["kind"] = "Choose what the hold is for"
    if not (reason or "").strip():
        problems["reason"] = "Enter the reason for the hold: the appeal, review or claim, and its reference"
    if review_on is None:
        problems["review_on"] = "Enter the date the hold is next reviewed"
    elif review_on < timezone.localdate():
        problems["review_on"] = "The review date must be today or in the future"
    return problems


def hold_place(*, target: Tasking | Exhibit | User, kind: str, reason: str, review_on: date, by: User) -> LegalHold:
    """Place a legal hold: nothing it covers may be disposed of until it is lifted."""
    if not may_place_hold(by, target):
        raise RetentionRefused("Only a supervising officer of the scheme places a legal hold on its records.")
    reason = (reason or "").strip()
    problems = hold_problems(kind=kind, reason=reason, review_on=review_on)
    if problems:
        raise ValidationError(problems)
    require_storable(reason, what="The reason")
    on = {"tasking": None, "exhibit": None, "person": None}
    on["person" if isinstance(target, User) else "exhibit" if isinstance(target, Exhibit) else "tasking"] = target
    with transaction.atomic():
        if isinstance(target, User):
            # The person's row is what approving a disposal of their records locks: the two never cross unseen.
            User.objects.select_for_update().filter(pk=target.pk).first()
        hold = LegalHold.objects.create(
            scheme_id=hold_scheme_id(target), kind=kind, reason=reason, review_on=review_on, set_by=by, **on
        )
        audit_record(
            action="retention.hold_place",
            actor=by,
            obj=hold,
            detail={
                "on": hold.target_label,
                "kind": kind,
                "reason": reason,
                "review_on": review_on.isoformat(),
                "retention": _decision(target),
            },
        )
    return hold


def hold_lift(*, hold: LegalHold, reason: str, by: User) -> LegalHold:
    """Lift a standing hold, saying why: disposal may then go ahead when the retention date allows."""
    if not may_lift_hold(by, hold):
        raise RetentionRefused("Only a supervising officer of the scheme lifts a legal hold on its records.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Enter why the hold can be lifted: it is kept on the record"})
    require_storable(reason, what="The reason")
    with transaction.atomic():
        hold = LegalHold.objects.select_for_update().get(pk=hold.pk)
        if hold.lifted_at is not None:
            lifted = rules.day(timezone.localdate(hold.lifted_at))
            raise ValidationError({"reason": f"This hold was already lifted on {lifted}."})
        hold.lifted_at = timezone.now()
        hold.lifted_by = by
        hold.lift_reason = reason
        hold.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
        audit_record(
            action="retention.hold_lift",
            actor=by,
            obj=hold,
            detail={"on": hold.target_label, "reason": reason, "retention": _decision(hold.target)},
        )
    return hold
