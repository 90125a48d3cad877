"""Volunteer-facing pages: accepting an invitation, and reading and accepting the code of conduct."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from volunteers.forms import InvitationAcceptForm
from volunteers.models import CodeOfConduct
from volunteers.services import InvitationUnusable, conduct_accept, invitation_accept, invitation_lookup

UNUSABLE = {
    "unknown": (
        "This invitation link does not work",
        "The link may have been copied incompletely or changed. Open the link from your invitation email "
        "again, or ask your supervising officer to send a new invitation.",
    ),
    "used": (
        "This invitation has already been used",
        "Each invitation link works once. If you created your account, sign in. If you did not, ask your "
        "supervising officer to send a new invitation.",
    ),
    "expired": (
        "This invitation has expired",
        "Invitation links work for a limited time. Ask your supervising officer to send a new invitation.",
    ),
    "revoked": (
        "This invitation has been replaced",
        "A newer invitation was sent to you, or this one was withdrawn. Use the link in the most recent "
        "invitation email.",
    ),
}


def _unusable(request: HttpRequest, reason: str) -> HttpResponse:
    title, body = UNUSABLE[reason]
    return render(
        request,
        "volunteers/invitation_unusable.html",
        {"title": title, "body": body},
        status=410 if reason in {"used", "expired", "revoked"} else 404,
    )


@never_cache
@sensitive_post_parameters("password1", "password2")
def invitation_accept_view(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = invitation_lookup(token)
    except InvitationUnusable as exc:
        return _unusable(request, exc.reason)
    if request.user.is_authenticated:
        messages.warning(request, "Sign out first: this invitation is for a new account.")
        return redirect("home")
    conduct = CodeOfConduct.objects.order_by("-version").first()
    form = InvitationAcceptForm(
        request.POST or None,
        email=invitation.email,
        conduct_published=conduct is not None,
        initial={"full_name": invitation.full_name},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            volunteer = invitation_accept(
                token=token,
                full_name=data["full_name"],
                password=data["password1"],
                date_of_birth=data["date_of_birth"],
                phone=data["phone"],
                address_history=form.address_history(),
                accept_conduct_version=conduct.version if conduct else None,
            )
        except InvitationUnusable as exc:
            return _unusable(request, exc.reason)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            login(request, volunteer.user, backend="portal.signed_in.PortalAuthenticationBackend")
            messages.success(request, "Your application has been received. Here is what happens next.")
            return redirect("home")
    return render(
        request,
        "volunteers/invitation_accept.html",
        {"form": form, "invitation": invitation, "conduct": conduct},
    )


@login_required
def conduct_view(request: HttpRequest) -> HttpResponse:
    conduct = CodeOfConduct.objects.order_by("-version").first()
    accepted = bool(conduct and conduct.acceptances.filter(user=request.user).exists())
    error = ""
    if request.method == "POST" and conduct is not None:
        if request.POST.get("accept") != "yes":
            error = "Tick the box to confirm you have read the code of conduct and agree to follow it."
        else:
            try:
                conduct_accept(user=request.user, version=int(request.POST.get("version", "0")))
            except (ValidationError, ValueError):
                error = "A newer code of conduct has been published while you were reading: read it and accept again."
                conduct = CodeOfConduct.objects.order_by("-version").first()
            else:
                messages.success(request, f"You accepted the code of conduct (version {conduct.version}).")
                return redirect("home")
    return render(request, "volunteers/conduct.html", {"conduct": conduct, "accepted": accepted, "error": error})
