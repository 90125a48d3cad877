"""Services that create and invite people and change their roles; the rules of who belongs where live here."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from portal import roles
from portal.audit import audit_record
from portal.models import Force, Scheme, StaffInvitation, User


def _check_scheme(role_set: Iterable[roles.Role], scheme: Scheme | None, force: Force | None = None) -> None:
    """Where each role belongs: most roles to one scheme; court recipients to none; deconfliction officers
    to a police force, not a scheme. A person's roles must agree on where they belong."""
    role_set = list(role_set)
    needs = [role.label for role in role_set if role.has_scheme]
    never = [role.label for role in role_set if not role.has_scheme and not role.has_force]
    forces = [role.label for role in role_set if role.has_force]
    if forces and (needs or never):
        raise ValidationError(
            f"{forces[0]} cannot be combined with {', '.join(needs + never)}: a deconfliction officer belongs to a "
            "police force, not a scheme, and sees no scheme's evidence. Give these roles to separate accounts."
        )
    if needs and never:
        raise ValidationError(
            f"{', '.join(never)} cannot be combined with {', '.join(needs)}: court recipients belong to no scheme."
        )
    if needs and scheme is None:
        raise ValidationError(f"A {needs[0].lower()} must belong to a scheme: choose one.")
    if (never or forces) and scheme is not None:
        raise ValidationError(f"A {(never or forces)[0].lower()} belongs to no scheme: leave the scheme empty.")
    if forces and force is None:
        raise ValidationError("A deconfliction officer must belong to a police force: choose one.")
    if force is not None and not forces:
        raise ValidationError("Only a deconfliction officer belongs to a police force: leave the force empty.")


def user_set_roles(*, user: User, role_codes: Iterable[str], by: User | None = None) -> User:
    """Give the user exactly these roles; audited by the role-change receiver, row by row."""
    wanted = [roles.BY_CODE[code] for code in role_codes]
    _check_scheme(wanted, user.scheme, user.force)
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
    from portal.notifications import notify

    colleagues = (
        User.objects.filter(scheme_id=user.scheme_id, groups__name=roles.WELFARE.code, is_active=True)
        .exclude(pk=user.pk)
        .distinct()
        .order_by("email")
    )
    granted_by = by.email if by else "the platform"
    for colleague in colleagues:
        notify(
            user=colleague,
            subject="A welfare officer role was granted in your scheme",
            text=(
                f"{user.get_full_name()} ({user.email}) was given the welfare officer role by {granted_by}.\n\n"
                "They can now read screening records and clinical notes for your scheme. If you did not "
                "expect this, contact your scheme administrator at once."
            ),
        )


def user_create(
    *,
    email: str,
    role_codes: Iterable[str],
    scheme: Scheme | None = None,
    force: Force | None = None,
    full_name: str = "",
    password: str | None = None,
    by: User | None = None,
) -> User:
    role_codes = list(role_codes)
    _check_scheme([roles.BY_CODE[code] for code in role_codes], scheme, force)
    with transaction.atomic():
        user = User.objects.create_user(email=email, password=password, full_name=full_name, scheme=scheme, force=force)
        from allauth.account.models import EmailAddress

        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
        user_set_roles(user=user, role_codes=role_codes, by=by)
    return user


def email_address_verify(*, user: User) -> None:
    """The person has just proved they read mail at their address (an invitation link, a password reset):
    allauth records it verified and primary, which multi-factor set-up requires."""
    from allauth.account.models import EmailAddress

    # Unproved records of other addresses (a reset asked for at an old address) are not the account's address,
    # and allauth refuses MFA set-up while any unverified one remains.
    EmailAddress.objects.filter(user=user, verified=False).exclude(email__iexact=user.email).delete()
    address = EmailAddress.objects.filter(user=user, email__iexact=user.email).first()
    if address is None:
        address = EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    elif not (address.verified and address.primary):
        address.verified = True
        address.save(update_fields=["verified"])
        address.set_as_primary()


# --- staff invitations ------------------------------------------------------------------------------------
#
# Every staff account starts from an e-mailed single-use link: adding a person in the admin creates the
# account without a usable password and sends the link; setting a password through it proves the address,
# and multi-factor set-up follows. Volunteers have their own invitation, which collects what vetting needs.


class StaffInvitationUnusable(Exception):
    """A staff invitation link that cannot be used; `.reason` is "unknown", "used", "expired" or "revoked"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _hash_token(token: str) -> str:
    # Tokens we issue are URL-safe ASCII; any other text in a link hashes to nothing we issued.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def staff_invitation_refusal(*, by: User, scheme: Scheme | None, role_codes: Iterable[str]) -> str:
    """Why `by` may not invite a person with these roles into this scheme; empty if they may. Platform
    superusers invite anyone anywhere; scheme administrators invite staff of their own scheme only."""
    wanted = [roles.BY_CODE[code] for code in role_codes]
    if not any(role is not roles.VOLUNTEER for role in wanted):
        if roles.VOLUNTEER in wanted:
            return (
                "Volunteers join through a volunteer invitation (Invitations, under Volunteers), where they apply with "
                "the details vetting needs. Choose a staff role here, or send them a volunteer invitation."
            )
        return "Choose at least one role: the invitation tells them what they will do."
    if by.is_superuser:
        return ""
    if not roles.has_role(by, roles.SCHEME_ADMIN) or by.scheme_id is None:
        return "Only scheme administrators and platform administrators can invite staff."
    if any(not role.has_scheme for role in wanted):
        return (
            "Only platform administrators can invite court or CPS recipients and deconfliction officers: ask them "
            "to add this person."
        )
    if scheme is None or scheme.pk != by.scheme_id:
        return "You can invite people to your own scheme only."
    return ""


def may_manage_staff_invitation(by: User, user: User) -> bool:
    """Re-sending and withdrawing follow the rule for inviting: the same person could invite them again."""
    return not staff_invitation_refusal(by=by, scheme=user.scheme, role_codes=[r.code for r in roles.roles_of(user)])


def staff_invitation_pending(user: User) -> StaffInvitation | None:
    return user.staff_invitations.filter(used_at__isnull=True, revoked_at__isnull=True).order_by("-id").first()


def staff_invitation_create(*, user: User, by: User) -> tuple[StaffInvitation, str]:
    """Invite a member of staff, or give them a new link: any earlier unused link stops working at once.
    Returns the invitation and its one-time token (only the token's hash is stored); staff_invitation_send
    also e-mails it, which is what people use."""
    refusal = staff_invitation_refusal(
        by=by, scheme=user.scheme, role_codes=[role.code for role in roles.roles_of(user)]
    )
    if refusal:
        raise PermissionDenied(refusal)
    if user.has_usable_password():
        raise ValidationError(
            f"{user.email} has already set a password, so there is nothing to invite them to. If they cannot "
            "sign in, they can use “Forgot your password?” on the sign-in page."
        )
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        replaced = list(
            user.staff_invitations.filter(used_at__isnull=True, revoked_at__isnull=True).values_list("pk", flat=True)
        )
        StaffInvitation.objects.filter(pk__in=replaced).update(revoked_at=now, revoked_by=by)
        if not user.is_active:  # withdrawn before: inviting again gives the account back
            user.is_active = True
            user.save(update_fields=["is_active"])
        invitation = StaffInvitation.objects.create(
            user=user,
            email=user.email,
            token_hash=_hash_token(token),
            created_by=by,
            created_at=now,
            expires_at=now + timedelta(days=settings.PORTAL_INVITATION_DAYS),
        )
        audit_record(
            action="staff_invitation.send",
            actor=by,
            obj=invitation,
            scheme_id=user.scheme_id,
            detail={"email": user.email, "user": user.pk, "replaces": replaced},
        )
    return invitation, token


def staff_invitation_send(*, user: User, by: User) -> StaffInvitation:
    """Invite a member of staff (or send a new link) by e-mail, once the transaction commits."""
    from django.urls import reverse

    from portal.notifications import email_on_commit, portal_link

    with transaction.atomic():
        invitation, token = staff_invitation_create(user=user, by=by)
        email_on_commit(
            to=user.email,
            subject="Set up your Accredited Volunteer Portal account",
            text=_invitation_text(
                invitation=invitation, link=portal_link(reverse("staff_invitation_accept", args=[token]))
            ),
        )
    return invitation


def _invitation_text(*, invitation: StaffInvitation, link: str) -> str:
    user = invitation.user
    expires = f"{timezone.localtime(invitation.expires_at):%-d %B %Y, %H:%M}"
    role = roles.role_label(user) + (
        f", {user.scheme.name}" if user.scheme_id else f", {user.force.name}" if user.force_id else ""
    )
    inviter = invitation.created_by.get_full_name() if invitation.created_by else "The portal's administrators"
    greeting = f"Dear {user.full_name}," if user.full_name else "Hello,"
    return (
        f"{greeting}\n\n{inviter} has set up an account for you on the Accredited Volunteer Portal.\n"
        f"Your role: {role}.\n\n"
        f"Open this link to choose your password. It works once, until {expires} (UK time):\n{link}\n\n"
        "Straight after that you will set up a second way to sign in: an authenticator app on your phone, or a "
        "security key.\n\n"
        "If you were not expecting this email, you can ignore it: nobody can use the account without the link."
    )


def staff_invitation_revoke(*, user: User, by: User) -> bool:
    """Withdraw a person's unused invitation: the link stops working and the account cannot be used (so a
    password reset cannot open it either) until they are invited again. False if there was none."""
    if not may_manage_staff_invitation(by, user):
        raise PermissionDenied("Only administrators of this person's scheme can withdraw their invitation.")
    with transaction.atomic():
        pending = list(
            user.staff_invitations.filter(used_at__isnull=True, revoked_at__isnull=True).values_list("pk", flat=True)
        )
        if not pending:
            return False
        StaffInvitation.objects.filter(pk__in=pending).update(revoked_at=timezone.now(), revoked_by=by)
        if not user.has_usable_password():
            user.is_active = False
            user.save(update_fields=["is_active"])
        audit_record(
            action="staff_invitation.revoke",
            actor=by,
            obj=user,
            detail={"email": user.email, "invitations": pending},
        )
    return True


def staff_invitation_lookup(token: str) -> StaffInvitation:
    """The invitation this link belongs to, if it can still be used; otherwise StaffInvitationUnusable."""
    invitation = StaffInvitation.objects.select_related("user__scheme").filter(token_hash=_hash_token(token)).first()
    if invitation is None:
        raise StaffInvitationUnusable("unknown")
    user = invitation.user
    if invitation.used_at or user.has_usable_password():  # a password set since, by a reset, counts as use
        raise StaffInvitationUnusable("used")
    if invitation.revoked_at or not user.is_active or invitation.email.lower() != user.email.lower():
        # Withdrawn, replaced, the account deactivated, or its address changed since the link was sent.
        raise StaffInvitationUnusable("revoked")
    if invitation.expires_at <= timezone.now():
        raise StaffInvitationUnusable("expired")
    return invitation


def staff_invitation_accept(*, token: str, password: str) -> User:
    """The invitee chooses their password: that proves the address, and the link is used up."""
    with transaction.atomic():
        invitation = staff_invitation_lookup(token)
        invitation = StaffInvitation.objects.select_for_update().get(pk=invitation.pk)
        user = User.objects.select_for_update().get(pk=invitation.user_id)
        if invitation.used_at or invitation.revoked_at:  # a second tab or a replayed form lost the race
            raise StaffInvitationUnusable("used" if invitation.used_at else "revoked")
        validate_password(password, user)
        user.set_password(password)
        user.save(update_fields=["password"])
        email_address_verify(user=user)
        invitation.used_at = timezone.now()
        invitation.save(update_fields=["used_at"])
        audit_record(
            action="staff_invitation.accept",
            actor=user,
            obj=invitation,
            scheme_id=user.scheme_id,
            detail={"email": user.email},
        )
    return user


def session_record_enrolment(*, request: HttpRequest, user: User) -> str:
    """Setting up an authenticator app or a security key proves it there and then (a code from the app, the
    key's own signature), so this session counts as having used its second factor, recorded as allauth records
    a sign-in with it: nobody is asked for a code seconds after giving one. Returns the kind set up."""
    from allauth.account.internal.flows.login import record_authentication
    from allauth.mfa.models import Authenticator

    kinds = [Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]
    added = Authenticator.objects.filter(user_id=user.pk, type__in=kinds).order_by("-id").first()
    if added is None:
        return ""
    record_authentication(request, user, "mfa", id=added.pk, type=added.type, enrolled=True)
    return added.type


def session_record_password(*, request: HttpRequest) -> None:
    """The password was chosen a moment ago: a fresh proof, recorded the way allauth records a password given
    again (reauthentication), so setting up MFA next does not ask for it once more."""
    from allauth.account.internal.flows.reauthentication import reauthenticate_by_password

    reauthenticate_by_password(request)
