"""Demo data for `make demo`: one scheme and one person per role, privileged roles MFA-enrolled."""

from __future__ import annotations

from dataclasses import dataclass

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from allauth.mfa.utils import decrypt
from django.db import transaction

from portal import roles
from portal.accounts import user_create
from portal.models import Scheme, User

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
    """Create (or find) the demo scheme and people; safe to run again."""
    scheme, _ = Scheme.objects.get_or_create(code=DEMO_SCHEME["code"], defaults={"name": DEMO_SCHEME["name"]})
    logins = []
    for role, email, name in DEMO_PEOPLE:
        user = User.objects.filter(email=email).first()
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
    return logins
