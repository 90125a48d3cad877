"""Request middleware: requests the portal cannot read are refused with a reason, audit context for deep
callers, and MFA enforcement for privileged roles."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from allauth.account.authentication import get_authentication_records
from allauth.mfa.utils import is_mfa_enabled
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import resolve, reverse
from django.urls.exceptions import Resolver404

from portal.accounts import session_record_enrolment
from portal.audit import current_request
from portal.roles import requires_mfa
from portal.text import unstorable_count

LENGTH_REQUIRED = (
    "The portal needs to know a file's size before it arrives, and this one was sent without it (in "
    "'chunked' pieces). Nothing was stored. Upload it from the portal's own page in a web browser; if you "
    "use another tool, have it send a Content-Length header."
)
UNUSABLE_ADDRESS = (
    "The web address contains a hidden 'null' control character, which the portal cannot use. Nothing was "
    "changed. Go back and try again, or retype the address rather than pasting it."
)


class UnusableRequestMiddleware:
    """Two kinds of request are refused before any view reads them, each with its own reason:

    - a body sent with chunked transfer encoding and no Content-Length: Django would read it as empty,
      and an upload would then be refused for the wrong reason ("this type of file…"). 411, every path.
    - an address (path or query string) holding a NUL character: PostgreSQL refuses NUL in any text it
      compares, so a filter, search or lookup would otherwise fail as a server error. 400, every page,
      the admin's included.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not request.META.get("CONTENT_LENGTH"):
            return _refusal(request, 411, "Length required", LENGTH_REQUIRED)
        query = (text for pair in request.GET.lists() for text in (pair[0], *pair[1]))
        if unstorable_count(request.path) or any(unstorable_count(text) for text in query):
            return _refusal(request, 400, "This address cannot be used", UNUSABLE_ADDRESS)
        return self.get_response(request)


def _refusal(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"errors": {"__all__": [message]}}, status=status)
    return render(request, "request_refused.html", {"title": title, "message": message}, status=status)


class AuditContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = current_request.set(request)
        try:
            return self.get_response(request)
        finally:
            current_request.reset(token)


# What a privileged user may reach before MFA: enrolment, proving the second factor, leaving.
_ENROL_URLS = {
    "mfa_index",
    "mfa_activate_totp",
    "mfa_add_webauthn",
    "mfa_generate_recovery_codes",
    "mfa_view_recovery_codes",
    "mfa_download_recovery_codes",
}
_ALWAYS_URLS = {
    "account_logout",
    "mfa_reauthenticate",
    "mfa_reauthenticate_webauthn",
    "mfa_authenticate",
    "account_reauthenticate",
    "healthz",
    "accessibility",
    "privacy",
    "javascript-catalog",
    "staff_invitation_accept",  # answers for anyone: it signs the invitee in, or says why it cannot
}

MFA_REQUIRED = (
    "Your role requires multi-factor authentication. Set up an authenticator app or a security key before you continue."
)


# After the first authenticator is set up, allauth shows the recovery codes it made at the same time.
ENROLLED = {
    "totp": "Your authenticator app is set up. Now save your recovery codes: each one lets you sign in once "
    "if you lose your phone.",
    "webauthn": "Your security key is set up. Now save your recovery codes: each one lets you sign in once if "
    "you lose your key.",
}


def session_used_mfa(request: HttpRequest) -> bool:
    return any(record.get("method") == "mfa" for record in get_authentication_records(request, request.user))


class RequireMFAMiddleware:
    """Officers, welfare officers, court recipients, administrators and superusers reach nothing
    (the admin included) until they have enrolled MFA and this session has proved it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not requires_mfa(user):
            return self.get_response(request)
        if request.path.startswith("/static/"):
            return self.get_response(request)
        try:
            url_name = resolve(request.path_info).url_name
        except Resolver404:
            url_name = None
        if url_name in _ALWAYS_URLS:
            return self.get_response(request)
        if not is_mfa_enabled(user):
            if url_name in _ENROL_URLS:
                response = self.get_response(request)
                if request.method == "POST" and is_mfa_enabled(user):
                    # The first factor was set up just now, and proved in doing so.
                    kind = session_record_enrolment(request=request, user=user)
                    _say_instead(request, ENROLLED.get(kind, ENROLLED["totp"]))
                return response
            _say_once(request, messages.WARNING, MFA_REQUIRED)
            return redirect("mfa_index")
        if session_used_mfa(request):
            return self.get_response(request)
        # Enrolled, but this session has not proved the second factor (for example it signed in
        # before enrolling): confirm it before anything else, enrolment pages included. The page says why,
        # so no banner repeats it.
        return redirect(f"{reverse('mfa_reauthenticate')}?{urlencode({'next': request.get_full_path()})}")


def _say_instead(request: HttpRequest, text: str) -> None:
    """One banner in place of those waiting (allauth says "activated" and "recovery codes generated")."""
    waiting = messages.get_messages(request)
    for _message in waiting:  # marks them shown: only what is added below is kept
        pass
    messages.success(request, text, fail_silently=True)


def _say_once(request: HttpRequest, level: int, text: str) -> None:
    """A message already waiting to be shown is not queued again (one banner, however many redirects)."""
    waiting = messages.get_messages(request)
    already = any(message.message == text for message in waiting)
    if hasattr(waiting, "used"):
        waiting.used = False  # looking is not showing: keep them for the next page
    if not already:
        messages.add_message(request, level, text, fail_silently=True)
