"""Every change to a volunteer's record: one function each, audited in the same transaction."""

from __future__ import annotations

import hashlib
import secrets
from datetime import date, datetime, time, timedelta

from dateutil.relativedelta import relativedelta
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from portal import roles
from portal.accounts import user_create
from portal.audit import audit_record
from portal.models import Scheme, User
from volunteers.deployability import exposure_minutes, heavy_exposure
from volunteers.models import (
    AdverseInformation,
    CodeOfConduct,
    CodeOfConductAcceptance,
    ExposureEvent,
    IntegrityReview,
    Invitation,
    ScreeningRecord,
    ScreeningRequest,
    StandDown,
    StatusChange,
    VettingCheck,
    VettingRecord,
    Volunteer,
)
from volunteers.rules import rules_for

S = Volunteer.Status
ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    S.APPLICANT: {S.IN_VETTING, S.WITHDRAWN, S.REFUSED},
    S.IN_VETTING: {S.VETTED, S.REFUSED, S.WITHDRAWN},
    S.VETTED: {S.ACCREDITED, S.IN_VETTING, S.WITHDRAWN},
    S.ACCREDITED: {S.SUSPENDED, S.IN_VETTING, S.WITHDRAWN},
    S.SUSPENDED: {S.ACCREDITED, S.WITHDRAWN},
    S.WITHDRAWN: set(),
    S.REFUSED: set(),
}


class TransitionRefused(ValidationError):
    """A status change the state machine does not allow; the message says what is allowed."""


def volunteer_transition(*, volunteer: Volunteer, to: str, by: User, reason: str) -> Volunteer:
    if not reason.strip():
        raise ValidationError("Give a reason: every status change is recorded with one.")
    given = volunteer
    with transaction.atomic():
        volunteer = Volunteer.objects.select_for_update().get(pk=volunteer.pk)
        current = volunteer.status
        if to not in ALLOWED_TRANSITIONS[current]:
            allowed = ", ".join(sorted(S(s).label.lower() for s in ALLOWED_TRANSITIONS[current])) or "none"
            raise TransitionRefused(
                f"A volunteer who is {S(current).label.lower()} cannot become {S(to).label.lower()}. "
                f"Allowed next: {allowed}."
            )
        if to == S.ACCREDITED and current == S.VETTED:
            cleared = volunteer.vetting_records.filter(outcome=VettingRecord.Outcome.CLEARED).exists()
            if not cleared:
                raise TransitionRefused("Accreditation needs a cleared vetting record.")
            if not volunteer.exhibit_initials:
                volunteer.exhibit_initials = _free_initials(volunteer)
            volunteer.accredited_at = timezone.now()
        volunteer.status = to
        volunteer.save()
        StatusChange.objects.create(volunteer=volunteer, from_status=current, to_status=to, reason=reason, by=by)
        audit_record(
            action="volunteer.status",
            actor=by,
            obj=volunteer,
            detail={"from": current, "to": to, "reason": reason},
        )
    given.refresh_from_db()  # the caller's object shows the new state too
    return given


def identity_protection_set(
    *, volunteer: Volunteer, protected: bool, pseudonym: str, by: User, reason: str
) -> Volunteer:
    """Mark a volunteer identity-protected under a pseudonym (unique within the scheme), or lift it. While
    protected, what they produce from now on carries exhibit initials made from the pseudonym, and bundles
    name them by the pseudonym only; their true identity reaches the CPS in the bundle's sensitive part."""
    pseudonym = " ".join(pseudonym.split())
    if not reason.strip():
        raise ValidationError("Give a reason: every change to a volunteer's identity protection is recorded.")
    if protected and not pseudonym:
        raise ValidationError("Give the pseudonym the volunteer will give evidence under.")
    with transaction.atomic():
        volunteer = Volunteer.objects.select_for_update().select_related("user").get(pk=volunteer.pk)
        if protected and pseudonym.casefold() == volunteer.user.get_full_name().casefold():
            raise ValidationError("The pseudonym must not be the volunteer's own name.")
        clash = Volunteer.objects.filter(scheme_id=volunteer.scheme_id, pseudonym__iexact=pseudonym)
        if protected and clash.exclude(pk=volunteer.pk).exists():
            raise ValidationError("Another volunteer of this scheme already uses that pseudonym: choose another.")
        was = {"protected": volunteer.identity_protected, "pseudonym": volunteer.pseudonym}
        volunteer.identity_protected, volunteer.pseudonym = protected, pseudonym if protected else volunteer.pseudonym
        if protected and volunteer.exhibit_initials and not was["protected"]:
            volunteer.exhibit_initials = ""  # freed first, so the pseudonym's initials may reuse nothing of it
            volunteer.exhibit_initials = _free_initials(volunteer)
        volunteer.save(update_fields=["identity_protected", "pseudonym", "exhibit_initials"])
        audit_record(
            action="volunteer.identity_protection",
            actor=by,
            obj=volunteer,
            detail={"from": was, "protected": protected, "pseudonym": volunteer.pseudonym, "reason": reason},
        )
    return volunteer


def witness_names(user_ids) -> dict[int, str]:
    """The pseudonym of each identity-protected volunteer among `user_ids`: the only name a served bundle
    may print for them."""
    return dict(
        Volunteer.objects.filter(user_id__in=list(user_ids), identity_protected=True)
        .exclude(pseudonym="")
        .values_list("user_id", "pseudonym")
    )


def initials_of(full_name: str, email: str) -> str:
    parts = [p for p in full_name.replace("-", " ").split() if p[:1].isalpha()]
    if len(parts) >= 2:
        return (parts[0][0] + parts[-1][0]).upper()
    if parts:
        return parts[0][:2].upper()
    return email[:2].upper()


def _free_initials(volunteer: Volunteer) -> str:
    """The producer's exhibit initials: AB, then AB2, AB3… on a clash within the scheme."""
    if volunteer.identity_protected and volunteer.pseudonym:
        base = initials_of(volunteer.pseudonym, "")  # nothing of the true name in exhibit references
    else:
        base = initials_of(volunteer.user.full_name, volunteer.user.email)
    taken = set(
        Volunteer.objects.filter(scheme_id=volunteer.scheme_id, exhibit_initials__startswith=base).values_list(
            "exhibit_initials", flat=True
        )
    )
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}{n}"
    return candidate


# --- invitations ------------------------------------------------------------------------------------


def _hash_token(token: str) -> str:
    # Tokens we issue are URL-safe ASCII; any other text in a link hashes to nothing we issued.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def invitation_create(*, scheme: Scheme, email: str, full_name: str = "", by: User) -> tuple[Invitation, str]:
    """Returns the invitation and its one-time token (only its hash is stored)."""
    email = email.strip().lower()
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError(f"{email} already has an account: they can sign in or reset their password.")
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        # A new invitation replaces any unused one for the same address in this scheme.
        Invitation.objects.filter(scheme=scheme, email=email, used_at__isnull=True, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        invitation = Invitation.objects.create(
            scheme=scheme,
            email=email,
            full_name=full_name,
            token_hash=_hash_token(token),
            created_by=by,
            expires_at=timezone.now() + timedelta(days=rules_for(scheme).invitation_days),
        )
        audit_record(action="invitation.create", actor=by, obj=invitation, detail={"email": email})
    return invitation, token


def invitation_revoke(*, invitation: Invitation, by: User) -> bool:
    """Withdraw an unused invitation: its link stops working at once. False if it was already used or
    withdrawn. Only the scheme's supervising officers and administrators may (can_manage_volunteers)."""
    from django.core.exceptions import PermissionDenied

    from volunteers.permissions import can_manage_volunteers

    if not can_manage_volunteers(by, invitation.scheme_id):
        raise PermissionDenied("Only the scheme's officers and administrators can withdraw its invitations.")
    with transaction.atomic():
        withdrawn = Invitation.objects.filter(pk=invitation.pk, used_at__isnull=True, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if withdrawn:
            audit_record(action="invitation.revoke", actor=by, obj=invitation, detail={"email": invitation.email})
    return bool(withdrawn)


def invitation_send(*, invitation: Invitation, accept_url: str) -> None:
    """E-mail the link once the invitation is committed (the token itself is never stored)."""
    from django.core.mail import send_mail

    expires = f"{timezone.localtime(invitation.expires_at):%-d %B %Y at %H:%M}"
    greeting = f"Dear {invitation.full_name}," if invitation.full_name else "Hello,"
    transaction.on_commit(
        lambda: send_mail(
            subject=f"Your invitation to apply to {invitation.scheme.name}",
            message=(
                f"{greeting}\n\n{invitation.created_by.get_full_name()} has invited you to apply to become an "
                f"accredited volunteer with {invitation.scheme.name}.\n\nOpen this link to apply (it works once, "
                f"until {expires}):\n{accept_url}\n\nIf you were not expecting this email, you can ignore it."
            ),
            from_email=None,
            recipient_list=[invitation.email],
        )
    )


class InvitationUnusable(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "unknown", "used", "expired", "revoked"


def invitation_lookup(token: str) -> Invitation:
    invitation = Invitation.objects.select_related("scheme").filter(token_hash=_hash_token(token)).first()
    if invitation is None:
        raise InvitationUnusable("unknown")
    if invitation.used_at:
        raise InvitationUnusable("used")
    if invitation.revoked_at:
        raise InvitationUnusable("revoked")
    if invitation.expires_at <= timezone.now():
        raise InvitationUnusable("expired")
    return invitation


def invitation_accept(
    *,
    token: str,
    full_name: str,
    password: str,
    date_of_birth: date,
    phone: str,
    address_history: list[dict],
    accept_conduct_version: int | None,
) -> Volunteer:
    """The invitee becomes an applicant: account, profile and code-of-conduct acceptance, at once."""
    with transaction.atomic():
        invitation = invitation_lookup(token)
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.used_at:  # a second tab or a replayed form lost the race
            raise InvitationUnusable("used")
        user = user_create(
            email=invitation.email,
            full_name=full_name,
            role_codes=[roles.VOLUNTEER.code],
            scheme=invitation.scheme,
            password=password,
            by=invitation.created_by,
        )
        volunteer = Volunteer.objects.create(
            user=user,
            scheme=invitation.scheme,
            date_of_birth=date_of_birth,
            phone=phone,
            address_history=address_history,
            applied_at=timezone.now(),
        )
        invitation.used_at = timezone.now()
        invitation.used_by = user
        invitation.save(update_fields=["used_at", "used_by"])
        audit_record(action="invitation.accept", actor=user, obj=invitation, scheme_id=invitation.scheme_id)
        if accept_conduct_version is not None:
            conduct_accept(user=user, version=accept_conduct_version)
    return volunteer


# --- code of conduct --------------------------------------------------------------------------------


def conduct_publish(*, title: str, text: str, by: User | None) -> CodeOfConduct:
    with transaction.atomic():
        latest = CodeOfConduct.objects.select_for_update().order_by("-version").first()
        code = CodeOfConduct.objects.create(
            version=(latest.version + 1) if latest else 1, title=title, text=text, published_by=by
        )
        audit_record(action="conduct.publish", actor=by, obj=code, detail={"version": code.version})
    return code


def conduct_accept(*, user: User, version: int) -> CodeOfConductAcceptance:
    current = CodeOfConduct.objects.order_by("-version").first()
    if current is None or current.version != version:
        raise ValidationError("A newer code of conduct has been published: read it and accept that version.")
    with transaction.atomic():
        try:
            with transaction.atomic():
                acceptance = CodeOfConductAcceptance.objects.create(user=user, code=current)
        except IntegrityError:
            return CodeOfConductAcceptance.objects.get(user=user, code=current)
        audit_record(action="conduct.accept", actor=user, obj=current, detail={"version": version})
    return acceptance


# --- vetting ----------------------------------------------------------------------------------------


def vetting_dates_refresh(volunteers=None) -> int:
    """Copy onto each volunteer (all of them, or those of the queryset given) the two dates deployability reads
    from the records: the latest clearance's expiry, and the next integrity review (the latest review's next
    date, or the clearance's first review date if there has been none). One UPDATE; the number changed."""
    cleared = VettingRecord.objects.filter(volunteer=OuterRef("pk"), outcome=VettingRecord.Outcome.CLEARED).order_by(
        *VettingRecord.LATEST
    )
    reviewed = IntegrityReview.objects.filter(volunteer=OuterRef("pk")).order_by(*IntegrityReview.LATEST)
    return (Volunteer.objects.all() if volunteers is None else volunteers).update(
        current_clearance_expires=Subquery(cleared.values("expires_at")[:1]),
        next_integrity_review=Coalesce(
            Subquery(reviewed.values("next_due")[:1]), Subquery(cleared.values("integrity_review_due")[:1])
        ),
    )


def vetting_start(*, volunteer: Volunteer, level: str, by: User) -> VettingRecord:
    with transaction.atomic():
        record = VettingRecord.objects.create(volunteer=volunteer, level=level)
        if volunteer.status in {S.APPLICANT, S.VETTED, S.ACCREDITED}:
            volunteer_transition(volunteer=volunteer, to=S.IN_VETTING, by=by, reason=f"Vetting started ({level}).")
        audit_record(action="vetting.start", actor=by, obj=record, scheme_id=volunteer.scheme_id)
    return record


def vetting_record_check(*, record: VettingRecord, kind: str, result: str, notes: str, by: User) -> VettingCheck:
    if record.outcome != VettingRecord.Outcome.PENDING:
        raise ValidationError("This vetting has been decided: start a new vetting record for a review.")
    if kind == VettingCheck.Kind.IDENTITY and not notes.strip():
        raise ValidationError("Record which identity documents were seen (one Group 1 document and two others).")
    with transaction.atomic():
        check, _ = VettingCheck.objects.update_or_create(
            record=record,
            kind=kind,
            defaults={"result": result, "notes": notes, "done_by": by, "done_at": timezone.now()},
        )
        audit_record(
            action="vetting.check",
            actor=by,
            obj=record,
            scheme_id=record.volunteer.scheme_id,
            detail={"kind": kind, "result": result},
        )
    return check


def vetting_decide(*, record: VettingRecord, outcome: str, reasons: str, by: User) -> VettingRecord:
    if record.outcome != VettingRecord.Outcome.PENDING:
        raise ValidationError("This vetting has already been decided.")
    done = {check.kind: check for check in record.checks.all()}
    if outcome == VettingRecord.Outcome.CLEARED:
        missing = [VettingCheck.Kind(k).label for k in VettingCheck.Kind.values if k not in done]
        if missing:
            raise ValidationError(f"Clearance needs every check recorded. Missing: {', '.join(missing)}.")
        if any(c.result == VettingCheck.Result.CONCERN for c in done.values()) and not reasons.strip():
            raise ValidationError("A check raised a concern: record why clearance is still granted.")
    elif not reasons.strip():
        raise ValidationError("Give the reasons for refusal.")
    rules = rules_for(record.volunteer.scheme)
    now = timezone.now()
    with transaction.atomic():
        record.outcome = outcome
        record.reasons = reasons
        record.decided_by = by
        record.decided_at = now
        if outcome == VettingRecord.Outcome.CLEARED:
            record.expires_at = now + relativedelta(years=rules.renewal_years[record.level])
            record.integrity_review_due = now + relativedelta(months=rules.integrity_review_months)
        record.save()
        vetting_dates_refresh(Volunteer.objects.filter(pk=record.volunteer_id))
        volunteer = Volunteer.objects.get(pk=record.volunteer_id)
        if volunteer.status == S.IN_VETTING:
            to = S.VETTED if outcome == VettingRecord.Outcome.CLEARED else S.REFUSED
            volunteer_transition(volunteer=volunteer, to=to, by=by, reason=f"Vetting {outcome}: {reasons}".strip())
        audit_record(
            action="vetting.decide", actor=by, obj=record, scheme_id=volunteer.scheme_id, detail={"outcome": outcome}
        )
    return record


def adverse_information_report(*, volunteer: Volunteer, summary: str, by: User) -> AdverseInformation:
    with transaction.atomic():
        item = AdverseInformation.objects.create(volunteer=volunteer, summary=summary, reported_by=by)
        audit_record(action="vetting.adverse_report", actor=by, obj=item, scheme_id=volunteer.scheme_id)
    return item


def adverse_information_resolve(*, item: AdverseInformation, resolution: str, by: User) -> AdverseInformation:
    if not resolution.strip():
        raise ValidationError("Record how the review was resolved.")
    with transaction.atomic():
        item.resolved_at = timezone.now()
        item.resolved_by = by
        item.resolution = resolution
        item.save()
        audit_record(action="vetting.adverse_resolve", actor=by, obj=item, scheme_id=item.volunteer.scheme_id)
    return item


def integrity_review_record(*, volunteer: Volunteer, notes: str, by: User) -> IntegrityReview:
    rules = rules_for(volunteer.scheme)
    now = timezone.now()
    with transaction.atomic():
        review = IntegrityReview.objects.create(
            volunteer=volunteer,
            done_by=by,
            notes=notes,
            done_at=now,
            next_due=now + relativedelta(months=rules.integrity_review_months),
        )
        vetting_dates_refresh(Volunteer.objects.filter(pk=volunteer.pk))
        audit_record(action="vetting.integrity_review", actor=by, obj=review, scheme_id=volunteer.scheme_id)
    return review


# --- welfare ----------------------------------------------------------------------------------------


def screening_record(
    *,
    person: User,
    kind: str,
    screened_on: date,
    provider: str,
    outcome: str,
    restrictions: str,
    clinical_notes: str,
    by: User,
) -> ScreeningRecord:
    if outcome == ScreeningRecord.Outcome.FIT_WITH_RESTRICTIONS and not restrictions.strip():
        raise ValidationError({"restrictions": "Say what the restrictions are: officers need them to task safely."})
    if screened_on > timezone.localdate():
        raise ValidationError({"screened_on": "The date of the screening cannot be in the future."})
    rules = rules_for(person.scheme)
    start = timezone.make_aware(datetime.combine(screened_on, time(0, 0)))
    heavy = heavy_exposure(person.pk, person.scheme, now=timezone.now())
    months = rules.heavy_exposure_screening_months if heavy else rules.screening_months
    with transaction.atomic():
        record = ScreeningRecord.objects.create(
            person=person,
            scheme=person.scheme,
            kind=kind,
            screened_on=screened_on,
            provider=provider,
            outcome=outcome,
            restrictions=restrictions,
            clinical_notes=clinical_notes,
            next_due=start + relativedelta(months=months),
            recorded_by=by,
        )
        ScreeningRequest.objects.filter(person=person, closed_at__isnull=True).update(
            closed_at=timezone.now(), screening=record
        )
        screening_dates_refresh(User.objects.filter(pk=person.pk))
        audit_record(action="welfare.screening_record", actor=by, obj=record, detail={"kind": kind})
    return record


def screening_dates_refresh(people=None) -> int:
    """Copy onto each person (all of them, or those of the User queryset given) the next due date of their
    latest screening, which deployability reads from the records. One UPDATE; the number of people changed."""
    latest = ScreeningRecord.objects.filter(person=OuterRef("pk")).order_by(*ScreeningRecord.LATEST)
    people = User.objects.all() if people is None else people
    return people.update(next_screening_due=Subquery(latest.values("next_due")[:1]))


def exposure_record(
    *, person: User, minutes: int, source: str, by: User | None, at: datetime | None = None
) -> ExposureEvent:
    """Log exposure; at the scheme's threshold the person is stood down and welfare asked to screen."""
    if minutes <= 0:
        raise ValidationError("Exposure is recorded in whole minutes, at least 1.")
    rules = rules_for(person.scheme)
    at = at or timezone.now()
    with transaction.atomic():
        # Serialise per person so two simultaneous entries cannot both miss the threshold.
        User.objects.select_for_update().filter(pk=person.pk).first()
        event = ExposureEvent.objects.create(
            person=person, scheme=person.scheme, at=at, minutes=minutes, source=source, recorded_by=by
        )
        audit_record(action="welfare.exposure", actor=by, obj=event, detail={"minutes": minutes})
        total = exposure_minutes(person.pk, since=at - rules.exposure_window)
        already = StandDown.objects.filter(person=person, reason=StandDown.Reason.EXPOSURE, lifted_at__isnull=True)
        if total >= rules.exposure_threshold_minutes and not already.exists():
            stand_down = StandDown.objects.create(
                person=person,
                scheme=person.scheme,
                reason=StandDown.Reason.EXPOSURE,
                detail=f"{total} minutes in {rules.exposure_window_days} days (threshold "
                f"{rules.exposure_threshold_minutes}).",
                by=None,
            )
            ScreeningRequest.objects.create(
                person=person,
                scheme=person.scheme,
                kind=ScreeningRecord.Kind.POST_INCIDENT,
                reason=f"Exposure threshold reached: {total} minutes in {rules.exposure_window_days} days.",
            )
            audit_record(action="welfare.stand_down", actor=None, obj=stand_down, detail={"reason": "exposure"})
    return event


def stand_down_place(*, person: User, detail: str, by: User) -> StandDown:
    with transaction.atomic():
        stand_down = StandDown.objects.create(
            person=person, scheme=person.scheme, reason=StandDown.Reason.WELFARE, detail=detail, by=by
        )
        audit_record(action="welfare.stand_down", actor=by, obj=stand_down, detail={"reason": "welfare"})
    return stand_down


def stand_down_lift(*, stand_down: StandDown, by: User, reason: str) -> StandDown:
    """Lifting makes the person deployable again if nothing else stops it, so it is a decision with a
    recorded reason (welfare detail, encrypted like the stand-down's own)."""
    if stand_down.lifted_at:
        raise ValidationError("This stand-down has already been lifted.")
    if not reason.strip():
        raise ValidationError("Enter why it is safe to lift the stand-down.")
    with transaction.atomic():
        stand_down.lifted_at = timezone.now()
        stand_down.lifted_by = by
        stand_down.lift_reason = reason.strip()
        stand_down.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
        audit_record(action="welfare.stand_down_lift", actor=by, obj=stand_down)
    return stand_down
