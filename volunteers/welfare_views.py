"""The welfare compartment (/welfare/): welfare officers of a scheme, and nobody else."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import F, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from portal.audit import audit_record
from retention.person_disposal import people_to_review
from retention.policy import may_review_person_disposals
from volunteers import services
from volunteers.forms import ExposureForm, LiftStandDownForm, ScreeningForm, StandDownForm
from volunteers.models import ExposureEvent, ScreeningRequest, StandDown
from volunteers.permissions import is_welfare_officer
from volunteers.selectors import attach_recent_exposure, screenings_of, welfare_console_rows, welfare_person

FILTERS = {
    "all": "Everyone",
    "overdue": "Screening overdue or missing",
    "due_soon": "Due in the next 30 days",
    "stood_down": "Stood down",
    "requests": "Open screening requests",
}
PAGE_SIZE = 100
SORTS = {"due": "Next screening due", "name": "Name", "exposure": "Exposure, last 30 days"}


def welfare_required(view: Callable) -> Callable:
    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not is_welfare_officer(request.user):
            raise PermissionDenied("The welfare pages are for welfare officers only.")
        return view(request, *args, **kwargs)

    return wrapper


@welfare_required
def console(request: HttpRequest) -> HttpResponse:
    show = request.GET.get("show", "all")
    sort = request.GET.get("sort", "due")
    show = show if show in FILTERS else "all"
    sort = sort if sort in SORTS else "due"
    search = " ".join(request.GET.get("q", "").split())[:100]
    now = timezone.now()
    rows = welfare_console_rows(request.user, with_exposure=sort == "exposure")
    if search:
        rows = rows.filter(Q(full_name__icontains=search) | Q(email__icontains=search))
    if show == "overdue":
        rows = rows.filter(Q(screening_next_due__isnull=True) | Q(screening_next_due__lte=now))
    elif show == "due_soon":
        rows = rows.filter(screening_next_due__gt=now, screening_next_due__lte=now + timedelta(days=30))
    elif show == "stood_down":
        rows = rows.filter(stood_down=True)
    elif show == "requests":
        rows = rows.filter(open_request=True)
    order = {
        # Never screened first, as the most overdue: PostgreSQL would otherwise put them last.
        "due": [F("screening_next_due").asc(nulls_first=True), "full_name"],
        "name": ["full_name", "email"],
        "exposure": ["-recent_exposure", "full_name"],
    }[sort]
    page = Paginator(rows.order_by(*order), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = attach_recent_exposure(list(page.object_list))
    audit_record(
        action="welfare.consult_list",
        request=request,
        detail={"people": [row.pk for row in rows], "filter": show, "search": search},
    )
    to_review, awaiting = people_to_review(request.user) if may_review_person_disposals(request.user) else ([], [])
    return render(
        request,
        "volunteers/welfare_console.html",
        {
            "records_to_review": len(to_review),
            "records_awaiting_you": len(awaiting),
            "rows": rows,
            "page_obj": page,
            "show": show,
            "sort": sort,
            "search": search,
            "filters": FILTERS,
            "sorts": SORTS,
            "now": now,
            "soon": now + timedelta(days=30),
        },
    )


@welfare_required
def person(request: HttpRequest, person_id: int) -> HttpResponse:
    subject = welfare_person(request.user, person_id)
    screenings = list(screenings_of(subject))
    audit_record(
        action="welfare.consult_person",
        request=request,
        obj=subject,
        detail={"screenings": [record.pk for record in screenings]},
    )
    return render(
        request,
        "volunteers/welfare_person.html",
        {
            "subject": subject,
            "screenings": screenings,
            "exposures": ExposureEvent.objects.filter(person=subject)[:50],
            "stand_downs": StandDown.objects.filter(person=subject),
            "requests": ScreeningRequest.objects.filter(person=subject, closed_at__isnull=True),
        },
    )


def _form_page(request, subject, form, service_call, template, success):
    if request.method == "POST" and form.is_valid():
        try:
            service_call(form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, success)
            return redirect("welfare_person", person_id=subject.pk)
    return render(request, template, {"subject": subject, "form": form})


@welfare_required
def screening_new(request: HttpRequest, person_id: int) -> HttpResponse:
    subject = welfare_person(request.user, person_id)
    return _form_page(
        request,
        subject,
        ScreeningForm(request.POST or None),
        lambda data: services.screening_record(person=subject, by=request.user, **data),
        "volunteers/welfare_screening_form.html",
        "Screening recorded.",
    )


@welfare_required
def exposure_new(request: HttpRequest, person_id: int) -> HttpResponse:
    subject = welfare_person(request.user, person_id)
    return _form_page(
        request,
        subject,
        ExposureForm(request.POST or None),
        lambda data: services.exposure_record(person=subject, by=request.user, **data),
        "volunteers/welfare_exposure_form.html",
        "Exposure recorded.",
    )


@welfare_required
def stand_down_new(request: HttpRequest, person_id: int) -> HttpResponse:
    subject = welfare_person(request.user, person_id)
    return _form_page(
        request,
        subject,
        StandDownForm(request.POST or None),
        lambda data: services.stand_down_place(person=subject, by=request.user, **data),
        "volunteers/welfare_stand_down_form.html",
        "Stood down from deployment.",
    )


@welfare_required
def stand_down_lift(request: HttpRequest, person_id: int, stand_down_id: int) -> HttpResponse:
    """A page of its own: the reason, and a confirmation, before someone becomes deployable again."""
    subject = welfare_person(request.user, person_id)
    stand_down = get_object_or_404(StandDown, pk=stand_down_id, person=subject)
    if stand_down.lifted_at:
        messages.error(request, "This stand-down has already been lifted.")
        return redirect("welfare_person", person_id=subject.pk)
    form = LiftStandDownForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.stand_down_lift(stand_down=stand_down, by=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Stand-down lifted for {subject.full_name or subject.email}.")
            return redirect("welfare_person", person_id=subject.pk)
    return render(
        request,
        "volunteers/welfare_stand_down_lift.html",
        {"subject": subject, "stand_down": stand_down, "form": form},
        status=400 if form.errors else 200,
    )
