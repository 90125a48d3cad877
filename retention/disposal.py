"""Two-person disposal of an exhibit's content: one officer proposes, a different one approves (after
re-authentication, asked by the view), and only while `selectors.disposal_status` says it may be disposed of now.

Approval re-asks `disposal_status` with the exhibit's row locked, so a hold placed since the proposal wins. It
writes the tombstone, the "disposed" custody event and the audit row in one transaction, then removes the content
from storage (every version of the object on a bucket). Nothing else in the portal deletes evidence content.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from evidence.custody import custody_append
from evidence.models import CustodyEvent, Exhibit
from portal.audit import audit_record
from portal.display import when
from portal.models import User
from portal.storage import delete_every_version
from portal.text import require_storable
from retention import rules
from retention.certificates import issue_disposal_certificate_quietly
from retention.models import DisposalProposal, Tombstone
from retention.policy import may_approve_disposal, may_propose_disposal
from retention.selectors import disposal_status

log = logging.getLogger(__name__)


class DisposalRefused(PermissionDenied):
    """The disposal may not go ahead (who is asking, the retention date, a hold, its state); the message says why."""


def _not_disposable(exhibit: Exhibit) -> str | None:
    if exhibit.disposed_at is not None:
        return f"Exhibit {exhibit.reference} was already disposed of on {when(exhibit.disposed_at)}."
    status = disposal_status(exhibit)
    if not status.may_dispose_now:
        return f"Exhibit {exhibit.reference} may not be disposed of now. {status.summary}"
    return None


def disposal_propose(*, exhibit: Exhibit, by: User, reason: str) -> DisposalProposal:
    """Propose disposing of an exhibit's content: refused unless the proposer may, and the retention date has
    passed with no hold standing. Another officer approves it (disposal_approve)."""
    if not may_propose_disposal(by, exhibit):
        raise DisposalRefused("Only a supervising officer of the exhibit's scheme proposes its disposal.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Enter why the exhibit should be disposed of now"})
    require_storable(reason, what="The reason")
    with transaction.atomic():
        exhibit = Exhibit.objects.select_for_update(of=("self",)).select_related("tasking").get(pk=exhibit.pk)
        problem = _not_disposable(exhibit)
        if problem:
            raise DisposalRefused(problem)
        if DisposalProposal.objects.filter(exhibit=exhibit, state=DisposalProposal.State.PROPOSED).exists():
            raise DisposalRefused(f"The disposal of exhibit {exhibit.reference} is already awaiting approval.")
        status = disposal_status(exhibit)
        proposal = DisposalProposal.objects.create(
            exhibit=exhibit, reason=reason, rule=status.rule, earliest=status.earliest, proposed_by=by
        )
        audit_record(
            action="retention.disposal_propose",
            actor=by,
            obj=proposal,
            detail={
                "exhibit": exhibit.reference,
                "reason": reason,
                "rule": status.rule,
                "earliest": str(status.earliest),
            },
        )
    return proposal


def disposal_approve(*, proposal: DisposalProposal, by: User) -> Tombstone:
    """Approve a proposal and dispose of the exhibit's content: a different officer, with the permission (the
    view asks for the password again first). Refused if the exhibit may no longer be disposed of."""
    if by.pk == proposal.proposed_by_id:
        raise DisposalRefused("Disposal needs two people: a different officer must approve the one you proposed.")
    if not may_approve_disposal(by, proposal):
        raise DisposalRefused("Only another supervising officer of the scheme, allowed to approve disposals, may.")
    with transaction.atomic():
        # The exhibit's row is locked before the rules are asked again: a hold placed meanwhile wins.
        exhibit = Exhibit.objects.select_for_update(of=("self",)).select_related("tasking").get(pk=proposal.exhibit_id)
        proposal = DisposalProposal.objects.select_for_update().get(pk=proposal.pk)
        if proposal.state != DisposalProposal.State.PROPOSED:
            raise DisposalRefused(f"This proposal was already {proposal.get_state_display().lower()}.")
        problem = _not_disposable(exhibit)
        if problem:
            raise DisposalRefused(problem)
        status = disposal_status(exhibit)
        now = timezone.now()
        tombstone = Tombstone.objects.create(
            exhibit=exhibit,
            proposal=proposal,
            reference=exhibit.reference,
            tasking_reference=exhibit.tasking.reference,
            sha256=exhibit.sha256,
            size=exhibit.size,
            what=(
                f"The stored content of exhibit {exhibit.reference} ({exhibit.original_name}, "
                f"{exhibit.sniffed_type}, {exhibit.size} bytes), every stored version of it. Its record, "
                "SHA-256 and custody chain are kept."
            ),
            disposed_at=now,
            proposed_by_id=proposal.proposed_by_id,
            approved_by=by,
            rule=status.rule,
            rule_reason=status.reason,
            legal_source=status.source,
            earliest=status.earliest,
        )
        custody_append(
            exhibit=exhibit,
            action=CustodyEvent.Action.DISPOSED,
            actor=by,
            detail={
                "sha256": exhibit.sha256,
                "size": exhibit.size,
                "tombstone": tombstone.pk,
                "proposal": proposal.pk,
                "proposed_by": proposal.proposed_by.email,
                "approved_by": by.email,
                "rule": status.rule,
                "reason": status.reason,
                "source": status.source,
                "earliest": rules.day(status.earliest),
            },
        )
        exhibit.disposed_at = now
        exhibit.save(update_fields=["disposed_at"])
        proposal.state = DisposalProposal.State.APPROVED
        proposal.decided_by = by
        proposal.decided_at = now
        proposal.save(update_fields=["state", "decided_by", "decided_at"])
        audit_record(
            action="retention.disposal_approve",
            actor=by,
            obj=tombstone,
            detail={
                "exhibit": exhibit.reference,
                "sha256": exhibit.sha256,
                "size": exhibit.size,
                "proposal": proposal.pk,
                "rule": status.rule,
            },
        )
    # The content goes last, once the tombstone stands: if storage fails here, verify_custody names the exhibit
    # ("disposed of, but its content is still stored") and disposal_remove_content can be run again.
    disposal_remove_content(exhibit=exhibit)
    # Then the signed certificate; if it cannot be issued now, complete_disposals issues it later.
    issue_disposal_certificate_quietly(tombstone)
    return tombstone


def disposal_remove_content(*, exhibit: Exhibit) -> int:
    """Remove a disposed exhibit's content from storage, every version of it, and with it every file of a bundle
    built before the disposal that holds the content (idempotent). Only for an exhibit whose disposal stands:
    nothing else removes evidence content."""
    from evidence.bundles.withdraw import withdraw_bundles_holding

    exhibit = Exhibit.objects.get(pk=exhibit.pk)
    if exhibit.disposed_at is None or not Tombstone.objects.filter(exhibit=exhibit).exists():
        raise DisposalRefused(f"Exhibit {exhibit.reference} has not been disposed of: its content stays.")
    removed = delete_every_version(exhibit.stored_name, default_storage)
    # Bundles hold copies (embedded natives, rendered pages, packaged natives): their files go too, their records stay.
    withdrawn = withdraw_bundles_holding(exhibit)
    log.info("disposal of %s removed %d stored objects or versions", exhibit.reference, removed)
    audit_record(
        action="retention.disposal_content_removed",
        obj=exhibit,
        detail={
            "exhibit": exhibit.reference,
            "removed": removed,
            "bundles_withdrawn": [f"{b.tasking.reference} v{b.version}" for b in withdrawn],
        },
    )
    return removed


def disposal_refuse(*, proposal: DisposalProposal, by: User, note: str) -> DisposalProposal:
    """Refuse a proposal (another officer who may approve), or withdraw it (its proposer): it stays on the record."""
    withdrawing = by.pk == proposal.proposed_by_id
    if not withdrawing and not may_approve_disposal(by, proposal):
        raise DisposalRefused("Only another supervising officer of the scheme, allowed to approve disposals, may.")
    if withdrawing and not may_propose_disposal(by, proposal.exhibit):
        raise DisposalRefused("Only a supervising officer of the exhibit's scheme withdraws its proposal.")
    note = (note or "").strip()
    if not withdrawing and not note:
        # A refusal is a decision on the record: whoever reads it later must see why.
        raise ValidationError({"note": "Enter why you refuse this disposal"})
    require_storable(note, what="The note")
    with transaction.atomic():
        proposal = DisposalProposal.objects.select_for_update().get(pk=proposal.pk)
        if proposal.state != DisposalProposal.State.PROPOSED:
            raise DisposalRefused(f"This proposal was already {proposal.get_state_display().lower()}.")
        proposal.state = DisposalProposal.State.WITHDRAWN if withdrawing else DisposalProposal.State.REFUSED
        proposal.decided_by = by
        proposal.decided_at = timezone.now()
        proposal.decision_note = note
        proposal.save(update_fields=["state", "decided_by", "decided_at", "decision_note"])
        audit_record(
            action=f"retention.disposal_{proposal.state}",
            actor=by,
            obj=proposal,
            detail={"exhibit": proposal.exhibit.reference, "note": note},
        )
    return proposal


def complete_disposals() -> list[str]:
    """Finish every disposal left half-done after its commit (exhibits', then people's records'): content or files
    still stored (storage failed), or no signed certificate yet (no signing key, or the time-stamping authority did
    not answer). Idempotent; run by `manage.py complete_disposals` and hourly by Celery beat. One line per
    disposal it could not finish."""
    from retention.certificates import issue_disposal_certificate

    problems = []
    for tombstone in Tombstone.objects.filter(certificate__isnull=True).select_related("exhibit").order_by("pk"):
        try:
            disposal_remove_content(exhibit=tombstone.exhibit)
            issue_disposal_certificate(tombstone)
        except Exception as exc:  # each disposal is finished on its own; the rest go on
            message = " ".join(getattr(exc, "messages", None) or [str(exc)])
            log.warning("the disposal of %s is not finished: %s", tombstone.reference, message)
            problems.append(f"{tombstone.reference}: {message}")
    from retention.person_disposal import complete_person_disposals

    return problems + complete_person_disposals()
