"""Every change in evidence: authorisations, taskings, assignments, exhibits — audited in one transaction."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from evidence.custody import custody_append
from evidence.models import Assignment, Authorisation, CustodyEvent, Exhibit, ExhibitCounter, Tasking
from evidence.policy import (
    SUBMIT,
    authorisation_problem,
    may_acknowledge_alert,
    may_share_bundle,
    sensitive_part_refusal,
    submission_decision,
)
from portal.audit import audit_record
from portal.models import User
from portal.notifications import notify
from portal.permissions import grant, holds_object_perm, revoke
from portal.text import require_storable, without_unstorable
from volunteers.models import Volunteer

logger = logging.getLogger(__name__)
T = Tasking.Status
TASKING_TRANSITIONS = {
    T.DRAFT: {T.ACTIVE, T.CLOSED},
    T.ACTIVE: {T.SUSPENDED, T.CLOSED},
    T.SUSPENDED: {T.ACTIVE, T.CLOSED},
    T.PAUSED: {T.CLOSED},  # paused and resumed only by deconfliction (evidence/deconfliction/services.py)
    T.CLOSED: set(),
}


class SubmissionRefused(PermissionDenied):
    """The one rule said no; `.decision` carries every reason."""

    def __init__(self, decision) -> None:
        super().__init__("; ".join(reason.volunteer for reason in decision.reasons))
        self.decision = decision


def authorisation_default_expiry(*, kind: str, granted_at: datetime, urgent: bool) -> datetime:
    """RIPA periods by type (configurable): 72 hours if urgent or oral, else 12 months for a CHIS and
    3 months for directed surveillance."""
    from dateutil.relativedelta import relativedelta
    from django.conf import settings

    if urgent:
        return granted_at + timezone.timedelta(hours=settings.PORTAL_AUTHORISATION_HOURS_URGENT)
    return granted_at + relativedelta(months=settings.PORTAL_AUTHORISATION_MONTHS[kind])


def authorisation_cancel(*, authorisation: Authorisation, by: User, reason: str) -> Authorisation:
    if not reason.strip():
        raise ValidationError("Record the reason for cancelling the authorisation.")
    if authorisation.cancelled_at:
        raise ValidationError("This authorisation is already cancelled.")
    with transaction.atomic():
        authorisation.cancelled_at = timezone.now()
        authorisation.cancelled_by = by
        authorisation.cancellation_reason = reason
        authorisation.save(update_fields=["cancelled_at", "cancelled_by", "cancellation_reason"])
        audit_record(action="evidence.authorisation_cancel", actor=by, obj=authorisation, detail={"reason": reason})
    return authorisation


def tasking_set_status(*, tasking: Tasking, to: str, by: User | None, reason: str = "") -> Tasking:
    if tasking.status == T.PAUSED and to != T.CLOSED:
        raise ValidationError(
            f"{tasking.reference} is paused by a deconfliction match. It resumes when its controller records the "
            "resolution on the tasking's page."
        )
    if to == T.PAUSED:
        raise ValidationError("Only a deconfliction match pauses a tasking.")
    if to not in TASKING_TRANSITIONS[tasking.status]:
        raise ValidationError(f"A {tasking.get_status_display().lower()} tasking cannot become {T(to).label.lower()}.")
    if to == T.ACTIVE:
        problem = authorisation_problem(tasking.authorisation, timezone.now())
        if problem:
            raise ValidationError(f"Activation needs a current authorisation: {problem.officer}")
    with transaction.atomic():
        before = tasking.status
        tasking.status = to
        tasking.save(update_fields=["status"])
        audit_record(
            action="evidence.tasking_status", actor=by, obj=tasking, detail={"from": before, "to": to, "reason": reason}
        )
    if to == T.ACTIVE:
        # Live again: the identities it engages are matched against what other schemes recorded meanwhile. After
        # the commit above: deconfliction's locks come before any row's.
        from evidence.deconfliction.services import tasking_recheck

        tasking_recheck(tasking=tasking)
    return tasking


def tasking_assign(*, tasking: Tasking, volunteer: User, by: User) -> Assignment:
    """Assignment is the only thing that grants the submit permission, and unassignment the only revoke."""
    if not Volunteer.objects.filter(user=volunteer, scheme_id=tasking.scheme_id).exists():
        raise ValidationError("Only volunteers of this tasking's scheme can be assigned to it.")
    with transaction.atomic():
        if Assignment.objects.filter(tasking=tasking, volunteer=volunteer, ended_at__isnull=True).exists():
            raise ValidationError(f"{volunteer} is already assigned to {tasking.reference}.")
        assignment = Assignment.objects.create(tasking=tasking, volunteer=volunteer, assigned_by=by)
        grant(f"evidence.{SUBMIT}", volunteer, tasking)
        audit_record(action="evidence.assign", actor=by, obj=tasking, detail={"volunteer": volunteer.pk})
        notify(
            user=volunteer,
            subject=f"You have a new tasking: {tasking.reference}",
            text=f"You have been assigned to tasking {tasking.reference}. Sign in to read your briefing first.",
            url=reverse("tasking_detail", args=[tasking.pk]),
        )
    return assignment


def tasking_unassign(*, assignment: Assignment, by: User) -> Assignment:
    with transaction.atomic():
        assignment.ended_at = timezone.now()
        assignment.ended_by = by
        assignment.save(update_fields=["ended_at", "ended_by"])
        revoke(f"evidence.{SUBMIT}", assignment.volunteer, assignment.tasking)
        audit_record(
            action="evidence.unassign", actor=by, obj=assignment.tasking, detail={"volunteer": assignment.volunteer_id}
        )
        notify(
            user=assignment.volunteer,
            subject=f"You are no longer on tasking {assignment.tasking.reference}",
            text=f"You have been taken off tasking {assignment.tasking.reference} and can no longer add evidence "
            "to it. If you think this is a mistake, contact your supervising officer.",
            url=reverse("tasking_list"),
        )
    return assignment


TRANSCRIPT_TYPES = {"text/plain", "text/csv", "application/json"}
GUARD_READ_BYTES = 20 * 1024 * 1024  # chat exports are small; a huge one is read in part, never whole


def conduct_flags_for(tasking: Tasking, upload, sniffed_type: str) -> list[dict]:
    """Run the decoy conduct guard over a text transcript (an aid for review; never blocks)."""
    from django.conf import settings

    from evidence.conduct_guard import DEFAULT_PATTERNS, check, parse_transcript

    reader = getattr(upload, "reader", None)
    if sniffed_type not in TRANSCRIPT_TYPES or not tasking.persona_handles or reader is None:
        return []
    with reader() as handle:
        text = handle.read(GUARD_READ_BYTES).decode("utf-8", errors="replace")
    patterns = settings.PORTAL_DECOY_PHRASES or DEFAULT_PATTERNS
    flags = check(parse_transcript(text, sniffed_type), tasking.persona_handles.split(","), patterns)
    return [flag.as_dict() for flag in flags[:200]]


def _next_reference(tasking: Tasking, initials: str) -> tuple[str, int]:
    """AB/1, AB/2 … per producer per tasking: the counter row is locked, so references are unique and
    gap-free even when submissions race (and a failed submission rolls its number back)."""
    counter, _ = ExhibitCounter.objects.get_or_create(tasking=tasking, initials=initials)
    counter = ExhibitCounter.objects.select_for_update().get(pk=counter.pk)
    counter.last += 1
    counter.save(update_fields=["last"])
    return f"{initials}/{counter.last}", counter.last


def exhibit_submit(
    *,
    user: User,
    tasking: Tasking,
    upload,
    sniffed_type: str,
    description: str,
    platform: str,
    other_party: str,
    url: str,
    captured_at: datetime,
    capture_method: str,
    browser_sha256: str = "",
    quarantined: bool = False,
    distressing: bool = False,
    store,
) -> Exhibit:
    """Record an exhibit from a received upload (already hashed while streaming; see evidence/uploads.py).

    `store(upload, name)` moves the temporary file into private storage under the generated name.
    """
    decision = submission_decision(user=user, tasking=tasking)
    if not decision.allowed:
        raise SubmissionRefused(decision)
    for what, text in (
        ("The description", description),
        ("The platform", platform),
        ("The other party's account identifiers", other_party),
        ("The web address", url),
        ("The capture method", capture_method),
    ):
        require_storable(text, what=what)
    if browser_sha256 and browser_sha256.lower() != upload.sha256:
        raise ValidationError(
            "The file changed on the way: your browser calculated a different SHA-256 from the one the portal "
            "received. Nothing was stored. Upload the original file again."
        )
    if captured_at > timezone.now():
        raise ValidationError("The time of capture cannot be in the future.")
    volunteer = Volunteer.objects.get(user=user)
    flags = conduct_flags_for(tasking, upload, sniffed_type)
    with transaction.atomic():
        reference, sequence = _next_reference(tasking, volunteer.exhibit_initials)
        stored_name = f"exhibits/{tasking.scheme_id}/{tasking.pk}/{secrets.token_hex(16)}"
        exhibit = Exhibit.objects.create(
            tasking=tasking,
            producer=user,
            reference=reference,
            sequence=sequence,
            description=description,
            platform=platform,
            other_party=other_party,
            url=url,
            captured_at=captured_at,
            capture_method=capture_method,
            # The name the sender's computer gave the file, for reference only: the hash identifies it.
            original_name=without_unstorable(upload.name or "", "\ufffd")[0][:255],
            stored_name=stored_name,
            size=upload.size,
            sniffed_type=sniffed_type,
            sha256=upload.sha256,
            browser_sha256=browser_sha256.lower(),
            quarantined=quarantined,
            distressing=distressing or quarantined,
            conduct_flags=flags,
        )
        custody_append(
            exhibit=exhibit,
            action=CustodyEvent.Action.UPLOADED,
            actor=user,
            detail={"size": upload.size, "sha256": upload.sha256, "type": sniffed_type},
        )
        if browser_sha256:
            custody_append(
                exhibit=exhibit,
                action=CustodyEvent.Action.HASH_VERIFIED,
                actor=None,
                detail={"browser_sha256": browser_sha256.lower(), "server_sha256": upload.sha256},
            )
        audit_record(
            action="evidence.exhibit_submit",
            actor=user,
            obj=tasking,
            detail={"exhibit": reference, "sha256": upload.sha256},
        )
        store(upload, stored_name)  # last: a failure above leaves nothing stored and the number unused
    _deconflict(exhibit)
    return exhibit


def _deconflict(exhibit: Exhibit) -> None:
    """The other party's identifiers are matched once the exhibit is safely stored: a failure here must not
    cost the evidence. It is logged as an error for the operators, and the officer still reads the other
    party on the exhibit."""
    from evidence.deconfliction.services import exhibit_identifiers_record
    from portal.jobs import job_create

    try:
        exhibit_identifiers_record(exhibit)
    except Exception:
        logger.exception("Deconfliction of exhibit %s failed; its identifiers were not matched", exhibit.pk)
    if exhibit.sniffed_type in TRANSCRIPT_TYPES and not exhibit.quarantined:
        # Every sender of a chat export: read by a job, so a long transcript does not hold the upload up. A
        # job is retried until it succeeds or fails visibly on the job list.
        job_create(
            kind="evidence.transcript_senders", obj=exhibit, payload={"exhibit": exhibit.pk}, by=exhibit.producer
        )


def exhibit_open(*, exhibit: Exhibit, by: User, request=None, minutes_viewed: int = 1) -> Exhibit:
    """Record that someone opened an exhibit's file: custody, audit and — for quarantined or
    distressing material — the opener's welfare exposure. The caller has checked may_open_exhibit."""
    return _exhibit_seen(
        exhibit=exhibit, by=by, request=request, minutes=minutes_viewed, action=CustodyEvent.Action.DOWNLOADED
    )


def exhibit_preview(*, exhibit: Exhibit, by: User, request=None, minutes_viewed: int = 1) -> Exhibit:
    """Record that an officer saw an exhibit's content shown inline on its review page: custody "viewed",
    audit and — for distressing material — welfare exposure, as for a download. Quarantined material is
    never shown inline. The caller has checked may_open_exhibit."""
    if exhibit.quarantined:
        raise PermissionDenied("Quarantined material is never shown in the portal.")
    return _exhibit_seen(
        exhibit=exhibit, by=by, request=request, minutes=minutes_viewed, action=CustodyEvent.Action.VIEWED
    )


def _exhibit_seen(*, exhibit: Exhibit, by: User, request, minutes: int, action: str) -> Exhibit:
    from volunteers.services import exposure_record

    with transaction.atomic():
        custody_append(exhibit=exhibit, action=action, actor=by, detail={"quarantined": exhibit.quarantined})
        audit_record(
            action="evidence.exhibit_open" if action == CustodyEvent.Action.DOWNLOADED else "evidence.exhibit_preview",
            actor=by,
            obj=exhibit.tasking,
            request=request,
            detail={"exhibit": exhibit.reference, "quarantined": exhibit.quarantined},
        )
        if (exhibit.quarantined or exhibit.distressing) and by.scheme_id:
            verb = "Opened" if action == CustodyEvent.Action.DOWNLOADED else "Viewed"
            exposure_record(
                person=by,
                minutes=minutes,
                source=f"{verb} {'quarantined' if exhibit.quarantined else 'distressing'} exhibit {exhibit.reference}",
                by=by,
            )
    return exhibit


def exhibit_review(
    *, exhibit: Exhibit, decision: str, reason: str, by: User, schedule: str = "", unused_description: str = ""
) -> Exhibit:
    """Accept, reject (with a reason) or mark unused (MG6C, or MG6D with the reason it is sensitive)."""
    from evidence.models import UnusedMaterial

    R = Exhibit.Review
    if exhibit.review_state != R.AWAITING:
        raise ValidationError(f"{exhibit.reference} has already been reviewed ({exhibit.get_review_state_display()}).")
    if decision == R.REJECTED and not reason.strip():
        raise ValidationError("Give the reason for rejecting the exhibit.")
    if decision == R.UNUSED:
        if schedule not in UnusedMaterial.Schedule.values:
            raise ValidationError("Choose the schedule: MG6C (non-sensitive) or MG6D (sensitive).")
        if schedule == UnusedMaterial.Schedule.MG6D and not reason.strip():
            raise ValidationError("MG6D needs the reason the material is sensitive.")
    action = {
        R.ACCEPTED: CustodyEvent.Action.ACCEPTED,
        R.REJECTED: CustodyEvent.Action.REJECTED,
        R.UNUSED: CustodyEvent.Action.MARKED_UNUSED,
    }[decision]
    with transaction.atomic():
        Exhibit.objects.filter(pk=exhibit.pk).update(
            review_state=decision, review_reason=reason, reviewed_by=by, reviewed_at=timezone.now()
        )
        if decision == R.UNUSED:
            UnusedMaterial.objects.create(
                tasking=exhibit.tasking,
                exhibit=exhibit,
                schedule=schedule,
                description=unused_description or exhibit.description,
                reason=reason,
                by=by,
            )
        custody_append(exhibit=exhibit, action=action, actor=by, detail={"reason": reason, "schedule": schedule})
        audit_record(
            action="evidence.exhibit_review",
            actor=by,
            obj=exhibit.tasking,
            detail={"exhibit": exhibit.reference, "decision": decision},
        )
    exhibit.refresh_from_db()
    return exhibit


def exhibit_set_quarantine(*, exhibit: Exhibit, quarantined: bool, by: User, reason: str) -> Exhibit:
    if not reason.strip():
        raise ValidationError("Record why the sensitivity changed.")
    with transaction.atomic():
        Exhibit.objects.filter(pk=exhibit.pk).update(quarantined=quarantined)
        custody_append(
            exhibit=exhibit,
            action=CustodyEvent.Action.SENSITIVITY_CHANGED,
            actor=by,
            detail={"quarantined": quarantined, "reason": reason},
        )
        audit_record(
            action="evidence.exhibit_sensitivity",
            actor=by,
            obj=exhibit.tasking,
            detail={"exhibit": exhibit.reference, "quarantined": quarantined},
        )
    exhibit.refresh_from_db()
    return exhibit


SAFEGUARDING_NOTE_MAX = 10_000


def safeguarding_raise(*, tasking: Tasking, by: User, note: str = "", alert_url: str = ""):
    """One button for the volunteer: the handler and controller are e-mailed at once (on commit)."""
    from django.core.mail import send_mail

    from evidence.models import SafeguardingAlert

    # Assignment is recorded as the guardian grant; the same fact the one rule reads.
    if not holds_object_perm(by, SUBMIT, tasking):
        raise PermissionDenied("Only a volunteer assigned to this tasking can raise its alert.")
    # An alert about a child is never lost to its note: what cannot be stored is removed, an overlong note
    # is kept to its first SAFEGUARDING_NOTE_MAX characters, and the alert says so (alert.note_changes).
    note, removed = without_unstorable(note)
    changes = []
    if removed:
        what = "a hidden character" if removed == 1 else f"{removed} hidden characters"
        changes.append(f"{what} that could not be stored {'was' if removed == 1 else 'were'} removed")
    if len(note) > SAFEGUARDING_NOTE_MAX:
        changes.append(f"only the first {SAFEGUARDING_NOTE_MAX:,} of {len(note):,} characters were kept")
        note = note[:SAFEGUARDING_NOTE_MAX]
    with transaction.atomic():
        alert = SafeguardingAlert.objects.create(tasking=tasking, raised_by=by, note=note)
        alert.note_changes = changes
        audit_record(action="evidence.safeguarding_raise", actor=by, obj=tasking, detail={"alert": alert.pk})
        recipients = sorted({tasking.handler.email, tasking.controller.email})
        transaction.on_commit(
            lambda: send_mail(
                subject=f"URGENT: a real child may be at risk — tasking {tasking.reference}",
                message=(
                    f"{by.get_full_name()} raised a safeguarding alert on tasking {tasking.reference} at "
                    f"{timezone.localtime(alert.raised_at):%H:%M on %-d %B %Y}.\n\n"
                    f"Their note: {note or '(none)'}\n\nAcknowledge it in the portal now: {alert_url}\n"
                    "If a child is in immediate danger, follow your force's emergency procedure."
                ),
                from_email=None,
                recipient_list=recipients,
            )
        )
    return alert


def safeguarding_acknowledge(*, alert, by: User):
    if alert.acknowledged_at:
        raise ValidationError("This alert has already been acknowledged.")
    if not may_acknowledge_alert(by, alert):
        raise PermissionDenied("Only the tasking's officers can acknowledge its alert.")
    with transaction.atomic():
        alert.acknowledged_at = timezone.now()
        alert.acknowledged_by = by
        alert.save(update_fields=["acknowledged_at", "acknowledged_by"])
        audit_record(
            action="evidence.safeguarding_acknowledge",
            actor=by,
            obj=alert.tasking,
            detail={"alert": alert.pk, "seconds": int(alert.time_to_acknowledge.total_seconds())},
        )
    return alert


def taskings_freeze_lapsed() -> list[Tasking]:
    """Record what the policy already enforces: active taskings whose authorisation lapsed or was
    cancelled are suspended, and their handler and controller told. Idempotent (only active ones)."""
    from django.core.mail import send_mail

    frozen = []
    now = timezone.now()
    for tasking in Tasking.objects.filter(status=T.ACTIVE).select_related("authorisation", "handler", "controller"):
        problem = authorisation_problem(tasking.authorisation, now)
        if problem is None:
            continue
        with transaction.atomic():
            tasking_set_status(tasking=tasking, to=T.SUSPENDED, by=None, reason=problem.officer)
            recipients = sorted({tasking.handler.email, tasking.controller.email})
            transaction.on_commit(
                lambda t=tasking, p=problem, r=recipients: send_mail(
                    subject=f"Tasking {t.reference} suspended: its authorisation is no longer in force",
                    message=f"{p.officer}\n\nNo evidence can be submitted to {t.reference} until a current "
                    "authorisation is linked and the tasking is activated again.",
                    from_email=None,
                    recipient_list=r,
                )
            )
        frozen.append(tasking)
    return frozen


def note_add(*, tasking: Tasking, author: User, text: str):
    """A contemporaneous note: the server's clock stamps it; it is never edited afterwards."""
    from evidence.models import ContemporaneousNote

    if not text.strip():
        raise ValidationError("Write the note before adding it.")
    require_storable(text, what="The note")
    decision = submission_decision(user=author, tasking=tasking)
    if not decision.allowed:
        raise SubmissionRefused(decision)
    with transaction.atomic():
        note = ContemporaneousNote.objects.create(tasking=tasking, author=author, text=text)
        audit_record(action="evidence.note_add", actor=author, obj=tasking, detail={"note": note.pk})
    return note


def bundle_share(*, bundle, recipient: User, until: datetime, by: User, parts: str = "served"):
    """Share a ready bundle with a court / CPS recipient until a date (audited as a disclosure): the served
    bundle only (court, defence), or with its sensitive part too (CPS)."""
    from evidence.models import BundleShare, HandoverBundle
    from portal import roles

    if not may_share_bundle(by, bundle):
        raise PermissionDenied("Only a supervising officer of the bundle's scheme can share it.")
    if bundle.state != HandoverBundle.State.READY:
        raise ValidationError("Only a finished bundle can be shared.")
    if bundle.files_withdrawn_at is not None:
        raise ValidationError(
            f"Version {bundle.version} of the bundle for {bundle.tasking.reference} cannot be shared: its files were "
            "withdrawn because an exhibit it held was disposed of."
        )
    if not roles.has_role(recipient, roles.COURT):
        raise ValidationError("Bundles are shared only with court or CPS recipients.")
    if until <= timezone.now():
        raise ValidationError("Choose a date in the future for the share to end.")
    if parts not in BundleShare.Parts.values:
        raise ValidationError("Choose what the recipient gets: the served bundle only, or both parts (CPS only).")
    refusal = sensitive_part_refusal(recipient, parts)
    if refusal:
        raise ValidationError(refusal)
    with transaction.atomic():
        share = BundleShare.objects.create(bundle=bundle, recipient=recipient, until=until, shared_by=by, parts=parts)
        grant("evidence.download_bundle", recipient, bundle)
        audit_record(
            action="evidence.bundle_share",
            actor=by,
            obj=bundle.tasking,
            detail={"bundle": bundle.pk, "recipient": recipient.email, "until": until.isoformat(), "parts": parts},
        )
        notify(
            user=recipient,
            subject=f"A handover bundle has been shared with you: {bundle.tasking.reference}",
            text=f"{bundle.tasking.scheme.name} has shared version {bundle.version} of the bundle for "
            f"{bundle.tasking.reference} with you until {timezone.localtime(until):%-d %B %Y, %H:%M} (UK time)"
            f"{', with its sensitive part for the CPS' if parts == BundleShare.Parts.BOTH else ''}. "
            "Sign in to download and verify it.",
            url=reverse("bundle_inbox"),
        )
    return share


def bundle_share_revoke(*, share, by: User):
    if not may_share_bundle(by, share.bundle):
        raise PermissionDenied("Only a supervising officer of the bundle's scheme can revoke its shares.")
    if share.revoked_at:
        raise ValidationError("This share is already revoked.")
    with transaction.atomic():
        share.revoked_at = timezone.now()
        share.revoked_by = by
        share.save(update_fields=["revoked_at", "revoked_by"])
        still_shared = share.bundle.shares.filter(recipient=share.recipient, revoked_at__isnull=True).exists()
        if not still_shared:
            revoke("evidence.download_bundle", share.recipient, share.bundle)
        audit_record(
            action="evidence.bundle_share_revoke",
            actor=by,
            obj=share.bundle.tasking,
            detail={"bundle": share.bundle_id, "recipient": share.recipient.email},
        )
    return share


def bundle_disclosed(*, bundle, to: User) -> None:
    """A court / CPS download is a disclosure (DPA 2018 s.62): each exhibit in it gets a custody event."""
    from portal import roles

    if not roles.has_role(to, roles.COURT):
        return  # officers of the scheme downloading their own bundle disclose nothing
    with transaction.atomic():
        for exhibit in bundle.tasking.exhibits.filter(review_state=Exhibit.Review.ACCEPTED):
            custody_append(
                exhibit=exhibit,
                action=CustodyEvent.Action.DISCLOSED,
                actor=to,
                detail={"bundle": bundle.pk, "version": bundle.version, "recipient": to.email},
            )
