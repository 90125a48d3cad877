"""The six roles, what each is called, whether it belongs to a scheme (or a force), and whether it must use MFA."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from portal.models import User


@dataclass(frozen=True)
class Role:
    code: str  # the Group name: stable, used in code and stored in audit rows
    label: str  # what people read
    has_scheme: bool
    requires_mfa: bool
    is_staff: bool  # works in the Django admin
    admin_permissions: tuple[str, ...] = ()  # "app_label.codename" model permissions for the admin
    has_force: bool = False  # belongs to a police force instead (deconfliction officers)


# What supervising officers (and scheme administrators) do to volunteers' records in the admin. Never
# the welfare models: officers see "not deployable on welfare grounds", not screening records.
OFFICER_VOLUNTEER_PERMISSIONS = (
    "volunteers.view_volunteer",
    "volunteers.change_volunteer",
    "volunteers.view_statuschange",
    "volunteers.view_invitation",
    "volunteers.add_invitation",
    "volunteers.view_vettingrecord",
    "volunteers.add_vettingrecord",
    "volunteers.change_vettingrecord",
    "volunteers.view_vettingcheck",
    "volunteers.add_vettingcheck",
    "volunteers.view_adverseinformation",
    "volunteers.add_adverseinformation",
    "volunteers.change_adverseinformation",
    "volunteers.view_integrityreview",
    "volunteers.add_integrityreview",
    "volunteers.view_codeofconduct",
    "training.view_module",
    "training.view_moduleversion",
    "training.view_certificate",
    "training.change_certificate",
    "training.view_attempt",
    "training.view_attemptreset",
    "training.add_attemptreset",
)

# What only supervising officers do: evidence — authorisations, taskings, review, bundles and sharing. A scheme
# administrator manages the scheme (its people, roles and settings), not its evidence (DESIGN.md).
OFFICER_EVIDENCE_PERMISSIONS = (
    "evidence.view_authorisation",
    "evidence.add_authorisation",
    "evidence.change_authorisation",
    "evidence.view_tasking",
    "evidence.add_tasking",
    "evidence.change_tasking",
    "evidence.view_assignment",
    "evidence.view_exhibit",
    "evidence.view_custodyevent",
    "evidence.review_exhibit",
    "evidence.view_unusedmaterial",
    "evidence.view_safeguardingalert",
    "evidence.view_handoverbundle",
    "evidence.view_bundleshare",
    "evidence.add_bundleshare",
    "evidence.view_bundleaccess",
    # Retention: a case's outcome and legal holds (retention/policy.py decides each one).
    "retention.view_caseoutcome",
    "retention.add_caseoutcome",
    "retention.change_caseoutcome",
    "retention.view_legalhold",
    "retention.add_legalhold",
    "retention.change_legalhold",
    "retention.view_schemeretention",
    # Disposal: proposed by one officer, approved by another (retention/policy.py).
    "retention.view_disposalproposal",
    "retention.add_disposalproposal",
    "retention.approve_disposal",
    "retention.view_tombstone",
    # People's records after they leave: vetting and training (retention/policy.py; welfare is the welfare team's).
    "retention.view_persondisposalproposal",
    "retention.add_persondisposalproposal",
    "retention.approve_person_disposal",
    "retention.view_persontombstone",
)

VOLUNTEER = Role("volunteer", "Volunteer", has_scheme=True, requires_mfa=False, is_staff=False)
OFFICER = Role(
    "supervising_officer",
    "Supervising officer",
    has_scheme=True,
    requires_mfa=True,
    is_staff=True,
    admin_permissions=(
        "portal.view_user",
        "portal.view_job",
        *OFFICER_VOLUNTEER_PERMISSIONS,
        *OFFICER_EVIDENCE_PERMISSIONS,
    ),
)
WELFARE = Role(
    "welfare_officer",
    "Welfare officer",
    has_scheme=True,
    requires_mfa=True,
    is_staff=True,
    admin_permissions=(
        "volunteers.view_screeningrecord",
        "volunteers.add_screeningrecord",
        "volunteers.view_exposureevent",
        "volunteers.add_exposureevent",
        "volunteers.view_standdown",
        "volunteers.view_screeningrequest",
        # Disposal of departed volunteers' welfare records, by two welfare officers (retention/policy.py).
        "retention.view_persondisposalproposal",
        "retention.add_persondisposalproposal",
        "retention.approve_person_disposal",
        "retention.view_persontombstone",
    ),
)
COURT = Role("court_recipient", "Court / CPS recipient", has_scheme=False, requires_mfa=True, is_staff=False)
SCHEME_ADMIN = Role(
    "scheme_administrator",
    "Scheme administrator",
    has_scheme=True,
    requires_mfa=True,
    is_staff=True,
    admin_permissions=(
        "portal.view_user",
        "portal.add_user",
        "portal.change_user",
        "portal.view_scheme",
        "portal.change_scheme",
        "portal.view_auditevent",
        "portal.view_job",
        *OFFICER_VOLUNTEER_PERMISSIONS,
        "volunteers.view_schemevolunteersettings",
        "volunteers.change_schemevolunteersettings",
        "volunteers.add_schemevolunteersettings",
        "retention.view_schemeretention",
        "retention.change_schemeretention",
        "retention.add_schemeretention",
    ),
)

# Keeps a force's register of identities of live police interest and agrees resolutions of matches against
# it; sees no scheme's evidence and no other force's register (DESIGN.md, Deconfliction).
DECONFLICTION = Role(
    "deconfliction_officer",
    "Deconfliction officer",
    has_scheme=False,
    requires_mfa=True,
    is_staff=False,
    has_force=True,
)

ALL_ROLES: tuple[Role, ...] = (VOLUNTEER, OFFICER, WELFARE, COURT, SCHEME_ADMIN, DECONFLICTION)
BY_CODE: dict[str, Role] = {role.code: role for role in ALL_ROLES}
SUPERUSER_LABEL = "Platform superuser"


def roles_of(user: User) -> list[Role]:
    """The user's roles, in the fixed order above; cached on the instance for the request."""
    cached = getattr(user, "_portal_roles", None)
    if cached is None:
        from portal.signed_in import roles_from_state

        cached = roles_from_state(user)  # read with the request's user (portal.signed_in)
        if cached is None:
            names = {group.name for group in user.groups.all()} if user.pk else set()
            cached = [role for role in ALL_ROLES if role.code in names]
        user._portal_roles = cached
    return cached


def has_role(user: User, role: Role) -> bool:
    return user.is_authenticated and role in roles_of(user)


def role_codes(user: User) -> str:
    """Stored by value in audit rows: the roles as they were at that moment."""
    codes = [role.code for role in roles_of(user)]
    if user.is_superuser:
        codes.insert(0, "superuser")
    return ",".join(codes) or "none"


def role_label(user: User) -> str:
    labels = [role.label for role in roles_of(user)]
    if user.is_superuser:
        labels.insert(0, SUPERUSER_LABEL)
    return ", ".join(labels) or "No role"


def requires_mfa(user: User) -> bool:
    return user.is_authenticated and (user.is_superuser or any(role.requires_mfa for role in roles_of(user)))


def forget_roles(user: User) -> None:
    from portal.signed_in import forget_state

    if hasattr(user, "_portal_roles"):
        delattr(user, "_portal_roles")
    forget_state(user)


def sync_role_groups(apps=None) -> None:
    """Make each role's Group exist with exactly its admin permissions (idempotent).

    Called by the roles data migration (with the historical app registry) and after every migrate
    or flush, so the roles exist whatever state the database was left in.
    """
    from django.apps import apps as live_apps

    registry = apps or live_apps
    group_model = registry.get_model("auth", "Group")
    permission_model = registry.get_model("auth", "Permission")
    for role in ALL_ROLES:
        group, _ = group_model.objects.get_or_create(name=role.code)
        wanted = []
        for dotted in role.admin_permissions:
            app_label, codename = dotted.split(".")
            wanted.extend(permission_model.objects.filter(content_type__app_label=app_label, codename=codename))
        group.permissions.set(wanted)
