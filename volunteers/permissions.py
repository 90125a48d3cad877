"""Who may see what of a volunteer's record. Welfare detail is a compartment of its own."""

from __future__ import annotations

from portal import roles
from portal.models import User


def is_welfare_officer(user: User) -> bool:
    return roles.has_role(user, roles.WELFARE)


def can_read_welfare_detail(user: User, scheme_id: int | None) -> bool:
    """Clinical notes, outcomes and stand-down details: welfare officers of that scheme only.

    A platform superuser reads them only if they also hold the welfare role (need to know).
    """
    if not user.is_authenticated or not user.is_active or not is_welfare_officer(user):
        return False
    if user.is_superuser and user.scheme_id is None:
        return True
    return scheme_id is not None and user.scheme_id == scheme_id


def can_manage_volunteers(user: User, scheme_id: int | None) -> bool:
    """Vetting, status and invitations: the scheme's supervising officers and administrators."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    if not (roles.has_role(user, roles.OFFICER) or roles.has_role(user, roles.SCHEME_ADMIN)):
        return False
    return scheme_id is not None and user.scheme_id == scheme_id
