"""Services that create people and change their roles; the rules of who belongs where live here."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction

from portal import roles
from portal.models import Scheme, User


def _check_scheme(role_set: Iterable[roles.Role], scheme: Scheme | None) -> None:
    role_set = list(role_set)
    needs = [role.label for role in role_set if role.has_scheme]
    never = [role.label for role in role_set if not role.has_scheme]
    if needs and never:
        raise ValidationError(
            f"{', '.join(never)} cannot be combined with {', '.join(needs)}: court recipients belong to no scheme."
        )
    if needs and scheme is None:
        raise ValidationError(f"A {needs[0].lower()} must belong to a scheme: choose one.")
    if never and scheme is not None:
        raise ValidationError(f"A {never[0].lower()} belongs to no scheme: leave the scheme empty.")


def user_set_roles(*, user: User, role_codes: Iterable[str], by: User | None = None) -> User:
    """Give the user exactly these roles; audited by the role-change receiver, row by row."""
    wanted = [roles.BY_CODE[code] for code in role_codes]
    _check_scheme(wanted, user.scheme)
    with transaction.atomic():
        before = set(roles.roles_of(user))
        groups = {group.name: group for group in Group.objects.filter(name__in=[r.code for r in roles.ALL_ROLES])}
        for role in before - set(wanted):
            user.groups.remove(groups[role.code])
        newly = [role for role in wanted if role not in before]
        for role in newly:
            user.groups.add(groups[role.code])
        roles.forget_roles(user)
        is_staff = user.is_superuser or any(role.is_staff for role in wanted)
        if user.is_staff != is_staff:
            user.is_staff = is_staff
            user.save(update_fields=["is_staff"])
        if roles.WELFARE in newly and user.scheme_id:
            transaction.on_commit(lambda: _notify_welfare_grant(user=user, by=by))
    return user


def _notify_welfare_grant(*, user: User, by: User | None) -> None:
    """Welfare data is special category: existing welfare officers learn of every new colleague."""
    colleagues = (
        User.objects.filter(scheme_id=user.scheme_id, groups__name=roles.WELFARE.code, is_active=True)
        .exclude(pk=user.pk)
        .values_list("email", flat=True)
    )
    recipients = sorted(set(colleagues))
    if not recipients:
        return
    granted_by = by.email if by else "the platform"
    send_mail(
        subject="A welfare officer role was granted in your scheme",
        message=(
            f"{user.get_full_name()} ({user.email}) was given the welfare officer role by {granted_by}.\n\n"
            "They can now read screening records and clinical notes for your scheme. If you did not "
            "expect this, contact your scheme administrator at once."
        ),
        from_email=None,
        recipient_list=recipients,
    )


def user_create(
    *,
    email: str,
    role_codes: Iterable[str],
    scheme: Scheme | None = None,
    full_name: str = "",
    password: str | None = None,
    by: User | None = None,
) -> User:
    role_codes = list(role_codes)
    _check_scheme([roles.BY_CODE[code] for code in role_codes], scheme)
    with transaction.atomic():
        user = User.objects.create_user(email=email, password=password, full_name=full_name, scheme=scheme)
        from allauth.account.models import EmailAddress

        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
        user_set_roles(user=user, role_codes=role_codes, by=by)
    return user
