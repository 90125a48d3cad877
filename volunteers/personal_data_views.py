"""A volunteer's "Your personal data" page and her downloads of it (PDF to read, JSON to take elsewhere)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal.audit import audit_record
from volunteers.models import Volunteer
from volunteers.personal_data import (
    INCLUDED,
    NOT_INCLUDED,
    NotAVolunteer,
    file_name,
    personal_data_for,
    personal_data_json,
    personal_data_pdf,
    volunteer_of,
)

REFUSED = (
    "This page is for volunteers, to download their own personal data. To ask for the personal data the scheme "
    "holds about you, contact the data protection officer of the police force that runs your scheme."
)
FORMATS: dict[str, tuple[Callable[[dict], bytes], str, str]] = {
    "pdf": (personal_data_pdf, "application/pdf", "pdf"),
    "json": (personal_data_json, "application/json; charset=utf-8", "json"),
}


def volunteer_required(view: Callable) -> Callable:
    """Signed-out people are sent to sign in; anyone signed in who is not a volunteer is refused (403). The
    view is given her own record: the addresses hold no one's id, so no one else's can be asked for."""

    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            volunteer = volunteer_of(request.user)
        except NotAVolunteer:
            raise PermissionDenied(REFUSED) from None
        return view(request, volunteer, *args, **kwargs)

    return wrapper


@never_cache
@require_GET
@volunteer_required
def personal_data_page(request: HttpRequest, volunteer: Volunteer) -> HttpResponse:
    return render(
        request,
        "volunteers/personal_data.html",
        {"included": INCLUDED, "not_included": NOT_INCLUDED, "scheme": volunteer.scheme},
    )


def _download(request: HttpRequest, volunteer: Volunteer, kind: str) -> HttpResponse:
    render_file, content_type, extension = FORMATS[kind]
    data = personal_data_for(request.user)
    content = render_file(data)
    # DPA 2018 s.62: a disclosure of personal data is logged, with who, when and in what form.
    audit_record(
        action="volunteer.personal_data_exported",
        request=request,
        obj=volunteer,
        detail={"format": kind, "right": "UK GDPR Article 15 (right of access)"},
    )
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{file_name(data, extension)}"'
    return response


@never_cache
@require_GET
@volunteer_required
def personal_data_pdf_download(request: HttpRequest, volunteer: Volunteer) -> HttpResponse:
    return _download(request, volunteer, "pdf")


@never_cache
@require_GET
@volunteer_required
def personal_data_json_download(request: HttpRequest, volunteer: Volunteer) -> HttpResponse:
    return _download(request, volunteer, "json")
