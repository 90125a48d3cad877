"""Portal-wide pages: health check, landing dashboard, staff invitations, notices, accessibility and privacy."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET

from evidence.selectors import current_taskings
from portal import roles
from portal.account_forms import StaffPasswordForm
from portal.accounts import (
    StaffInvitationUnusable,
    session_record_password,
    staff_invitation_accept,
    staff_invitation_lookup,
)
from portal.notifications import notices_for, notices_mark_read
from volunteers.dashboard import volunteer_tasks
from volunteers.deployability import Audience, deployability_for
from volunteers.models import Volunteer

logger = logging.getLogger(__name__)


def _database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return True, "ok"
    except Exception as exc:  # any driver error means "not answering"
        logger.warning("Health check: database did not answer: %s", exc)
        return False, "unavailable"


def _broker_ok() -> tuple[bool, str]:
    from portal.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True, "ok"
    except Exception as exc:
        logger.warning("Health check: broker did not answer: %s", exc)
        return False, "unavailable"


def _cache_state() -> str:
    """The shared cache: "ok", or, while Redis does not answer, that the database stands in for it."""
    from django.core.cache import cache

    ping = getattr(cache, "ping", None)  # portal.cache.FailoverCache; the embedded file cache cannot be down
    if ping is None or ping():
        return "ok"
    return "unavailable: rate limits are kept in the database meanwhile"


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers and monitoring: 200 when the database and the broker both answer ("degraded"
    while the cache does not: people can still sign in, rate limits still count); 503 otherwise."""
    db_ok, db_state = _database_ok()
    broker_ok, broker_state = _broker_ok()
    cache_state = _cache_state()
    healthy = db_ok and broker_ok
    status = "unavailable" if not healthy else ("ok" if cache_state == "ok" else "degraded")
    return JsonResponse(
        {"status": status, "database": db_state, "broker": broker_state, "cache": cache_state},
        status=200 if healthy else 503,
    )


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    if roles.has_role(user, roles.WELFARE):
        return redirect("welfare_console")
    if roles.has_role(user, roles.COURT):
        return redirect("bundle_inbox")
    if roles.has_role(user, roles.DECONFLICTION):
        return redirect("deconfliction_register")
    if user.is_staff:
        return redirect("admin:index")
    volunteer = Volunteer.objects.filter(user=user).select_related("scheme").first()
    context = {"scheme": volunteer.scheme if volunteer else user.scheme, "role_label": roles.role_label(user)}
    if volunteer is not None:
        volunteer.user = user  # the request's own, already read
        decision = deployability_for(volunteer)
        context.update(
            volunteer=volunteer,
            deployable=decision.allowed,
            reasons=decision.reasons_for(Audience.VOLUNTEER),
            tasks=volunteer_tasks(volunteer, decision),
            # Each current tasking with the one rule's answer in her words: until when, or why not.
            taskings=current_taskings(user, volunteer=volunteer, deployability=decision),
        )
    return render(request, "portal/home.html", context)


STAFF_INVITATION_UNUSABLE = {
    "unknown": (
        "This invitation link does not work",
        "The link may have been copied incompletely or changed. Open the link from your invitation email again. "
        "If it still does not work, ask the person who invited you to send a new invitation.",
    ),
    "used": (
        "This invitation has already been used",
        "Each invitation link works once, and a password has already been set for this account. Sign in with "
        "your email address and password. If you have forgotten your password, use “Forgot your password?” on "
        "the sign-in page.",
    ),
    "expired": (
        "This invitation has expired",
        "Invitation links work for a limited time. Ask the person who invited you to send a new invitation.",
    ),
    "revoked": (
        "This invitation link no longer works",
        "A newer invitation was sent to you, or this one was withdrawn. Use the link in the most recent "
        "invitation email, or ask the person who invited you.",
    ),
}


def _staff_invitation_unusable(request: HttpRequest, reason: str) -> HttpResponse:
    title, body = STAFF_INVITATION_UNUSABLE[reason]
    return render(
        request,
        "portal/staff_invitation_unusable.html",
        {"title": title, "body": body},
        status=404 if reason == "unknown" else 410,
    )


@never_cache
@sensitive_post_parameters("password1", "password2")
def staff_invitation_accept_view(request: HttpRequest, token: str) -> HttpResponse:
    """A new member of staff chooses their password; that proves their address, signs them in and takes
    them straight on to setting up MFA (the password just chosen counts as freshly given)."""
    try:
        invitation = staff_invitation_lookup(token)
    except StaffInvitationUnusable as exc:
        return _staff_invitation_unusable(request, exc.reason)
    if request.user.is_authenticated:
        return render(request, "portal/staff_invitation_signed_in.html", {"invitation": invitation})
    form = StaffPasswordForm(request.POST or None, user=invitation.user)
    if request.method == "POST" and form.is_valid():
        try:
            user = staff_invitation_accept(token=token, password=form.cleaned_data["password1"])
        except StaffInvitationUnusable as exc:
            return _staff_invitation_unusable(request, exc.reason)
        except ValidationError as exc:
            form.add_error("password1", exc)
        else:
            login(request, user, backend="portal.signed_in.PortalAuthenticationBackend")
            session_record_password(request=request)
            if roles.requires_mfa(user):
                messages.success(
                    request,
                    "Your password is set and your email address is confirmed. Now set up a second way to sign "
                    "in: choose an authenticator app or a security key below.",
                )
                return redirect("mfa_index")
            messages.success(request, "Your password is set and your email address is confirmed.")
            return redirect("home")
    user = invitation.user
    return render(
        request,
        "portal/staff_invitation_accept.html",
        {"form": form, "invitation": invitation, "invitee": user, "role_label": roles.role_label(user)},
    )


@login_required
def notices(request: HttpRequest) -> HttpResponse:
    """What the portal has told this person, newest first; those shown are read from now on."""
    shown = list(notices_for(request.user)[:50])
    unread = {notice.pk for notice in shown if notice.read_at is None}
    notices_mark_read(user=request.user, ids=sorted(unread))
    return render(request, "portal/notices.html", {"notices": shown, "unread": unread})


def accessibility(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/accessibility.html")


def privacy(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/privacy.html")
