"""Who may see what of a volunteer's record. Welfare detail is a compartment of its own."""

from __future__ import annotations

from portal import roles
from portal.models import User

# Who reads welfare detail is decided on the ground floor, where the audit log needs it too.
from portal.permissions import can_read_welfare_detail, is_welfare_officer  # noqa: F401


def can_manage_volunteers(user: User, scheme_id: int | None) -> bool:
    """Vetting, status and invitations: the scheme's supervising officers and administrators."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    if not (roles.has_role(user, roles.OFFICER) or roles.has_role(user, roles.SCHEME_ADMIN)):
        return False
    return scheme_id is not None and user.scheme_id == scheme_id
