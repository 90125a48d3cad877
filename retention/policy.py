"""Who may record a case's outcome and place or lift legal holds: the one place these questions are answered.

Both change when records may be disposed of, so both are the supervising officers' of the scheme the record
belongs to — the people who answer for its cases (DESIGN.md, "Who uses it"). Not a scheme administrator (who
manages the scheme, not its evidence), a welfare officer, a volunteer, a court recipient, another scheme's
officer, nor the platform's superuser (who belongs to no scheme). Views, admin and services all ask here.
"""

from __future__ import annotations

from portal import roles
from portal.models import User
from portal.permissions import scheme_id_of


def _officer_of(user: User, scheme_id: int | None) -> bool:
    return (
        user.is_authenticated
        and user.is_active
        and scheme_id is not None
        and roles.has_role(user, roles.OFFICER)
        and user.scheme_id == scheme_id
    )


def hold_scheme_id(target) -> int | None:
    """The scheme a hold on this tasking, exhibit or person belongs to (a person's own scheme)."""
    if isinstance(target, User):
        return target.scheme_id
    return scheme_id_of(target)


def may_record_outcome(user: User, tasking) -> bool:
    """Recording what became of a tasking's case (charged, convicted, no further action…)."""
    return _officer_of(user, tasking.scheme_id) and user.has_perm("retention.change_caseoutcome")


def _an_officer_with(user: User, permission: str) -> bool:
    return (
        user.is_authenticated and user.is_active and roles.has_role(user, roles.OFFICER) and user.has_perm(permission)
    )


def may_place_holds(user: User) -> bool:
    """Whether the person places legal holds at all (to offer the link); `may_place_hold` decides each one."""
    return _an_officer_with(user, "retention.add_legalhold")


def may_place_hold(user: User, target) -> bool:
    """A legal hold on a tasking, an exhibit or a person of the officer's own scheme."""
    return may_place_holds(user) and _officer_of(user, hold_scheme_id(target))


def may_lift_hold(user: User, hold) -> bool:
    """Lifting a hold lets disposal go ahead again: an officer of the hold's scheme, with a reason (the service)."""
    return _officer_of(user, hold.scheme_id) and user.has_perm("retention.change_legalhold")


def may_review_disposals(user: User) -> bool:
    """Whether the person sees the disposal review list at all: a supervising officer with the permission."""
    return _an_officer_with(user, "retention.add_disposalproposal")


def may_propose_disposal(user: User, exhibit) -> bool:
    """Proposing that an exhibit of the officer's own scheme be disposed of (the date and holds: the service)."""
    return may_review_disposals(user) and _officer_of(user, scheme_id_of(exhibit))


def may_approve_disposal(user: User, proposal) -> bool:
    """Approving a disposal: an officer of the exhibit's scheme with the approval permission, who did not
    propose it — disposal always takes two people."""
    return (
        _officer_of(user, scheme_id_of(proposal.exhibit))
        and user.has_perm("retention.approve_disposal")
        and user.pk != proposal.proposed_by_id
    )


# --- disposal of people's records after they leave -----------------------------------------------------------
#
# Vetting and training records are the supervising officers' (they vet and accredit, DESIGN.md "Who uses it").
# Welfare records are special category health data kept apart, on need-to-know (UK GDPR Art. 9; DOMAIN.md,
# "Welfare": "Results stay with occupational health and welfare"): only the scheme's welfare officers see that
# they are due for disposal, propose it and approve it — officers do not even see a welfare row. Two people
# always: the approver is never the proposer. Nobody else (administrators, volunteers, court users, other
# schemes, the platform's superuser) takes part.

PERSON_RECORD_KINDS = ("vetting", "training", "welfare")


def _role_for_records(kind: str) -> roles.Role:
    if kind not in PERSON_RECORD_KINDS:
        raise ValueError(f"Unknown kind of person's records: {kind}")
    return roles.WELFARE if kind == "welfare" else roles.OFFICER


def person_record_kinds_for(user: User) -> tuple[str, ...]:
    """The kinds of departed volunteers' records whose disposal this person reviews, proposes and approves."""
    if not (
        user.is_authenticated
        and user.is_active
        and user.scheme_id is not None
        and user.has_perm("retention.add_persondisposalproposal")
    ):
        return ()
    return tuple(kind for kind in PERSON_RECORD_KINDS if roles.has_role(user, _role_for_records(kind)))


def may_review_person_disposals(user: User) -> bool:
    """Whether the person sees the review list of people's records at all (each row: person_record_kinds_for)."""
    return bool(person_record_kinds_for(user))


def may_read_person_records(user: User, *, scheme_id: int | None, kind: str) -> bool:
    """Reading a proposal or tombstone of this kind of a person's records (and its certificate): the people who
    decide its disposal, in the person's scheme."""
    return scheme_id is not None and user.scheme_id == scheme_id and kind in person_record_kinds_for(user)


def may_propose_person_disposal(user: User, person: User, kind: str) -> bool:
    """Proposing that one kind of a departed volunteer's records be disposed of (the date and holds: the service)."""
    return may_read_person_records(user, scheme_id=person.scheme_id, kind=kind)


def may_approve_person_disposal(user: User, proposal) -> bool:
    """Approving it: someone of the scheme who decides that kind, with the approval permission, who did not
    propose it — disposal always takes two people."""
    return (
        may_read_person_records(user, scheme_id=proposal.scheme_id, kind=proposal.kind)
        and user.has_perm("retention.approve_person_disposal")
        and user.pk != proposal.proposed_by_id
    )
