"""The one rule: may this person create evidence for this tasking, now? A decision and its reasons.

Views, admin, commands and tasks all ask `submission_decision`; nothing else decides it. The
assignment is a guardian object permission (a fact); everything that depends on time or state —
the window, the authorisation, the tasking's status, deployability — is checked here at each call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from evidence.models import Authorisation, Tasking
from portal.models import User
from portal.permissions import objects_holding_perm
from volunteers.deployability import Audience, Deployability, deployability_for, uk_date
from volunteers.models import Volunteer

SUBMIT = "submit_evidence"


@dataclass(frozen=True)
class Reason:
    code: str
    volunteer: str
    officer: str


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reasons: list[Reason] = field(default_factory=list)
    until: datetime | None = None  # when the permission lapses by itself, if allowed

    @property
    def codes(self) -> list[str]:
        return [reason.code for reason in self.reasons]

    @property
    def audit_codes(self) -> list[str]:
        """The codes as an audit row may hold them: welfare reasons are one "welfare_grounds", since the
        audit log is read by people who must not learn a volunteer's health detail."""
        from volunteers.deployability import WELFARE_CODES

        welfare = {str(code) for code in WELFARE_CODES}
        return list(dict.fromkeys("welfare_grounds" if code in welfare else code for code in self.codes))

    def reasons_for(self, audience: Audience) -> list[str]:
        return [reason.officer if audience is Audience.OFFICER else reason.volunteer for reason in self.reasons]

    def headline(self) -> str:
        if self.allowed and self.until:
            return f"You can submit evidence until {timezone.localtime(self.until):%H:%M on %-d %B %Y}."
        return "You cannot submit evidence to this tasking now."


def authorisation_problem(authorisation: Authorisation, now: datetime) -> Reason | None:
    if authorisation.cancelled_at and authorisation.cancelled_at <= now:
        return Reason(
            "authorisation_cancelled",
            "The authorisation for this tasking has been cancelled.",
            f"Authorisation {authorisation.reference} was cancelled on {uk_date(authorisation.cancelled_at)}.",
        )
    if authorisation.granted_at > now:
        return Reason(
            "authorisation_not_started",
            "The authorisation for this tasking has not started yet.",
            f"Authorisation {authorisation.reference} starts on {uk_date(authorisation.granted_at)}.",
        )
    if authorisation.expires_at <= now:
        return Reason(
            "authorisation_expired",
            "The authorisation for this tasking has expired.",
            f"Authorisation {authorisation.reference} expired on {uk_date(authorisation.expires_at)}.",
        )
    return None


def tasking_problems(tasking: Tasking, now: datetime) -> list[Reason]:
    reasons = []
    if tasking.status == Tasking.Status.PAUSED:
        # A deconfliction match (evidence/deconfliction): the volunteer learns nothing that could reach the
        # person the tasking engages; the officer is sent to the match on the tasking's page.
        reasons.append(
            Reason(
                "tasking_paused",
                "This tasking is paused. Your supervising officer will contact you.",
                "Paused by a deconfliction match: its controller records the resolution on the tasking's page.",
            )
        )
    elif tasking.status != Tasking.Status.ACTIVE:
        label = tasking.get_status_display().lower()
        reasons.append(Reason(f"tasking_{tasking.status}", f"This tasking is {label}.", f"Tasking is {label}."))
    if now < tasking.window_start:
        when = f"{timezone.localtime(tasking.window_start):%H:%M on %-d %B %Y}"
        reasons.append(Reason("window_not_started", f"This tasking starts at {when}.", f"Window starts {when}."))
    elif now >= tasking.window_end:
        when = f"{timezone.localtime(tasking.window_end):%H:%M on %-d %B %Y}"
        reasons.append(Reason("window_ended", f"This tasking ended at {when}.", f"Window ended {when}."))
    problem = authorisation_problem(tasking.authorisation, now)
    if problem:
        reasons.append(problem)
    return reasons


def submission_decision(*, user: User, tasking: Tasking, at: datetime | None = None) -> Decision:
    return submission_decisions(user=user, taskings=[tasking], at=at)[tasking.pk]


def submission_decisions(
    *,
    user: User,
    taskings: list[Tasking],
    at: datetime | None = None,
    volunteer: Volunteer | None = None,
    deployability: Deployability | None = None,
) -> dict[int, Decision]:
    """The one rule for several of her taskings at once (a page listing them): the same decision each
    would get alone, with what belongs to her (the grants, her deployability) read once. Pass taskings
    with their authorisation loaded (select_related) to keep it at a fixed number of queries.

    A page that has just worked out her deployability to show it (her dashboard) passes it with her
    volunteer record, and the decisions are taken at the moment it was checked rather than asking again."""
    known = volunteer is not None and deployability is not None and volunteer.user_id == user.pk
    now = at or (deployability.checked_at if known else None) or timezone.now()
    held = objects_holding_perm(user, SUBMIT, taskings)
    if not known:
        volunteer = deployability = None
    officer_texts: list[str] = []
    if held:
        if not known:
            volunteer = Volunteer.objects.filter(user=user).select_related("scheme").first()
            deployability = deployability_for(volunteer, at=now) if volunteer is not None else None
        if deployability is not None:
            officer_texts = _officer_texts(deployability)
    decisions = {}
    for tasking in taskings:
        if tasking.pk not in held:
            decisions[tasking.pk] = Decision(
                False, [Reason("not_assigned", "You are not assigned to this tasking.", "Not assigned.")]
            )
            continue
        reasons = tasking_problems(tasking, now)
        if volunteer is None or volunteer.scheme_id != tasking.scheme_id:
            reasons.append(
                Reason("not_a_volunteer", "Only the scheme's volunteers submit evidence.", "Not a volunteer.")
            )
        else:
            reasons += [
                Reason(str(blocker.code), blocker.volunteer, text)
                for blocker, text in zip(deployability.blockers, officer_texts, strict=False)
            ]
        if reasons:
            decisions[tasking.pk] = Decision(False, reasons)
        else:
            decisions[tasking.pk] = Decision(True, [], min(tasking.window_end, tasking.authorisation.expires_at))
    return decisions


def _officer_texts(deployability) -> list[str]:
    # One officer line per blocker, welfare detail withheld (volunteers.deployability words it).
    from volunteers.deployability import WELFARE_CODES

    return [
        "Not deployable on welfare grounds." if blocker.code in WELFARE_CODES else blocker.officer
        for blocker in deployability.blockers
    ]


def content_decision(*, user: User, tasking: Tasking, at: datetime | None = None) -> Decision:
    """May a volunteer read what a tasking holds — its briefing and persona, and her own exhibits, notes
    and statements for it? Only while the one rule would let her work on it. A volunteer who has been
    unassigned, stood down, whose training lapsed or whose tasking ended keeps nothing of the operation:
    she is told its status and whom to contact. (Raising a safeguarding concern is never refused to
    anyone assigned: an alert about a child must not be lost.)"""
    return submission_decision(user=user, tasking=tasking, at=at)


def may_open_exhibit(user: User, exhibit) -> bool:
    """Who may view or download an exhibit's file. Quarantined material: only officers holding the
    specific permission — never the volunteer who captured it (s.46 SOA 2003 handling). The producer
    opens her own exhibits only while content_decision allows her the tasking."""
    from portal import roles

    if not user.is_authenticated or not user.is_active:
        return False
    officer = roles.has_role(user, roles.OFFICER) and user.scheme_id == exhibit.tasking.scheme_id
    if exhibit.quarantined:
        return officer and user.has_perm("evidence.open_quarantined")
    if officer and user.has_perm("evidence.view_exhibit"):
        return True
    return exhibit.producer_id == user.pk and content_decision(user=user, tasking=exhibit.tasking).allowed


def may_download_bundle(user: User, bundle, *, at: datetime | None = None) -> bool:
    """Officers of the bundle's scheme; court recipients holding the share's grant while it is in force."""
    return bundle_access(user, [bundle], at=at)[bundle.pk][0]


def bundle_access(user: User, bundles: list, *, at: datetime | None = None) -> dict[int, tuple[bool, bool]]:
    """For each bundle: (may download it, may download its sensitive part). The one rule for both, read for
    many bundles at once (the inbox) in a fixed number of queries; pass bundles with their tasking loaded.

    Officers of the bundle's scheme may download both parts of a ready bundle. A court or CPS recipient
    needs the bundle's grant and a share in force; the sensitive part also needs a share giving both parts
    and that the recipient is recorded as a CPS prosecutor (checked at every request)."""
    from evidence.models import BundleShare
    from portal import roles

    now = at or timezone.now()
    access = {bundle.pk: (False, False) for bundle in bundles}
    if not user.is_authenticated or not user.is_active:
        return access
    ready = [bundle for bundle in bundles if bundle.state == "ready"]
    officer = roles.has_role(user, roles.OFFICER)
    court = roles.has_role(user, roles.COURT)
    held = objects_holding_perm(user, "download_bundle", ready) if court and ready else set()
    shared: dict[int, set[str]] = {}
    for bundle_id, parts in BundleShare.objects.filter(
        bundle_id__in=held, recipient=user, revoked_at__isnull=True, until__gt=now
    ).values_list("bundle_id", "parts"):
        shared.setdefault(bundle_id, set()).add(parts)
    for bundle in ready:
        has_sensitive = bool(bundle.sensitive_pdf_name)
        if officer and user.scheme_id == bundle.tasking.scheme_id:
            access[bundle.pk] = (True, has_sensitive)
        elif bundle.pk in shared:
            sensitive = has_sensitive and receives_sensitive_parts(user) and BundleShare.Parts.BOTH in shared[bundle.pk]
            access[bundle.pk] = (True, sensitive)
    return access


def receives_sensitive_parts(person: User) -> bool:
    """A bundle's sensitive part goes to someone recorded as a CPS prosecutor, never to a court or the
    defence: the one test, for sharing and for every download."""
    return person.recipient_kind == User.RecipientKind.CPS


def sensitive_part_refusal(recipient: User, parts: str) -> str | None:
    """Why `recipient` may not be given these parts of a bundle, or None: the sensitive part goes to a
    recipient recorded as a CPS prosecutor, never to a court or the defence."""
    from evidence.models import BundleShare

    if parts != BundleShare.Parts.BOTH or receives_sensitive_parts(recipient):
        return None
    name = recipient.get_full_name() or recipient.email
    if recipient.recipient_kind:
        kind = {User.RecipientKind.COURT: "a court", User.RecipientKind.DEFENCE: "the defence"}[
            recipient.recipient_kind
        ]
        return (
            f"The sensitive part goes to a CPS prosecutor only: {name} receives bundles for {kind}. Share the "
            "served bundle only."
        )
    return (
        f"The sensitive part goes to a CPS prosecutor only: {name} is not recorded as one. Share the served bundle "
        "only, or ask a platform administrator to record them."
    )


def may_resolve_match(user: User, match) -> bool:
    """A deconfliction match on a tasking is resolved by that tasking's controller: the officer who answers
    for the operation (evidence/deconfliction/services.py)."""
    return user.is_authenticated and user.is_active and match.tasking.controller_id == user.pk


def may_keep_register(user: User, force) -> bool:
    """A force's register is kept (read, added to, withdrawn from) by that force's deconfliction officers,
    and by nobody else: not a scheme's officers, not another force's, not the platform's superusers."""
    from portal import roles

    return (
        user.is_authenticated
        and user.is_active
        and roles.has_role(user, roles.DECONFLICTION)
        and user.force_id is not None
        and user.force_id == force.pk
    )


def may_agree_match(user: User, match) -> bool:
    """The force's side of a match against its register is recorded by that force's deconfliction officers."""
    return match.register_entry_id is not None and may_keep_register(user, match.register_entry.force)


def may_export_deconfliction_set(user: User, scheme) -> bool:
    """A scheme's signed deconfliction set is exported by its supervising officers (the set names the exporter
    as its contact), or by a platform superuser on the command line."""
    from portal import roles

    if not (user.is_authenticated and user.is_active):
        return False
    return user.is_superuser or (roles.has_role(user, roles.OFFICER) and user.scheme_id == scheme.pk)


def may_exchange_with_partners(user: User) -> bool:
    """Pinning a partner installation's certificate and importing its sets is the platform superusers' work:
    what they trust decides what can pause any scheme's taskings."""
    return user.is_authenticated and user.is_active and user.is_superuser


def may_sign_schedules(user: User, tasking) -> bool:
    """The disclosure officer's act: a supervising officer of the tasking's scheme who may request its bundle."""
    return may_request_bundle(user, tasking)


def may_download_sensitive_part(user: User, bundle, *, at: datetime | None = None) -> bool:
    """The sensitive part (authorisation, persona and conduct, protected identities, MG6D): officers of the
    bundle's scheme, and a CPS recipient whose share in force gives both parts — never a court or defence
    recipient, whose share gives the served bundle only."""
    return bundle_access(user, [bundle], at=at)[bundle.pk][1]


def may_request_bundles(user: User) -> bool:
    """Supervising officers who may change taskings (the disclosure officer's task); scheme
    administrators manage the scheme, not its evidence."""
    from portal import roles

    return (
        user.is_authenticated
        and user.is_active
        and roles.has_role(user, roles.OFFICER)
        and user.has_perm("evidence.change_tasking")
    )


def may_request_bundle(user: User, tasking) -> bool:
    return may_request_bundles(user) and user.scheme_id == tasking.scheme_id


def may_follow_bundle(user: User, bundle) -> bool:
    """The build's progress, failure and retry: officers of the bundle's scheme."""
    from portal import roles

    return (
        user.is_authenticated
        and user.is_active
        and roles.has_role(user, roles.OFFICER)
        and user.scheme_id == bundle.tasking.scheme_id
    )


def may_share_bundle(user: User, bundle=None) -> bool:
    """Sharing a bundle with a court or CPS recipient is a disclosure: supervising officers of the bundle's
    scheme only (scheme administrators manage the scheme, not its evidence). Without a bundle: whether
    the person may share any at all."""
    from portal import roles

    if not (user.is_authenticated and user.is_active and roles.has_role(user, roles.OFFICER)):
        return False
    return bundle is None or user.scheme_id == bundle.tasking.scheme_id


def may_acknowledge_alert(user: User, alert=None) -> bool:
    """Acknowledging a safeguarding alert says a supervising officer has taken it on: the tasking's own
    handler or controller, or an officer of its scheme (a superuser too, for the platform). Without an
    alert: whether the person may acknowledge any at all."""
    from portal import roles

    if not (user.is_authenticated and user.is_active):
        return False
    if user.is_superuser:
        return True
    if not roles.has_role(user, roles.OFFICER):
        return False
    if alert is None:
        return True
    tasking = alert.tasking
    return user.pk in {tasking.handler_id, tasking.controller_id} or user.scheme_id == tasking.scheme_id


def may_verify_bundles(user: User) -> bool:
    """Who may check a bundle file on the verification page: the people bundles are made for or by —
    court / CPS recipients and supervising officers. What the page says about a particular bundle is
    still decided by may_download_bundle."""
    from portal import roles

    return (
        user.is_authenticated
        and user.is_active
        and (roles.has_role(user, roles.COURT) or roles.has_role(user, roles.OFFICER))
    )
