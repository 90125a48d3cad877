"""Demo data for `make demo`: one scheme and one person per role (two supervising officers and two welfare officers:
disposal takes two), privileged roles MFA-enrolled, and — once Vera's training is passed — one active tasking whose
evidence is settled, ready for a handover bundle, and one closed case whose exhibits may be disposed of now; and a
volunteer who left long enough ago that her vetting, training and welfare records may be disposed of now."""

from __future__ import annotations

import io
import json
import secrets
import textwrap
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from allauth.mfa.utils import decrypt
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from evidence import services as evidence_services
from evidence.models import Authorisation, Exhibit, Tasking, UnusedMaterial
from evidence.statements import statement_save_draft, statement_sign
from portal import roles
from portal.accounts import user_create
from portal.audit import audit_record
from portal.models import Force, Scheme, User
from volunteers import conduct_text, services
from volunteers.deployability import Audience, deployability_for
from volunteers.models import CodeOfConduct, VettingCheck, Volunteer
from volunteers.services import conduct_publish

DEMO_SCHEME = {"name": "Demo Constabulary Volunteer Partnership", "code": "demo"}


@dataclass(frozen=True)
class DemoLogin:
    role: str
    email: str
    password: str
    totp_secret: str  # empty for volunteers, who do not need MFA


DEMO_PEOPLE = [
    (roles.VOLUNTEER, "vera.volunteer@demo.example", "Vera Volunteer"),
    (roles.OFFICER, "owen.officer@demo.example", "DS Owen Officer"),
    # A second officer of the scheme: one officer proposes a disposal, a different one approves it (ADR 0006).
    (roles.OFFICER, "olive.officer@demo.example", "DI Olive Officer"),
    (roles.WELFARE, "wendy.welfare@demo.example", "Wendy Welfare"),
    # A second welfare officer: welfare records are disposed of by one welfare officer and approved by another.
    (roles.WELFARE, "wyn.welfare@demo.example", "Wyn Welfare"),
    (roles.COURT, "carla.court@demo.example", "Carla Court (CPS)"),
    (roles.SCHEME_ADMIN, "ada.admin@demo.example", "Ada Administrator"),
    (roles.DECONFLICTION, "dora.deconfliction@demo.example", "DI Dora Deconfliction"),
]
DEMO_FORCE = "Demo Constabulary"
# On Dora's register: an officer who adds it to a tasking's identities sees the tasking pause at once.
DEMO_REGISTERED = "+44 7700 900777"
DECONFLICTION_TRY = (
    f"Deconfliction: {DEMO_REGISTERED} is on Dora's register (Demo Constabulary). As Owen, add it under "
    "'Add online identities this tasking targets' on a tasking's page: the tasking pauses, Owen is told to call "
    "Dora, and Dora sees the match under Deconfliction > Matches."
)


def demo_password(role: roles.Role) -> str:
    return f"demo-{role.code.replace('_', '-')}-2026"


def _first_of(role: roles.Role) -> User:
    """The demo's first person of the role (Owen, of the two officers)."""
    return User.objects.get(email=next(email for each, email, _ in DEMO_PEOPLE if each is role))


@transaction.atomic
def demo_seed() -> list[DemoLogin]:
    """Create (or find) the demo scheme and people; safe to run again.

    Vera goes the whole way through the real services — invited by Owen, vetted, screened by Wendy,
    accredited — so her dashboard shows a deployable volunteer.
    """
    scheme, _ = Scheme.objects.get_or_create(code=DEMO_SCHEME["code"], defaults={"name": DEMO_SCHEME["name"]})
    if not CodeOfConduct.objects.exists():
        conduct_publish(title=conduct_text.TITLE, text=conduct_text.TEXT, by=None)
    force, _ = Force.objects.get_or_create(name=DEMO_FORCE)
    logins = []
    for role, email, name in DEMO_PEOPLE:
        if role is roles.VOLUNTEER:
            continue  # created after the officers, through an invitation, and listed first below
        user = User.objects.filter(email=email).first()
        if user is None:
            user = user_create(
                email=email,
                full_name=name,
                role_codes=[role.code],
                scheme=scheme if role.has_scheme else None,
                force=force if role.has_force else None,
                password=demo_password(role),
            )
        if role is roles.COURT and not user.recipient_kind:
            user.recipient_kind = User.RecipientKind.CPS  # Carla may be given a bundle's sensitive part too
            user.save(update_fields=["recipient_kind"])
        secret = ""
        if role.requires_mfa:
            existing = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
            if existing is None:
                secret = generate_totp_secret()
                TOTP.activate(user, secret)
            else:
                secret = decrypt(existing.data["secret"])
        logins.append(DemoLogin(role.label, email, demo_password(role), secret))
    _seed_volunteer(scheme)
    _seed_register(force)
    volunteer_login = DemoLogin(roles.VOLUNTEER.label, DEMO_PEOPLE[0][1], demo_password(roles.VOLUNTEER), "")
    return [volunteer_login, *logins]


def _seed_register(force: Force) -> None:
    """One entry on Dora's register, entered through the real service (so it is matched as any other)."""
    from evidence.deconfliction.identifiers import identify
    from evidence.deconfliction.register import register_entry_add
    from evidence.models import RegisterEntry

    if RegisterEntry.objects.filter(force=force).exists():
        return
    dora = _first_of(roles.DECONFLICTION)
    today = timezone.localdate()
    register_entry_add(
        force=force,
        identifier=identify(DEMO_REGISTERED),
        reference="DC-NIGHTJAR",
        owner=dora,
        expires_on=today + timedelta(days=180),
        review_on=today + timedelta(days=60),
        by=dora,
    )


def _seed_volunteer(scheme: Scheme) -> None:
    email = DEMO_PEOPLE[0][1]
    existing = User.objects.filter(email=email).first()
    if existing is not None:
        _pass_published_modules(existing)  # modules published since she was seeded
        return
    officer = _first_of(roles.OFFICER)
    welfare = _first_of(roles.WELFARE)
    _, token = services.invitation_create(scheme=scheme, email=email, full_name=DEMO_PEOPLE[0][2], by=officer)
    volunteer = services.invitation_accept(
        token=token,
        full_name=DEMO_PEOPLE[0][2],
        password=demo_password(roles.VOLUNTEER),
        date_of_birth=date(1988, 6, 14),
        phone="07700 900001",
        address_history=[{"address": "12 Station Road, Demo Town", "from": "2016-04-01"}],
        accept_conduct_version=CodeOfConduct.objects.order_by("-version").first().version,
    )
    record = services.vetting_start(volunteer=volunteer, level="MV", by=officer)
    for kind in VettingCheck.Kind.values:
        notes = "Passport (Group 1), council tax bill, bank statement." if kind == VettingCheck.Kind.IDENTITY else ""
        services.vetting_record_check(record=record, kind=kind, result="satisfactory", notes=notes, by=officer)
    services.vetting_decide(record=record, outcome="cleared", reasons="All checks satisfactory.", by=officer)
    services.screening_record(
        person=volunteer.user,
        kind="pre_deployment",
        screened_on=timezone.localdate(),
        provider="Demo Occupational Health",
        outcome="fit",
        restrictions="",
        clinical_notes="Demo record: no concerns.",
        by=welfare,
    )
    services.volunteer_transition(volunteer=volunteer, to="accredited", by=officer, reason="Demo accreditation.")
    _pass_published_modules(volunteer.user)


def _pass_published_modules(user: User) -> None:
    """Vera takes each published module's assessment through the real services and answers correctly —
    only the modules she has not passed yet, so a curriculum published after her first seed is caught up."""
    from training.models import Module
    from training.selectors import module_states
    from training.services import attempt_start, attempt_submit, current_version

    passed = {state.module.pk for state in module_states(user) if state.counts}
    for module in Module.objects.all():
        version = current_version(module)
        if version is None or module.pk in passed:
            continue
        attempt = attempt_start(user=user, module=module)
        answers = {
            question.pk: [choice.pk for choice in question.choices.all() if choice.is_correct]
            for question in version.questions.prefetch_related("choices")
        }
        attempt_submit(attempt=attempt, answers=answers)


# --- evidence: one tasking ready for a handover bundle ----------------------------------------------

DEMO_TASKING = "OP-DEMO-1"
PLATFORM = "Chatterbox (fictional demo platform)"
PERSONA_HANDLE = "mia_x"
SUBJECT = "dave_77"
SUBJECT_URL = "https://chatterbox.example/u/dave_77"
TRY_BUNDLE = (
    f"Try: sign in as Owen, open Evidence > Taskings > {DEMO_TASKING} in the officer admin (/admin/), sign the "
    "MG6C and the MG6D under Disclosure schedules as disclosure officer (your password again), then press "
    "Request handover bundle; when it is ready, press Share with a court or CPS recipient and choose Carla; "
    "Carla finds it under Bundles shared with you and checks it under Verify a bundle."
)


@dataclass(frozen=True)
class DemoEvidence:
    tasking: Tasking | None
    created: bool
    message: str  # for the command's output, a line each: what to try, or why there is no demo evidence


def demo_seed_evidence() -> DemoEvidence:
    """Create (or find) tasking OP-DEMO-1 with Vera's reviewed exhibits and signed MG11, then the closed case
    OP-DEMO-2 whose exhibits may be disposed of now (`demo_seed_disposal`); then the volunteer who left, whose
    records may be disposed of now (`demo_seed_leaver`); safe to run again.

    Run after `demo_seed` has committed the people. Everything goes through the real services (the one
    rule included), each tasking in one transaction: either the whole tasking is there or none of it. The
    taskings are skipped, with the reason, while Vera is not deployable or no training curriculum is published —
    the demo's volunteer is tasked only once she has passed her training.
    """
    evidence = _seed_active_tasking()
    lines = [evidence.message]
    if evidence.tasking is not None:
        lines.append(demo_seed_disposal())
    lines.append(demo_seed_leaver())
    return DemoEvidence(evidence.tasking, evidence.created, "\n".join(lines))


def _seed_active_tasking() -> DemoEvidence:
    scheme = Scheme.objects.filter(code=DEMO_SCHEME["code"]).first()
    volunteer = Volunteer.objects.filter(user__email=DEMO_PEOPLE[0][1]).select_related("user").first()
    if scheme is None or volunteer is None:
        return DemoEvidence(None, False, "No demo evidence: the demo people have not been seeded.")
    existing = Tasking.objects.filter(scheme=scheme, reference=DEMO_TASKING).first()
    if existing is not None:
        return DemoEvidence(existing, False, TRY_BUNDLE)
    blocker = _evidence_blocker(volunteer)
    if blocker:
        return DemoEvidence(None, False, f"No demo evidence ({DEMO_TASKING} not created): {blocker}")
    officer = _first_of(roles.OFFICER)
    stored: list[str] = []  # files written to private storage, removed again if the transaction fails
    try:
        with transaction.atomic():
            Scheme.objects.select_for_update().get(pk=scheme.pk)  # two seeds at once: the second finds the first's
            existing = Tasking.objects.filter(scheme=scheme, reference=DEMO_TASKING).first()
            if existing is not None:
                return DemoEvidence(existing, False, TRY_BUNDLE)
            tasking = _seed_tasking(scheme, officer, volunteer.user)
            _seed_exhibits_and_statement(tasking, volunteer.user, officer, stored)
    except BaseException:
        from django.core.files.storage import default_storage

        for name in stored:
            default_storage.delete(name)
        raise
    return DemoEvidence(tasking, True, TRY_BUNDLE)


# --- disposal: a closed case past its retention date, for two officers to dispose of -----------------------

DISPOSAL_TASKING = "OP-DEMO-2"
DISPOSAL_SUBJECT = "lewis_b"
TRY_DISPOSAL = (
    f"Disposal: {DISPOSAL_TASKING} ended in no further action long enough ago that its exhibits may be disposed "
    "of now. Sign in as Owen and open /admin/retention/disposalproposal/review/: he has proposed disposing of "
    "VV/1 and may propose VV/2; then sign in as Olive, who approves (her password again) or refuses. Approval "
    "removes the content and keeps the exhibit's record, hash and custody history."
)


def demo_seed_disposal() -> str:
    """Create (or find) OP-DEMO-2: a tasking Vera worked months ago whose case ended in no further action, long
    enough ago that its two exhibits may be disposed of now, with Owen's proposal to dispose of the first awaiting
    a second officer. Nothing is disposed of. Returns the line to print: what to try, or why it is missing."""
    scheme = Scheme.objects.filter(code=DEMO_SCHEME["code"]).first()
    volunteer = Volunteer.objects.filter(user__email=DEMO_PEOPLE[0][1]).select_related("user").first()
    if scheme is None or volunteer is None:
        return "No disposal demo: the demo people have not been seeded."
    if Tasking.objects.filter(scheme=scheme, reference=DISPOSAL_TASKING).exists():
        return TRY_DISPOSAL
    blocker = _evidence_blocker(volunteer)
    if blocker:
        return f"No disposal demo ({DISPOSAL_TASKING} not created): {blocker}"
    officer = _first_of(roles.OFFICER)
    stored: list[str] = []  # files written to private storage, removed again if the transaction fails
    try:
        with transaction.atomic():
            Scheme.objects.select_for_update().get(pk=scheme.pk)  # two seeds at once: the second finds the first's
            if Tasking.objects.filter(scheme=scheme, reference=DISPOSAL_TASKING).exists():
                return TRY_DISPOSAL
            _seed_closed_case(scheme, officer, volunteer.user, stored)
    except BaseException:
        from django.core.files.storage import default_storage

        for name in stored:
            default_storage.delete(name)
        raise
    return TRY_DISPOSAL


def _seed_closed_case(scheme: Scheme, officer: User, volunteer: User, stored: list[str]) -> None:
    from dateutil.relativedelta import relativedelta

    from retention.disposal import disposal_propose
    from retention.periods import periods_for
    from retention.selectors import disposal_status
    from retention.services import outcome_record

    today = timezone.localdate()
    # Decided two months ago, plus whatever the platform or the scheme keeps case material beyond the CPIA minimum.
    decided_on = today - relativedelta(months=periods_for(scheme).case_extra_months) - timedelta(days=60)
    first_day, second_day = today - timedelta(days=140), today - timedelta(days=137)
    granted_at = _local(today - timedelta(days=151), 11, 0)
    authorisation = Authorisation.objects.create(
        scheme=scheme,
        kind=Authorisation.Kind.CHIS,
        reference=f"DCVP/CHIS/{granted_at:%Y}/009",
        authorising_officer="Det Supt Helen Marsh",
        authorising_rank="Detective Superintendent",
        urgent=False,
        granted_at=granted_at,
        expires_at=evidence_services.authorisation_default_expiry(kind="chis", granted_at=granted_at, urgent=False),
        review_dates=[(granted_at + relativedelta(months=n)).date().isoformat() for n in (1, 2, 3)],
        recorded_by=officer,
    )
    audit_record(
        action="admin.add", actor=officer, obj=authorisation, detail={"repr": str(authorisation)[:200], "via": "demo"}
    )
    tasking = Tasking.objects.create(
        scheme=scheme,
        reference=DISPOSAL_TASKING,
        title="Adult contact reported on Chatterbox: account lewis_b",
        objective=(
            f"Identify the user of the account {DISPOSAL_SUBJECT}, reported for messaging children on Chatterbox, "
            "and capture any offence under the Sexual Offences Act 2003."
        ),
        permitted_conduct=(
            "Use only the persona account mia_x. Respond to contact; never start a conversation, never raise a "
            "sexual topic, never suggest or agree a meeting, never send images."
        ),
        urn="42DT0000098",
        officer_in_case="DC 4521 Demo Officer",
        court="Demo Town Crown Court",
        platforms=PLATFORM,
        persona="'Mia', presents as 13, Year 8, lives near Demo Town with her mum; account mia_x since January.",
        persona_handles=PERSONA_HANDLE,
        # The one rule takes evidence only while a tasking is live, so its window runs to tomorrow until the
        # uploads below are in; the tasking is closed straight after them.
        window_start=_local(today - timedelta(days=150), 9, 0),
        window_end=timezone.now() + timedelta(days=1),
        authorisation=authorisation,
        handler=officer,
        controller=officer,
        created_by=officer,
    )
    audit_record(action="admin.add", actor=officer, obj=tasking, detail={"repr": str(tasking)[:200], "via": "demo"})
    evidence_services.tasking_set_status(
        tasking=tasking, to=Tasking.Status.ACTIVE, by=officer, reason="Authorisation granted; persona ready."
    )
    evidence_services.tasking_assign(tasking=tasking, volunteer=volunteer, by=officer)
    common = {
        "platform": PLATFORM,
        "other_party": f"{DISPOSAL_SUBJECT} (Chatterbox user ID 40233871)",
        "url": f"https://chatterbox.example/u/{DISPOSAL_SUBJECT}/chat",
        "capture_method": "Chatterbox's Export chat function, saved unaltered as plain text",
    }
    exhibits = [
        _submit(
            volunteer,
            tasking,
            stored,
            name=f"chatterbox-{DISPOSAL_SUBJECT}-{day:%Y%m%d}.txt",
            content="".join(f"[{at}] {who}: {text}\n" for at, who, text in lines).encode(),
            captured_at=_local(day, 20, 0),
            description=f"Transcript of the private Chatterbox chat between {PERSONA_HANDLE} and "
            f"{DISPOSAL_SUBJECT} on {day:%-d %B %Y}.",
            **common,
        )
        for day, lines in ((first_day, CLOSED_CASE_CHATS[0]), (second_day, CLOSED_CASE_CHATS[1]))
    ]
    for exhibit in exhibits:
        evidence_services.exhibit_review(exhibit=exhibit, decision=Exhibit.Review.ACCEPTED, reason="", by=officer)
    evidence_services.tasking_set_status(
        tasking=tasking, to=Tasking.Status.CLOSED, by=officer, reason="The account holder was identified."
    )
    outcome_record(
        tasking=tasking,
        by=officer,
        outcome="nfa",
        decided_on=decided_on,
        note=(
            f"{DISPOSAL_SUBJECT} was identified as a 15-year-old boy. No further action; referred to children's "
            "services."
        ),
    )
    for exhibit in exhibits:
        status = disposal_status(exhibit)
        if not status.may_dispose_now:  # the demo promises disposal: say why not rather than show an empty list
            raise RuntimeError(
                f"The demo's {exhibit.reference} of {DISPOSAL_TASKING} may not be disposed of: {status.summary}"
            )
    disposal_propose(
        exhibit=exhibits[0],
        by=officer,
        reason="No further action two months ago; no appeal, review or claim. Nothing to keep it for (DPA 2018 s.39).",
    )


CLOSED_CASE_CHATS = (
    [
        ("19:31", DISPOSAL_SUBJECT, "hey mia"),
        ("19:33", PERSONA_HANDLE, "hi who r u"),
        ("19:34", DISPOSAL_SUBJECT, "lewis. saw u in the quiz room"),
        ("19:35", DISPOSAL_SUBJECT, "how old r u"),
        ("19:36", PERSONA_HANDLE, "13"),
        ("19:37", DISPOSAL_SUBJECT, "18 lol. whats ur snap"),
        ("19:39", PERSONA_HANDLE, "not allowed it"),
        ("19:40", DISPOSAL_SUBJECT, "ok np"),
    ],
    [
        ("20:02", DISPOSAL_SUBJECT, "u on the quiz later"),
        ("20:04", PERSONA_HANDLE, "maybe"),
        ("20:05", DISPOSAL_SUBJECT, "my mate says i shouldnt talk to u"),
        ("20:06", DISPOSAL_SUBJECT, "im not really 18 im in year 10 haha"),
        ("20:07", PERSONA_HANDLE, "oh"),
        ("20:09", DISPOSAL_SUBJECT, "got to go, tea"),
    ],
)


# --- people's records: a volunteer who left long ago, for two people to dispose of her records ---------------------

LEAVER_EMAIL = "lena.leaver@demo.example"
LEAVER_NAME = "Lena Leaver"
TRY_PEOPLE_DISPOSAL = (
    f"People's records: {LEAVER_NAME} left the scheme long enough ago that her vetting, training and welfare records "
    "may be disposed of now. Owen has proposed disposing of her vetting records: sign in as Olive, open the admin "
    "home (/admin/) and approve it (her password again) or refuse it; the home's link to the review list of "
    "people's records lets either officer propose her training records too. Sign in as Wendy and propose disposing "
    "of her welfare records from the link on the welfare console (/welfare/); then sign in as Wyn, who approves it "
    "from the same link. Approval deletes that kind of her records and keeps her account, the day she left and a "
    "tombstone."
)


def demo_seed_leaver() -> str:
    """Create (or find) Lena Leaver: a volunteer of the demo scheme who was vetted by Owen, screened by Wendy and
    trained, then left long enough ago that each kind of her records may be disposed of now, with Owen's proposal
    to dispose of her vetting records awaiting a second officer. Nothing is disposed of. Returns the line to
    print: what to try, or why she is missing.

    Everything goes through the real services in one transaction, so either all of her is there or none of it.
    It writes no file itself: her certificates' PDFs are jobs, queued only once the transaction has committed."""
    from training.models import Module

    scheme = Scheme.objects.filter(code=DEMO_SCHEME["code"]).first()
    if scheme is None or not User.objects.filter(email=DEMO_PEOPLE[0][1]).exists():
        return "No people's records to dispose of in the demo: the demo people have not been seeded."
    if User.objects.filter(email=LEAVER_EMAIL).exists():
        return TRY_PEOPLE_DISPOSAL
    if not Module.objects.filter(versions__isnull=False).exists():
        return (
            f"No people's records to dispose of in the demo ({LEAVER_NAME} not created): no training curriculum is "
            "published; run `manage.py seed_curriculum`, then seed_demo again."
        )
    with transaction.atomic():
        Scheme.objects.select_for_update().get(pk=scheme.pk)  # two seeds at once: the second finds the first's
        if not User.objects.filter(email=LEAVER_EMAIL).exists():
            _seed_leaver(scheme)
    return TRY_PEOPLE_DISPOSAL


def _seed_leaver(scheme: Scheme) -> None:
    from dateutil.relativedelta import relativedelta

    from retention.periods import periods_for
    from retention.person_disposal import RECORD_MODELS, person_disposal_propose
    from retention.selectors import person_records_status

    officer, welfare = _first_of(roles.OFFICER), _first_of(roles.WELFARE)
    periods = periods_for(scheme)
    years = max(periods.years_for(kind) for kind in RECORD_MODELS)
    # She left a little over the longest retention period ago, after ten months in the scheme.
    left_at = _local(timezone.localdate() - relativedelta(years=years) - timedelta(days=45), 17, 0)
    joined_at = left_at - relativedelta(months=10)

    _, token = services.invitation_create(scheme=scheme, email=LEAVER_EMAIL, full_name=LEAVER_NAME, by=officer)
    volunteer = services.invitation_accept(
        token=token,
        full_name=LEAVER_NAME,
        password=secrets.token_urlsafe(32),  # made unusable below: nobody signs in as her
        date_of_birth=date(1979, 11, 2),
        phone="07700 900002",
        address_history=[{"address": "3 Mill Lane, Demo Town", "from": "2009-09-01"}],
        accept_conduct_version=CodeOfConduct.objects.order_by("-version").first().version,
    )
    volunteer.user.set_unusable_password()
    volunteer.user.save(update_fields=["password"])
    record = services.vetting_start(volunteer=volunteer, level="MV", by=officer)
    for kind in VettingCheck.Kind.values:
        notes = "Passport (Group 1), council tax bill, bank statement." if kind == VettingCheck.Kind.IDENTITY else ""
        services.vetting_record_check(record=record, kind=kind, result="satisfactory", notes=notes, by=officer)
    services.vetting_decide(record=record, outcome="cleared", reasons="All checks satisfactory.", by=officer)
    services.screening_record(
        person=volunteer.user,
        kind="pre_deployment",
        screened_on=timezone.localdate(joined_at),
        provider="Demo Occupational Health",
        outcome="fit",
        restrictions="",
        clinical_notes="Demo record: no concerns.",
        by=welfare,
    )
    _pass_published_modules(volunteer.user)
    services.volunteer_transition(volunteer=volunteer, to="accredited", by=officer, reason="Demo accreditation.")
    services.volunteer_transition(
        volunteer=volunteer, to="withdrawn", by=officer, reason="Moved away from Demo Town for work."
    )
    _backdate(volunteer, by=timezone.now() - joined_at, left_at=left_at)
    for kind in RECORD_MODELS:
        status = person_records_status(volunteer.user, kind)
        if not status.may_dispose_now:  # the demo promises disposal: say why not rather than show an empty list
            raise RuntimeError(f"{LEAVER_NAME}'s {kind} records in the demo may not be disposed of: {status.summary}")
    person_disposal_propose(
        person=volunteer.user,
        kind="vetting",
        by=officer,
        reason=(
            f"She left the scheme more than {periods.vetting_years} years ago and no complaint, claim or review "
            "involves her. Nothing to keep her vetting records for (DPA 2018 s.39)."
        ),
    )


def _backdate(volunteer: Volunteer, *, by: timedelta, left_at: datetime) -> None:
    """Move the leaver's story back in time: the services stamp each row with the moment it is written, but she was
    vetted, screened and trained when she joined, and left at `left_at` (the day her records' retention counts
    from). Only her own rows move; the audit log keeps the moments the demo wrote them."""
    from training.models import Attempt, Certificate
    from volunteers.models import CodeOfConductAcceptance, Invitation, ScreeningRecord, StatusChange, VettingRecord

    user = volunteer.user
    for rows, fields in (
        (User.objects.filter(pk=user.pk), ("date_joined",)),
        (Invitation.objects.filter(used_by=user), ("created_at", "expires_at", "used_at")),
        (Volunteer.objects.filter(pk=volunteer.pk), ("created_at", "applied_at", "accredited_at")),
        (StatusChange.objects.filter(volunteer=volunteer), ("at",)),
        (CodeOfConductAcceptance.objects.filter(user=user), ("accepted_at",)),
        (
            VettingRecord.objects.filter(volunteer=volunteer),
            ("started_at", "decided_at", "expires_at", "integrity_review_due"),
        ),
        (VettingCheck.objects.filter(record__volunteer=volunteer), ("done_at",)),
        (Attempt.objects.filter(user=user), ("started_at", "submitted_at")),
        (Certificate.objects.filter(user=user), ("passed_at", "expires_at")),
        (ScreeningRecord.objects.filter(person=user), ("recorded_at",)),
    ):
        rows.update(**{field: F(field) - by for field in fields})
    StatusChange.objects.filter(volunteer=volunteer, to_status="withdrawn").update(at=left_at)
    services.vetting_dates_refresh(Volunteer.objects.filter(pk=volunteer.pk))


def _evidence_blocker(volunteer: Volunteer) -> str:
    from training.models import Module

    if not Module.objects.filter(mandatory=True, versions__isnull=False).exists():
        return "no training curriculum is published; run `manage.py seed_curriculum`, then seed_demo again."
    deployability = deployability_for(volunteer)
    if not deployability.allowed:
        return f"{volunteer} is not deployable: {' '.join(deployability.reasons_for(Audience.OFFICER))}"
    return ""


def _local(day: date, hour: int, minute: int) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


def _seed_tasking(scheme: Scheme, officer: User, volunteer: User) -> Tasking:
    """What Owen records in the admin (there is no service for adding these), then the services."""
    from dateutil.relativedelta import relativedelta

    today = timezone.localdate()
    granted_at = _local(today - timedelta(days=15), 10, 30)
    authorisation = Authorisation.objects.create(
        scheme=scheme,
        kind=Authorisation.Kind.CHIS,
        reference=f"DCVP/CHIS/{granted_at:%Y}/017",
        authorising_officer="Det Supt Helen Marsh",
        authorising_rank="Detective Superintendent",
        urgent=False,
        granted_at=granted_at,
        expires_at=evidence_services.authorisation_default_expiry(kind="chis", granted_at=granted_at, urgent=False),
        review_dates=[(granted_at + relativedelta(months=n)).date().isoformat() for n in (1, 2, 3)],
        recorded_by=officer,
    )
    audit_record(
        action="admin.add", actor=officer, obj=authorisation, detail={"repr": str(authorisation)[:200], "via": "demo"}
    )
    tasking = Tasking.objects.create(
        scheme=scheme,
        reference=DEMO_TASKING,
        title="Online child sexual exploitation: adult contacting children on Chatterbox",
        objective=(
            "Gather evidence about the account dave_77, reported by a parent for contacting a 12-year-old "
            "on Chatterbox, asking her to keep their chats secret and offering gifts: identify the user and "
            "capture any offence under the Sexual Offences Act 2003 (ss.14, 15, 15A)."
        ),
        permitted_conduct=(
            "Use only the persona account mia_x. Respond to contact; never start a conversation, never raise a "
            "sexual topic, never suggest or agree a meeting, never send images. Capture every conversation "
            "in full and upload it the same day. Raise the safeguarding alert at once if a real child may be at "
            "risk."
        ),
        urn="42DT0000126",
        officer_in_case="DC 4521 Demo Officer",
        court="Demo Town Crown Court",
        platforms=PLATFORM,
        persona="'Mia', presents as 13, Year 8, lives near Demo Town with her mum; account mia_x since January.",
        persona_handles=PERSONA_HANDLE,
        window_start=_local(today - timedelta(days=14), 9, 0),
        window_end=_local(today + timedelta(days=28), 23, 0),
        authorisation=authorisation,
        handler=officer,
        controller=officer,
        created_by=officer,
    )
    audit_record(action="admin.add", actor=officer, obj=tasking, detail={"repr": str(tasking)[:200], "via": "demo"})
    evidence_services.tasking_set_status(
        tasking=tasking, to=Tasking.Status.ACTIVE, by=officer, reason="Authorisation granted; persona ready."
    )
    evidence_services.tasking_assign(tasking=tasking, volunteer=volunteer, by=officer)
    return tasking


def _submit(
    user: User, tasking: Tasking, stored: list[str], *, name: str, content: bytes, captured_at: datetime, **fields
) -> Exhibit:
    """Upload bytes the way the browser's upload does: spooled and hashed, sniffed, then promoted into
    the private storage by the service."""
    from django.core.files.storage import default_storage

    from evidence.sniff import sniff
    from evidence.uploads import discard, max_upload_bytes, promote, receive_stream, upload_temp_dir

    upload = receive_stream(
        io.BytesIO(content),
        declared_length=len(content),
        max_bytes=max_upload_bytes(),
        temp_dir=upload_temp_dir(),
        name=name,
    )

    def store(received, stored_name: str) -> None:
        stored.append(promote(received, storage=default_storage, name=stored_name))

    try:
        sniffed = sniff(upload.head, name_hint=name)
        if sniffed is None:
            raise ValueError(f"The demo file {name} is not an allowed exhibit type.")
        return evidence_services.exhibit_submit(
            user=user,
            tasking=tasking,
            upload=upload,
            sniffed_type=sniffed.mime,
            captured_at=captured_at,
            store=store,
            **fields,
        )
    finally:
        discard(upload)  # nothing is left behind if the service refused it


def _seed_exhibits_and_statement(tasking: Tasking, volunteer: User, officer: User, stored: list[str]) -> None:
    today = timezone.localdate()
    first_day, second_day, third_day = (today - timedelta(days=n) for n in (6, 3, 2))
    common = {"platform": PLATFORM, "other_party": f"{SUBJECT} (Chatterbox user ID 40871123)"}
    chat = _submit(
        volunteer,
        tasking,
        stored,
        name=f"chatterbox-{SUBJECT}-{first_day:%Y%m%d}.txt",
        content=_first_chat().encode(),
        captured_at=_local(first_day, 19, 50),
        description=(
            f"Transcript of the private Chatterbox chat between the persona account {PERSONA_HANDLE} and "
            f"{SUBJECT} on {first_day:%-d %B %Y}, 19:02 to 19:47: asks the persona's age, offers a secret phone, "
            "asks for the chat to be kept secret and deleted."
        ),
        url=f"{SUBJECT_URL}/chat",
        capture_method="Chatterbox's Export chat function, saved unaltered as plain text",
        **common,
    )
    export = _submit(
        volunteer,
        tasking,
        stored,
        name=f"chatterbox-export-{second_day:%Y%m%d}.json",
        content=_second_chat_export(second_day).encode(),
        captured_at=_local(second_day, 20, 25),
        description=(
            f"Chatterbox data export (JSON) of the private chat with {SUBJECT} on {second_day:%-d %B %Y}, "
            "20:01 to 20:19: proposes meeting the persona at Demo Town shopping centre on Saturday at 2pm and "
            "asks her to tell no one."
        ),
        url=f"{SUBJECT_URL}/chat",
        capture_method="Chatterbox's Download my data export (Settings > Privacy), downloaded unaltered",
        **common,
    )
    screenshot = _submit(
        volunteer,
        tasking,
        stored,
        name=f"screenshot-{second_day:%Y%m%d}-2014.png",
        content=_chat_screenshot(second_day),
        captured_at=_local(second_day, 20, 14),
        description=(
            f"Screenshot of the Chatterbox chat window at 20:14 on {second_day:%-d %B %Y}, showing the "
            f"username {SUBJECT} beside the message proposing a meeting by the fountain at 2pm on Saturday."
        ),
        url=f"{SUBJECT_URL}/chat",
        capture_method="a full-window screenshot on the scheme's capture laptop, saved unedited",
        **common,
    )
    recording = _submit(
        volunteer,
        tasking,
        stored,
        name=f"screen-recording-{second_day:%Y%m%d}-2030.mp4",
        content=_mp4_placeholder(),
        captured_at=_local(second_day, 20, 30),
        description=(
            f"Screen recording (2 min 10 s) scrolling through {SUBJECT}'s public Chatterbox profile: display "
            "name, stated age 19, profile photo and friends list. Demo data: the file holds an MP4 header only "
            "and does not play."
        ),
        url=SUBJECT_URL,
        capture_method="a screen recording with OBS Studio on the scheme's capture laptop",
        **common,
    )
    lookalike = _submit(
        volunteer,
        tasking,
        stored,
        name=f"screenshot-{third_day:%Y%m%d}-profile.png",
        content=_profile_screenshot(),
        captured_at=_local(third_day, 18, 40),
        description=(
            "Screenshot of the Chatterbox profile daveo_1977, found by searching for 'dave' near Demo Town while "
            f"checking whether {SUBJECT} uses a second account."
        ),
        url="https://chatterbox.example/u/daveo_1977",
        capture_method="a full-window screenshot on the scheme's capture laptop, saved unedited",
        platform=PLATFORM,
        other_party="daveo_1977 (Chatterbox user ID 39110457)",
    )
    produced = [chat, export, screenshot, recording]
    body = _statement_body(tasking, volunteer, produced, first_day, second_day)
    draft = statement_save_draft(
        tasking=tasking,
        author=volunteer,
        body=body.split("\n\nI uploaded")[0],  # a first draft, kept (CPIA) once the final text is saved
        exhibit_ids=[exhibit.pk for exhibit in produced],
    )
    statement = statement_save_draft(
        tasking=tasking, author=volunteer, body=body, exhibit_ids=[exhibit.pk for exhibit in produced], statement=draft
    )
    stored.append(statement_sign(statement=statement, by=volunteer).pdf_name)
    for exhibit in produced:
        evidence_services.exhibit_review(exhibit=exhibit, decision=Exhibit.Review.ACCEPTED, reason="", by=officer)
    evidence_services.exhibit_review(
        exhibit=lookalike,
        decision=Exhibit.Review.UNUSED,
        schedule=UnusedMaterial.Schedule.MG6C,
        reason=(
            f"Not relied on: nothing links daveo_1977 to {SUBJECT} (different stated age, area and photo). "
            "Retained; not sensitive."
        ),
        unused_description=f"Screenshot of the Chatterbox profile daveo_1977 ({lookalike.reference}), "
        f"captured {third_day:%-d %B %Y} while checking for a second account of {SUBJECT}.",
        by=officer,
    )


def _statement_body(
    tasking: Tasking, volunteer: User, produced: list[Exhibit], first_day: date, second_day: date
) -> str:
    chat, export, screenshot, recording = (exhibit.reference for exhibit in produced)
    officer = tasking.handler.get_full_name()
    return (
        f"I am an accredited volunteer with the {tasking.scheme.name}. I make this statement about my work on "
        f"operation {tasking.reference}, to which I was assigned by {officer}.\n\n"
        f"From {timezone.localtime(tasking.window_start):%-d %B %Y} I operated the Chatterbox account "
        f"{PERSONA_HANDLE}, which presents as Mia, a 13-year-old girl living near Demo Town. I kept to the "
        "permitted conduct of the tasking: I did not start any conversation, raise any sexual topic, suggest "
        "meeting or send any image, and I answered only what I was asked.\n\n"
        f"On {first_day:%-d %B %Y} at 19:02 the account {SUBJECT} sent {PERSONA_HANDLE} a private message. "
        f"During the conversation, which ended at 19:47, {SUBJECT} asked Mia's age and was told she was 13, "
        "said she was mature for her age, offered to get her a phone her mother would not know about, and "
        "asked her to keep the chat secret and delete it. At 19:50 I saved the conversation with Chatterbox's "
        f"Export chat function without altering it. I produce this transcript as exhibit {chat}.\n\n"
        f"On {second_day:%-d %B %Y} between 20:01 and 20:19 {SUBJECT} messaged {PERSONA_HANDLE} again. He "
        "asked whether she had deleted their chat, proposed meeting her by the fountain at Demo Town shopping "
        "centre at 2pm on Saturday, told her to say she was at a friend's and to tell no one, and described "
        "the jacket he would wear. At 20:14 I took a screenshot of the chat window, which I produce as "
        f"exhibit {screenshot}. At 20:25 I downloaded Chatterbox's data export of the conversation, which I "
        f"produce as exhibit {export}. At 20:30 I recorded my screen while scrolling through {SUBJECT}'s "
        f"public profile, and I produce the recording as exhibit {recording}.\n\n"
        "I uploaded each file to the volunteer portal on the day I captured it, as it was saved, and the "
        "portal recorded its SHA-256 hash on receipt. I have not altered any of these exhibits."
    )


def _first_chat() -> str:
    lines = [
        ("19:02", SUBJECT, "hi"),
        ("19:02", PERSONA_HANDLE, "hi"),
        ("19:03", SUBJECT, "saw u in the gaming room, u like minecraft?"),
        ("19:03", PERSONA_HANDLE, "yeah its ok"),
        ("19:04", SUBJECT, "cool me too. how old r u"),
        ("19:05", PERSONA_HANDLE, "13"),
        ("19:05", PERSONA_HANDLE, "u?"),
        ("19:06", SUBJECT, "19 lol. ur really mature for 13"),
        ("19:06", PERSONA_HANDLE, "thanks i guess"),
        ("19:07", SUBJECT, "where u from"),
        ("19:08", PERSONA_HANDLE, "near demo town"),
        ("19:08", SUBJECT, "no way im not far from there"),
        ("19:09", SUBJECT, "what school u go to"),
        ("19:10", PERSONA_HANDLE, "not saying lol"),
        ("19:10", SUBJECT, "fair enough smart girl"),
        ("19:12", SUBJECT, "u got snap? this app is rubbish"),
        ("19:13", PERSONA_HANDLE, "my mum checks my phone"),
        ("19:13", SUBJECT, "she doesnt need to know about me"),
        ("19:14", SUBJECT, "she wouldnt get it, adults never do"),
        ("19:15", PERSONA_HANDLE, "i guess"),
        ("19:17", SUBJECT, "do u get on with ur mum"),
        ("19:18", PERSONA_HANDLE, "sometimes. shes always working"),
        ("19:18", SUBJECT, "that sucks. u can always talk to me"),
        ("19:19", SUBJECT, "im a good listener"),
        ("19:21", PERSONA_HANDLE, "ok"),
        ("19:23", SUBJECT, "u got a bf?"),
        ("19:24", PERSONA_HANDLE, "no"),
        ("19:24", SUBJECT, "good ;)"),
        ("19:25", SUBJECT, "boys ur age are immature anyway"),
        ("19:27", PERSONA_HANDLE, "haha maybe"),
        ("19:30", SUBJECT, "i could get u a new phone, one ur mum doesnt know about"),
        ("19:31", PERSONA_HANDLE, "why would u do that"),
        ("19:31", SUBJECT, "cos ur special. we could chat whenever then"),
        ("19:33", PERSONA_HANDLE, "idk"),
        ("19:34", SUBJECT, "think about it. our secret ok?"),
        ("19:35", PERSONA_HANDLE, "ok"),
        ("19:38", SUBJECT, "delete this chat after ok"),
        ("19:39", PERSONA_HANDLE, "why"),
        ("19:40", SUBJECT, "just in case ur mum looks"),
        ("19:44", SUBJECT, "gotta go. talk tmrw?"),
        ("19:45", PERSONA_HANDLE, "maybe"),
        ("19:47", SUBJECT, "night x"),
    ]
    return "".join(f"[{at}] {who}: {text}\n" for at, who, text in lines)


SECOND_CHAT = [
    ("20:01", SUBJECT, "hey u there"),
    ("20:03", PERSONA_HANDLE, "hi"),
    ("20:03", SUBJECT, "did u delete our chat like i said"),
    ("20:04", PERSONA_HANDLE, "yeah"),
    ("20:05", SUBJECT, "good girl"),
    ("20:07", SUBJECT, "been thinking about u all day"),
    ("20:09", PERSONA_HANDLE, "oh"),
    ("20:10", SUBJECT, "we should hang out for real. ill be at demo town shopping centre saturday"),
    ("20:11", PERSONA_HANDLE, "i dont know"),
    ("20:12", SUBJECT, "ill get u a milkshake and that phone. 2pm by the fountain"),
    ("20:13", PERSONA_HANDLE, "my mum might find out"),
    ("20:13", SUBJECT, "tell her ur at a friends. dont tell anyone about me"),
    ("20:15", PERSONA_HANDLE, "ok ill think about it"),
    ("20:16", SUBJECT, "ill wear my black north face jacket so u know its me"),
    ("20:18", SUBJECT, "promise u wont tell anyone"),
    ("20:19", PERSONA_HANDLE, "ok"),
]


def _second_chat_export(day: date) -> str:
    def stamp(at: str) -> str:
        hour, minute = (int(part) for part in at.split(":"))
        return _local(day, hour, minute).astimezone(UTC).isoformat().replace("+00:00", "Z")

    export = {
        "export": {"platform": "Chatterbox", "account": PERSONA_HANDLE, "format_version": 3},
        "conversation": {"id": "c-5521907", "participants": [PERSONA_HANDLE, SUBJECT], "type": "private"},
        "messages": [
            {"id": 7730114 + number, "timestamp": stamp(at), "sender": who, "text": text, "attachments": []}
            for number, (at, who, text) in enumerate(SECOND_CHAT)
        ],
    }
    return json.dumps(export, indent=2, ensure_ascii=False) + "\n"


def _mp4_placeholder() -> bytes:
    """An ISO base media file's boxes (ftyp, free, an empty mdat): typed as MP4, not a playable video."""
    ftyp = (24).to_bytes(4, "big") + b"ftypisom" + (512).to_bytes(4, "big") + b"isommp41"
    free = (8).to_bytes(4, "big") + b"free"
    mdat = (8 + 4096).to_bytes(4, "big") + b"mdat" + bytes(4096)
    return ftyp + free + mdat


def _png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _chat_screenshot(day: date) -> bytes:
    """A drawn mock of the chat window at 20:14 (Pillow), scrolled to the latest message as an app shows it."""
    from PIL import Image, ImageDraw, ImageFont

    width, height = 540, 760
    image = Image.new("RGB", (width, height), "#f3f2f1")
    draw = ImageDraw.Draw(image)
    font, small, bold = ImageFont.load_default(16), ImageFont.load_default(12), ImageFont.load_default(19)
    bubbles = []
    for at, who, text in SECOND_CHAT[:12]:  # up to 20:13: what was on screen at 20:14
        lines = textwrap.wrap(text, 30)
        text_width = max(int(draw.textlength(line, font=font)) for line in lines)
        bubbles.append((at, who == PERSONA_HANDLE, lines, 24 + max(text_width, 44), 30 + 20 * len(lines)))
    bottom = height - 66
    placed = []
    for bubble in reversed(bubbles):  # newest at the bottom; older ones scroll off the top
        if bottom < 110:
            break
        top = bottom - bubble[4]  # the oldest one shown may be cut off by the header, as on screen
        placed.append((top, bubble))
        bottom = top - 10
    for top, (at, mine, lines, box_width, box_height) in placed:
        left = width - box_width - 16 if mine else 16
        fill, ink, faint = ("#1d70b8", "white", "#dbe9f5") if mine else ("white", "#0b0c0c", "#6f777b")
        draw.rounded_rectangle((left, top, left + box_width, top + box_height), radius=12, fill=fill)
        for number, line in enumerate(lines):
            draw.text((left + 12, top + 8 + 20 * number), line, font=font, fill=ink)
        draw.text((left + box_width - 10, top + box_height - 4), at, font=small, fill=faint, anchor="rd")
    draw.rectangle((0, 0, width, 92), fill="#f3f2f1")
    draw.rectangle((0, 0, width, 64), fill="#4c2c92")
    draw.ellipse((14, 12, 54, 52), fill="#b1b4b6")
    draw.text((66, 10), SUBJECT, font=bold, fill="white")
    draw.text((66, 36), "Chatterbox · private chat · online", font=small, fill="#dcd3f0")
    draw.text((width // 2, 74), f"{day:%A %-d %B %Y}", font=small, fill="#505a5f", anchor="mt")
    draw.rectangle((0, height - 56, width, height), fill="white")
    draw.rounded_rectangle((12, height - 46, width - 12, height - 10), radius=18, outline="#b1b4b6")
    draw.text((28, height - 28), "Message…", font=font, fill="#6f777b", anchor="lm")
    return _png(image)


def _profile_screenshot() -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    width, height = 540, 420
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font, small, bold = ImageFont.load_default(16), ImageFont.load_default(12), ImageFont.load_default(22)
    draw.rectangle((0, 0, width, 48), fill="#4c2c92")
    draw.text((16, 24), "Chatterbox · profile", font=font, fill="white", anchor="lm")
    draw.ellipse((24, 72, 124, 172), fill="#b1b4b6")
    draw.text((144, 84), "daveo_1977", font=bold, fill="#0b0c0c")
    draw.text((144, 118), "Dave · 48 · Leeds", font=font, fill="#505a5f")
    draw.text((144, 144), "Joined March 2019 · 212 friends", font=small, fill="#505a5f")
    about = "Dad of two. Leeds United season ticket. Fishing at weekends. Here for the quiz rooms."
    for number, line in enumerate(textwrap.wrap(about, 52)):
        draw.text((24, 200 + 22 * number), line, font=font, fill="#0b0c0c")
    draw.rounded_rectangle((24, 300, 164, 340), radius=8, fill="#00703c")
    draw.text((94, 320), "Add friend", font=font, fill="white", anchor="mm")
    draw.text((24, 380), "chatterbox.example/u/daveo_1977", font=small, fill="#6f777b")
    return _png(image)
