"""Demo data for `make demo`: one scheme and one person per role, privileged roles MFA-enrolled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from allauth.mfa.utils import decrypt
from django.db import transaction
from django.utils import timezone

from portal import roles
from portal.accounts import user_create
from portal.models import Scheme, User
from volunteers import conduct_text, services
from volunteers.models import CodeOfConduct, VettingCheck
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
    (roles.WELFARE, "wendy.welfare@demo.example", "Wendy Welfare"),
    (roles.COURT, "carla.court@demo.example", "Carla Court (CPS)"),
    (roles.SCHEME_ADMIN, "ada.admin@demo.example", "Ada Administrator"),
]


def demo_password(role: roles.Role) -> str:
    return f"demo-{role.code.replace('_', '-')}-2026"


@transaction.atomic
def demo_seed() -> list[DemoLogin]:
    """Create (or find) the demo scheme and people; safe to run again.

    Vera goes the whole way through the real services — invited by Owen, vetted, screened by Wendy,
    accredited — so her dashboard shows a deployable volunteer.
    """
    scheme, _ = Scheme.objects.get_or_create(code=DEMO_SCHEME["code"], defaults={"name": DEMO_SCHEME["name"]})
    if not CodeOfConduct.objects.exists():
        conduct_publish(title=conduct_text.TITLE, text=conduct_text.TEXT, by=None)
    logins = []
    for role, email, name in DEMO_PEOPLE:
        user = User.objects.filter(email=email).first()
        if user is None and role is roles.VOLUNTEER:
            continue  # created after the officers, through an invitation
        if user is None:
            user = user_create(
                email=email,
                full_name=name,
                role_codes=[role.code],
                scheme=scheme if role.has_scheme else None,
                password=demo_password(role),
            )
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
    volunteer_login = DemoLogin(roles.VOLUNTEER.label, DEMO_PEOPLE[0][1], demo_password(roles.VOLUNTEER), "")
    return [volunteer_login, *logins]


def _seed_volunteer(scheme: Scheme) -> None:
    email = DEMO_PEOPLE[0][1]
    if User.objects.filter(email=email).exists():
        return
    officer = User.objects.get(email=DEMO_PEOPLE[1][1])
    welfare = User.objects.get(email=DEMO_PEOPLE[2][1])
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
    """Vera takes each published module's assessment through the real services and answers correctly."""
    from training.models import Module
    from training.services import attempt_start, attempt_submit, current_version

    for module in Module.objects.all():
        version = current_version(module)
        if version is None:
            continue
        attempt = attempt_start(user=user, module=module)
        answers = {
            question.pk: [choice.pk for choice in question.choices.all() if choice.is_correct]
            for question in version.questions.prefetch_related("choices")
        }
        attempt_submit(attempt=attempt, answers=answers)
