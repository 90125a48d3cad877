"""Two-person disposal of one kind of a departed volunteer's records (vetting, training or welfare): the review
list, proposing, approving (after re-authentication, asked by the view), refusing or withdrawing.

The same shape as an exhibit's disposal (retention/disposal.py, ADR 0006) with one difference: here the unit is
database rows, not a stored file. Approval locks the person's row and re-asks `person_records_status`, so a hold
placed since the proposal wins; it deletes that kind's rows of that person (in an order their PROTECT foreign keys
allow), writes the tombstone, the lower apps' "disposed of" markers and the audit row in one transaction, then
removes the files those rows held (training certificates' PDFs) and issues the signed certificate. Kept: the
person's account and volunteer record (the evidence they produced is case material under the case's own rules),
and the status change recording that they left, which every kind's retention date counts from. ADR 0007.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count, Model
from django.utils import timezone

from portal.audit import audit_record
from portal.display import when
from portal.models import User
from portal.storage import delete_every_version
from portal.text import require_storable
from retention import rules
from retention.models import DisposalCertificate, LegalHold, PersonDisposalProposal, PersonTombstone
from retention.periods import periods_for
from retention.policy import may_approve_person_disposal, may_propose_person_disposal, person_record_kinds_for
from retention.selectors import LEFT, DisposalStatus, person_records_status
from training.models import Attempt, AttemptReset, Certificate, DisposedCertificate
from volunteers.models import (
    AdverseInformation,
    CodeOfConductAcceptance,
    ExposureEvent,
    IntegrityReview,
    RecordsDisposal,
    ScreeningRecord,
    ScreeningRequest,
    StandDown,
    StatusChange,
    VettingCheck,
    VettingRecord,
    Volunteer,
)

log = logging.getLogger(__name__)

# Each kind's models, in the order they are deleted (a row pointing at another with PROTECT goes first: a check
# before its vetting record, a certificate before its attempt, a screening request before the screening it
# produced), with the path from each to the person. Every model of PERSON_RECORDS is here (a test checks it).
# Each kind of a person's records: the models, the path from each to the person, and its words (one, many).
RECORD_MODELS: dict[str, tuple[tuple[type[Model], str, tuple[str, str]], ...]] = {
    "vetting": (
        (VettingCheck, "record__volunteer__user", ("vetting check", "vetting checks")),
        (VettingRecord, "volunteer__user", ("vetting record", "vetting records")),
        (AdverseInformation, "volunteer__user", ("adverse information review", "adverse information reviews")),
        (IntegrityReview, "volunteer__user", ("integrity review", "integrity reviews")),
        (
            StatusChange,
            "volunteer__user",
            (
                "status change (all but the one recording that they left)",
                "status changes (all but the one recording that they left)",
            ),
        ),
    ),
    "training": (
        (Certificate, "user", ("training certificate", "training certificates")),
        (Attempt, "user", ("training attempt", "training attempts")),
        (AttemptReset, "user", ("allowance of further attempts", "allowances of further attempts")),
        (CodeOfConductAcceptance, "user", ("acceptance of the code of conduct", "acceptances of the code of conduct")),
    ),
    "welfare": (
        (ScreeningRequest, "person", ("screening request", "screening requests")),
        (
            ScreeningRecord,
            "person",
            (
                "screening, with its clinical notes and restrictions",
                "screenings, with their clinical notes and restrictions",
            ),
        ),
        (ExposureEvent, "person", ("exposure record", "exposure records")),
        (StandDown, "person", ("stand-down", "stand-downs")),
    ),
}
KIND_WORDS = rules.RECORD_WORDS
KEPT = (
    "Kept: the person's account and volunteer record (the evidence, notes and statements they produced are case "
    "material, kept under the case's own retention rules), the status change recording the day they left (every "
    "kind of their records counts its retention from it), and this tombstone."
)


class PersonDisposalRefused(PermissionDenied):
    """The disposal may not go ahead (who is asking, the retention date, a hold, its state); the message says why."""


def _name(person: User) -> str:
    return person.get_full_name() or person.email


def _leaving_change_id(volunteer: Volunteer) -> int | None:
    """The status change recording that the volunteer left: the one `left_on` reads, so it is never disposed of."""
    return (
        StatusChange.objects.filter(volunteer=volunteer, to_status=volunteer.status)
        .order_by("-at", "-pk")
        .values_list("pk", flat=True)
        .first()
    )


def _rows(model: type[Model], path: str, person: User, keep: int | None):
    rows = model.objects.filter(**{path: person})
    if model is StatusChange and keep is not None:
        rows = rows.exclude(pk=keep)
    return rows


def records_held(person: User, kind: str) -> dict[str, int]:
    """How many rows of each model of this kind the portal holds about the person (the leaving status change not
    counted: it is kept)."""
    volunteer = Volunteer.objects.filter(user=person).first()
    keep = _leaving_change_id(volunteer) if volunteer is not None else None
    counts = {}
    for model, path, _ in RECORD_MODELS[kind]:
        count = _rows(model, path, person, keep).count()
        if count:
            counts[model._meta.label] = count
    return counts


def count_words(kind: str, label: str, count: int) -> str:
    """So many rows of one model of a kind of records, in words: "1 vetting record", "9 vetting checks"."""
    words = next((what for model, _, what in RECORD_MODELS[kind] if model._meta.label == label), None)
    if words is None:  # a model no longer listed: its own name
        return f"{count}: {label}"
    return f"{count} {words[0] if count == 1 else words[1]}"


def records_held_words(person: User, kind: str) -> list[str]:
    """`records_held` in words: "1 vetting record", "9 vetting checks"…"""
    return [count_words(kind, label, count) for label, count in records_held(person, kind).items()]


# --- the review list ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonCandidate:
    """One row of the people's review list: one kind of one departed volunteer's records, when and why it may go,
    how many records it covers, and its proposal if one awaits approval."""

    person: User
    kind: str
    status: DisposalStatus
    held: int
    proposal: PersonDisposalProposal | None

    @property
    def kind_words(self) -> str:
        return KIND_WORDS[self.kind]


def person_disposal_review(scheme_id: int, kinds: tuple[str, ...], *, today: date | None = None) -> list:
    """For the scheme's volunteers who have left, each kind (of `kinds`) of their records that may be disposed of
    now — past its date, no hold on the person, not disposed of already, some records still held — and any
    awaiting approval whatever it shows now; oldest date first. A fixed number of queries however many people:
    the answers are, row by row, those `person_records_status` gives alone (a test checks it)."""
    today = today or timezone.localdate()
    if not kinds:
        return []
    volunteers = list(
        Volunteer.objects.filter(scheme_id=scheme_id, status__in=LEFT).select_related("user", "scheme").order_by("pk")
    )
    if not volunteers:
        return []
    people = {volunteer.user_id: volunteer.user for volunteer in volunteers}
    # left_on of each: the latest change to the status they now hold.
    leaving: dict[int, date] = {}
    status_of = {volunteer.pk: volunteer.status for volunteer in volunteers}
    user_of = {volunteer.pk: volunteer.user_id for volunteer in volunteers}
    for volunteer_id, to_status, at in (
        StatusChange.objects.filter(volunteer_id__in=status_of, to_status__in=LEFT)
        .order_by("at", "pk")
        .values_list("volunteer_id", "to_status", "at")
    ):
        if to_status == status_of[volunteer_id]:
            leaving[user_of[volunteer_id]] = timezone.localdate(at)
    periods = periods_for(volunteers[0].scheme)
    holds: dict[int, list[LegalHold]] = defaultdict(list)
    for hold in (
        LegalHold.objects.filter(person_id__in=people, lifted_at__isnull=True)
        .select_related("person")
        .order_by("set_at", "pk")
    ):
        holds[hold.person_id].append(hold)
    awaiting = {
        (proposal.person_id, proposal.kind): proposal
        for proposal in PersonDisposalProposal.objects.filter(
            scheme_id=scheme_id, kind__in=kinds, state=PersonDisposalProposal.State.PROPOSED
        ).select_related("proposed_by")
    }
    disposed = set(PersonTombstone.objects.filter(person_id__in=people).values_list("person_id", "kind"))
    held: Counter = Counter()
    for kind in kinds:
        for model, path, _ in RECORD_MODELS[kind]:
            counts = model.objects.filter(**{f"{path}__in": list(people)}).values(path).annotate(n=Count("pk"))
            for row in counts:
                # The leaving status change is kept and does not count (one per person who left).
                extra = -1 if model is StatusChange and row[path] in leaving else 0
                held[(row[path], kind)] += row["n"] + extra
    found = []
    for user_id, person in people.items():
        for kind in kinds:
            retention = rules.person_retention(kind, leaving.get(user_id), periods)
            status = DisposalStatus(
                retention.earliest,
                retention.rule,
                retention.reason,
                retention.source,
                tuple(holds.get(user_id, ())),
                today,
            )
            proposal = awaiting.get((user_id, kind))
            if proposal is not None:
                proposal.person = person
            worth = status.may_dispose_now and held[(user_id, kind)] > 0 and (user_id, kind) not in disposed
            if worth or proposal is not None:
                found.append(PersonCandidate(person, kind, status, held[(user_id, kind)], proposal))
    return sorted(found, key=lambda row: (row.status.earliest or today, _name(row.person), row.kind))


# --- the services ------------------------------------------------------------------------------------------------


def _not_disposable(person: User, kind: str) -> str | None:
    words = f"The {KIND_WORDS[kind]} of {_name(person)}"
    done = PersonTombstone.objects.filter(person=person, kind=kind).first()
    if done is not None:
        return f"{words} were already disposed of on {when(done.disposed_at)}."
    status = person_records_status(person, kind)
    if not status.may_dispose_now:
        return f"{words} may not be disposed of now. {status.summary}"
    return None


def _action(kind: str, step: str) -> str:
    # Welfare records' steps are audited in the welfare compartment (portal.audit.welfare_rows): their detail is
    # for welfare staff only.
    return f"welfare.records_disposal_{step}" if kind == "welfare" else f"retention.person_disposal_{step}"


def person_disposal_propose(*, person: User, kind: str, by: User, reason: str) -> PersonDisposalProposal:
    """Propose disposing of one kind of a departed volunteer's records: refused unless the proposer may, and the
    retention date has passed with no hold standing. Another permitted person approves it."""
    if kind not in RECORD_MODELS:
        raise ValidationError({"kind": "Choose vetting, training or welfare records"})
    if not may_propose_person_disposal(by, person, kind):
        who = "welfare officer" if kind == "welfare" else "supervising officer"
        raise PersonDisposalRefused(f"Only a {who} of the person's scheme proposes disposing of their {kind} records.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": f"Enter why the {KIND_WORDS[kind]} should be disposed of now"})
    require_storable(reason, what="The reason")
    with transaction.atomic():
        person = User.objects.select_for_update().get(pk=person.pk)
        problem = _not_disposable(person, kind)
        if problem:
            raise PersonDisposalRefused(problem)
        if PersonDisposalProposal.objects.filter(person=person, kind=kind, state="proposed").exists():
            raise PersonDisposalRefused(
                f"The disposal of the {KIND_WORDS[kind]} of {_name(person)} is already awaiting approval."
            )
        status = person_records_status(person, kind)
        proposal = PersonDisposalProposal.objects.create(
            scheme_id=person.scheme_id,
            person=person,
            kind=kind,
            reason=reason,
            rule=status.rule,
            earliest=status.earliest,
            proposed_by=by,
        )
        audit_record(
            action=_action(kind, "propose"),
            actor=by,
            obj=proposal,
            detail={
                "person": person.email,
                "kind": kind,
                "reason": reason,
                "rule": status.rule,
                "earliest": str(status.earliest),
            },
        )
    return proposal


def person_disposal_approve(*, proposal: PersonDisposalProposal, by: User) -> PersonTombstone:
    """Approve a proposal and dispose of that kind of the person's records: a different permitted person (the view
    asks for the password again first). Refused if the records may no longer be disposed of."""
    if by.pk == proposal.proposed_by_id:
        raise PersonDisposalRefused(
            "Disposal needs two people: someone other than you must approve the disposal you proposed."
        )
    if not may_approve_person_disposal(by, proposal):
        raise PersonDisposalRefused("Only another person of the scheme, allowed to approve this disposal, may.")
    kind = proposal.kind
    with transaction.atomic():
        # The person's row is locked before the rules are asked again (hold_place locks it too): a hold wins.
        person = User.objects.select_for_update().get(pk=proposal.person_id)
        proposal = PersonDisposalProposal.objects.select_for_update().get(pk=proposal.pk)
        if proposal.state != PersonDisposalProposal.State.PROPOSED:
            raise PersonDisposalRefused(f"This proposal was already {proposal.get_state_display().lower()}.")
        problem = _not_disposable(person, kind)
        if problem:
            raise PersonDisposalRefused(problem)
        status = person_records_status(person, kind)
        volunteer = Volunteer.objects.select_for_update().get(user=person)
        keep = _leaving_change_id(volunteer)
        left = timezone.localdate(StatusChange.objects.get(pk=keep).at)
        counts: dict[str, int] = {}
        files: list[str] = []
        codes: list[str] = []
        lines = []
        for model, path, _words in RECORD_MODELS[kind]:
            rows = _rows(model, path, person, keep)
            if model is Certificate:
                for code, pdf_path in rows.values_list("code", "pdf_path"):
                    codes.append(code)
                    if pdf_path:
                        files.append(pdf_path)
            deleted, _ = rows.delete()
            if deleted:
                counts[model._meta.label] = deleted
                lines.append(count_words(kind, model._meta.label, deleted))
        now = timezone.now()
        # The dates the lower apps copy from these records for their lists go with them.
        if kind == "vetting":
            Volunteer.objects.filter(pk=volunteer.pk).update(current_clearance_expires=None, next_integrity_review=None)
        if kind == "welfare":
            User.objects.filter(pk=person.pk).update(next_screening_due=None)
        DisposedCertificate.objects.bulk_create(DisposedCertificate(code=code, disposed_at=now) for code in codes)
        RecordsDisposal.objects.create(person=person, scheme_id=proposal.scheme_id, kind=kind, disposed_at=now)
        removed = "; ".join(lines) if lines else "no records were held any more"
        stored = f" Their stored files: {len(files)} training certificate PDF(s)." if files else ""
        tombstone = PersonTombstone.objects.create(
            scheme_id=proposal.scheme_id,
            person=person,
            proposal=proposal,
            kind=kind,
            person_name=person.get_full_name(),
            person_email=person.email,
            counts=counts,
            files=files,
            what=f"The {KIND_WORDS[kind]} of {_name(person)}: {removed}.{stored} {KEPT}",
            disposed_at=now,
            proposed_by_id=proposal.proposed_by_id,
            approved_by=by,
            rule=status.rule,
            rule_reason=status.reason,
            legal_source=status.source,
            earliest=status.earliest,
            left_on=left,
        )
        proposal.state = PersonDisposalProposal.State.APPROVED
        proposal.decided_by = by
        proposal.decided_at = now
        proposal.save(update_fields=["state", "decided_by", "decided_at"])
        audit_record(
            action=_action(kind, "approve"),
            actor=by,
            obj=tombstone,
            detail={
                "person": person.email,
                "kind": kind,
                "counts": counts,
                "files": len(files),
                "proposal": proposal.pk,
                "rule": status.rule,
            },
        )
    # The files go last, once the tombstone stands: if storage fails here, complete_person_disposals removes them.
    person_disposal_remove_files(tombstone=tombstone)
    from retention.certificates import issue_disposal_certificate_quietly

    issue_disposal_certificate_quietly(tombstone)
    return tombstone


def person_disposal_remove_files(*, tombstone: PersonTombstone) -> int:
    """Remove the stored files a disposal of a person's records listed, every version of each (idempotent)."""
    removed = sum(delete_every_version(name, default_storage) for name in tombstone.files)
    if tombstone.files:
        audit_record(
            action=_action(tombstone.kind, "files_removed"),
            obj=tombstone,
            detail={"person": tombstone.person_email, "kind": tombstone.kind, "removed": removed},
        )
    return removed


def person_disposal_refuse(*, proposal: PersonDisposalProposal, by: User, note: str) -> PersonDisposalProposal:
    """Refuse a proposal (another person who may approve), or withdraw it (its proposer): it stays on the record."""
    withdrawing = by.pk == proposal.proposed_by_id
    if not withdrawing and not may_approve_person_disposal(by, proposal):
        raise PersonDisposalRefused("Only another person of the scheme, allowed to approve this disposal, may.")
    if withdrawing and not may_propose_person_disposal(by, proposal.person, proposal.kind):
        raise PersonDisposalRefused("You may no longer withdraw this proposal.")
    note = (note or "").strip()
    if not withdrawing and not note:
        # A refusal is a decision on the record: whoever reads it later must see why.
        raise ValidationError({"note": "Enter why you refuse this disposal"})
    require_storable(note, what="The note")
    with transaction.atomic():
        proposal = PersonDisposalProposal.objects.select_for_update().select_related("person").get(pk=proposal.pk)
        if proposal.state != PersonDisposalProposal.State.PROPOSED:
            raise PersonDisposalRefused(f"This proposal was already {proposal.get_state_display().lower()}.")
        proposal.state = PersonDisposalProposal.State.WITHDRAWN if withdrawing else PersonDisposalProposal.State.REFUSED
        proposal.decided_by = by
        proposal.decided_at = timezone.now()
        proposal.decision_note = note
        proposal.save(update_fields=["state", "decided_by", "decided_at", "decision_note"])
        audit_record(
            action=_action(proposal.kind, proposal.state),
            actor=by,
            obj=proposal,
            detail={"person": proposal.person.email, "kind": proposal.kind, "note": note},
        )
    return proposal


def complete_person_disposals() -> list[str]:
    """Finish every disposal of people's records left half-done after its commit: files still stored, or no signed
    certificate yet. Idempotent; one line per disposal it could not finish."""
    from retention.certificates import issue_disposal_certificate

    problems = []
    for tombstone in PersonTombstone.objects.filter(certificate__isnull=True).order_by("pk"):
        try:
            person_disposal_remove_files(tombstone=tombstone)
            issue_disposal_certificate(tombstone)
        except Exception as exc:  # each disposal is finished on its own; the rest go on
            message = " ".join(getattr(exc, "messages", None) or [str(exc)])
            log.warning("the disposal of %s's %s records is not finished: %s", tombstone.pk, tombstone.kind, message)
            whose = tombstone.person_name or tombstone.person_email
            problems.append(f"{tombstone.get_kind_display()} of {whose}: {message}")
    return problems


def person_disposals_verify() -> tuple[int, list[str]]:
    """For `verify_custody`: every disposal of people's records still holds — its signed certificate is stored
    and unchanged, the stored files it removed are gone, and no records of that kind are held of the person
    again. Returns how many were checked and a line for each that does not hold."""
    from evidence.custody import stored_file_problem

    checked, problems = 0, []
    for tombstone in PersonTombstone.objects.select_related("person").order_by("pk"):
        checked += 1
        whose = f"The {KIND_WORDS[tombstone.kind]} of {tombstone.person_name or tombstone.person_email}"
        certificate = DisposalCertificate.objects.filter(person_tombstone=tombstone).first()
        if certificate is None:
            problems.append(
                f"{whose}: disposed of, but the signed disposal certificate has not been issued "
                "(run `python manage.py complete_disposals`)"
            )
        elif problem := stored_file_problem(certificate.pdf_name, certificate.pdf_sha256):
            problems.append(f"{whose}: disposal certificate {certificate.number}: {problem}")
        left = [name for name in tombstone.files if default_storage.exists(name)]
        if left:
            problems.append(f"{whose}: disposed of, but {len(left)} of its stored files are still stored")
        held = records_held_words(tombstone.person, tombstone.kind)
        if held:
            problems.append(f"{whose}: disposed of, but records of that kind are held again: {'; '.join(held)}")
    return checked, problems


def people_to_review(user: User) -> tuple[list[PersonCandidate], list[PersonDisposalProposal]]:
    """For someone's home page and the welfare console: the rows of the people's review list they see, and the
    proposals on it they may approve (their own proposals are left out: a second person decides)."""
    kinds = person_record_kinds_for(user)
    rows = person_disposal_review(user.scheme_id, kinds) if kinds else []
    awaiting = [row.proposal for row in rows if row.proposal and may_approve_person_disposal(user, row.proposal)]
    return rows, awaiting
