"""allauth adapter: sign-up is by invitation only, and each role lands where its work is."""

from __future__ import annotations

import time
from typing import Any

from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.authentication import get_authentication_records
from allauth.mfa.utils import is_mfa_enabled
from django.http import HttpRequest
from django.urls import reverse

from portal import roles

# How a session proved the password: signing in with it, or choosing it from a reset link.
_PASSWORD_METHODS = {"password", "password_reset"}


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Accounts are created from an invitation bound to a scheme (volunteers app), never publicly.
        return bool(getattr(request, "portal_invitation", None))

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        user = request.user
        if user.is_authenticated and roles.has_role(user, roles.WELFARE):
            return reverse("welfare_console")
        if user.is_authenticated and user.is_staff:
            return reverse("admin:index")
        return super().get_login_redirect_url(request)

    def is_reauthentication_required(self, *, app: str, **kwargs: Any) -> bool:
        """Setting up the first second factor moments after signing in with the password asks for nothing
        more: the sign-in is as fresh a proof as the password prompt would be. Everything else (adding a
        further factor, removing one, new recovery codes) still asks, as allauth does."""
        required = super().is_reauthentication_required(app=app, **kwargs)
        request = getattr(self, "request", None)
        if not required or app != "allauth.mfa" or request is None:
            return required
        return not first_factor_right_after_password(request)


def first_factor_right_after_password(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or is_mfa_enabled(user):
        return False
    records = [r for r in get_authentication_records(request, user) if r.get("method") in _PASSWORD_METHODS]
    return bool(records) and time.time() - records[-1]["at"] < account_settings.REAUTHENTICATION_TIMEOUT
