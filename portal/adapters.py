"""allauth adapter: sign-up is by invitation only, and each role lands where its work is."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest
from django.urls import reverse

from portal import roles


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
