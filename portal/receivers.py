"""Thin signal receivers: each turns an authentication or role event into one audit row or one service call."""

from __future__ import annotations

from typing import Any

from allauth.account import signals as account_signals
from allauth.mfa import signals as mfa_signals
from allauth.mfa.models import Authenticator
from django.contrib.auth import signals as auth_signals
from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save
from django.dispatch import receiver

from portal.accounts import email_address_verify
from portal.audit import audit_record, current_request
from portal.models import AuditEvent, Notice, User
from portal.roles import forget_roles, sync_role_groups
from portal.signed_in import forget_state


@receiver(auth_signals.user_logged_in)
def on_login(sender: Any, request: Any, user: User, **kwargs: Any) -> None:
    audit_record(action="auth.login", actor=user, obj=user, request=request)


@receiver(auth_signals.user_logged_out)
def on_logout(sender: Any, request: Any, user: User | None, **kwargs: Any) -> None:
    if user is not None:
        audit_record(action="auth.logout", actor=user, obj=user, request=request)


@receiver(auth_signals.user_login_failed)
def on_login_failed(sender: Any, credentials: dict, request: Any = None, **kwargs: Any) -> None:
    attempted = str(credentials.get("email") or credentials.get("username") or "")[:254]
    audit_record(
        action="auth.login_failed",
        actor_email=attempted,
        outcome=AuditEvent.Outcome.FAILURE,
        request=request,
        detail={"attempted_email": attempted},
    )


def _mfa_event(action: str, outcome: str = AuditEvent.Outcome.SUCCESS):
    def handler(sender: Any, request: Any = None, user: User | None = None, authenticator: Any = None, **kw: Any):
        audit_record(
            action=action,
            actor=user,
            obj=user,
            request=request,
            outcome=outcome,
            detail={"type": getattr(authenticator, "type", "")},
        )

    return handler


_mfa_handlers = {
    mfa_signals.authenticator_added: _mfa_event("mfa.enrol"),
    mfa_signals.authenticator_removed: _mfa_event("mfa.remove"),
    mfa_signals.authenticator_reset: _mfa_event("mfa.reset"),
    mfa_signals.authentication_failed: _mfa_event("mfa.failure", AuditEvent.Outcome.FAILURE),
}
for _signal, _handler in _mfa_handlers.items():
    _signal.connect(_handler, dispatch_uid=f"portal-audit-{id(_signal)}")


@receiver(account_signals.password_reset)
def on_password_reset(sender: Any, request: Any, user: User, **kwargs: Any) -> None:
    """The reset link reached them at their address: that proves it, as an invitation link does."""
    email_address_verify(user=user)


@receiver(post_save, sender=Authenticator)
@receiver(post_delete, sender=Authenticator)
@receiver(post_save, sender=Notice)
def on_signed_in_state_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A factor added or removed, or a notice for the person of this request: what was read with them at the
    start of the request (portal.signed_in) is read again, so the rest of the request sees the change."""
    request = current_request.get()
    user = getattr(request, "user", None) if request is not None else None
    if user is not None and user.is_authenticated and user.pk == instance.user_id:
        forget_state(user)


@receiver(m2m_changed, sender=User.groups.through)
def on_roles_changed(sender: Any, instance: Any, action: str, reverse: bool, pk_set: set | None, **kwargs: Any):
    """Every role change, whatever path made it (admin, service, shell), leaves an audit row."""
    if action not in {"post_add", "post_remove", "pre_clear"}:
        return
    if reverse:  # group.user_set.add(user, ...)
        users = list(User.objects.filter(pk__in=pk_set or ()))
        groups = [instance]
    else:
        users = [instance]
        if action == "pre_clear":
            groups = list(instance.groups.all())
        else:
            groups = list(Group.objects.filter(pk__in=pk_set or ()))
    verb = "role.grant" if action == "post_add" else "role.revoke"
    for user in users:
        forget_roles(user)
        for group in groups:
            audit_record(action=verb, obj=user, detail={"role": group.name, "email": user.email})


@receiver(post_migrate)
def on_post_migrate(sender: Any, app_config: Any, using: str = "default", **kwargs: Any) -> None:
    """Once per migrate (and per flush, which tests run): give each role its permissions.

    Runs on the last app's signal, after making sure every app's permissions exist, so a role can be
    granted permissions of any app whatever order the receivers run in.
    """
    from django.apps import apps
    from django.contrib.auth.management import create_permissions

    configs = list(apps.get_app_configs())
    if app_config is not configs[-1]:
        return
    for config in configs:
        create_permissions(config, verbosity=0, using=using)
    sync_role_groups()
