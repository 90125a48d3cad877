"""The deconfliction officer's pages (/deconfliction/): their force's register and the matches against it.

Nobody else reaches them: every view asks evidence.deconfliction.register for the person's force, and every
entry and match is looked up within that force only, so another force's (or a scheme's) answers 404."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from allauth.account.decorators import reauthentication_required
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from evidence.deconfliction import register
from evidence.deconfliction.forms import AgreementForm, RegisterEntryForm, RegisterImportForm
from portal.audit import audit_record

PAGE_SIZE = 50
SHOW = {
    "live": "Live",
    "review": "Review due",
    "ended": "Expired or withdrawn",
    "all": "All entries",
}


def deconfliction_required(view: Callable) -> Callable:
    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        force = register.register_force(request.user)
        if force is None:
            raise PermissionDenied("The deconfliction pages are for a force's deconfliction officers only.")
        request.force = force
        return view(request, *args, **kwargs)

    return wrapper


def _refusal(form, exc: ValidationError) -> None:
    """A service's refusal shown on the form: on its field where it names one."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


@deconfliction_required
def register_list(request: HttpRequest) -> HttpResponse:
    show = request.GET.get("show", "live")
    show = show if show in SHOW else "live"
    search = " ".join(request.GET.get("q", "").split())[:100]
    today = timezone.localdate()
    entries = register.register_entries(request.user).select_related("owner")
    live = Q(withdrawn_at__isnull=True, expires_on__gte=today)
    entries = {
        "live": entries.filter(live),
        "review": entries.filter(live, review_on__lte=today),
        "ended": entries.exclude(live),
        "all": entries,
    }[show]
    if search:
        entries = entries.filter(reference__icontains=search)
    page = Paginator(entries.order_by("review_on", "-added_at", "-pk"), PAGE_SIZE).get_page(request.GET.get("page"))
    audit_record(
        action="evidence.register_consult_list",
        request=request,
        detail={"entries": [entry.pk for entry in page.object_list], "show": show, "search": search},
    )
    return render(
        request,
        "evidence/deconfliction/register.html",
        {
            "force": request.force,
            "page": page,
            "show": show,
            "filters": SHOW,
            "show_label": SHOW[show],
            "search": search,
            "summary": register.register_summary(request.force),
            "today": today,
        },
    )


@deconfliction_required
def register_add(request: HttpRequest) -> HttpResponse:
    owners = register.register_owners(request.force)
    form = RegisterEntryForm(
        request.POST or None,
        owners=owners,
        initial={"owner": request.user.pk if owners.filter(pk=request.user.pk).exists() else None},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            entry, matches = register.register_entry_add(
                force=request.force,
                identifier=data["identifier"],
                reference=data["reference"],
                owner=data["owner"],
                expires_on=data["expires_on"],
                review_on=data["review_on"],
                by=request.user,
            )
        except ValidationError as exc:
            _refusal(form, exc)
        else:
            found = (
                f" It matched {len(matches)} live tasking{'s' if len(matches) != 1 else ''}: see Matches."
                if matches
                else " No live tasking engages it now; it will be matched as taskings record identities."
            )
            messages.success(request, f"Entry {entry.reference} added to your register.{found}")
            return redirect("deconfliction_entry", entry_id=entry.pk)
    return render(request, "evidence/deconfliction/register_add.html", {"form": form, "force": request.force})


@deconfliction_required
def register_import(request: HttpRequest) -> HttpResponse:
    owners = register.register_owners(request.force)
    form = RegisterImportForm(
        request.POST or None,
        request.FILES or None,
        owners=owners,
        initial={"owner": request.user.pk if owners.filter(pk=request.user.pk).exists() else None},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            rows = register.register_file_read(data["file"].read())
            added = register.register_import(
                force=request.force,
                rows=rows,
                reference=data["reference"],
                owner=data["owner"],
                expires_on=data["expires_on"],
                review_on=data["review_on"],
                by=request.user,
            )
        except ValidationError as exc:
            if not hasattr(exc, "error_dict"):
                exc = ValidationError({"file": exc.messages})
            _refusal(form, exc)
        else:
            already = len(rows) - added.entries
            text = (
                f"Imported {added.entries:,} blind index{'es' if added.entries != 1 else ''} under {data['reference']}."
            )
            if already:
                text += f" {already:,} already on your register were not added again."
            if added.matches:
                text += f" {len(added.matches)} matched live taskings: see Matches."
            messages.success(request, text)
            return redirect("deconfliction_register")
    return render(request, "evidence/deconfliction/register_import.html", {"form": form, "force": request.force})


@deconfliction_required
def register_entry(request: HttpRequest, entry_id: int) -> HttpResponse:
    entry = get_object_or_404(register.register_entries(request.user).select_related("owner", "added_by"), pk=entry_id)
    if request.method == "POST":
        try:
            register.register_entry_withdraw(entry=entry, by=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Entry {entry.reference} withdrawn: it no longer matches anything.")
        return redirect("deconfliction_entry", entry_id=entry.pk)
    audit_record(action="evidence.register_consult", request=request, detail={"entry": entry.pk})
    return render(
        request,
        "evidence/deconfliction/register_entry.html",
        {
            "entry": entry,
            "matches": entry.matches.select_related("tasking__controller").order_by("-found_at"),
            "live": entry.withdrawn_at is None and entry.expires_on >= timezone.localdate(),
            "force": request.force,
        },
    )


@deconfliction_required
def match_list(request: HttpRequest) -> HttpResponse:
    matches = register.register_matches(request.user).order_by("agreed_at", "-found_at")
    page = Paginator(matches, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "evidence/deconfliction/matches.html", {"page": page, "force": request.force})


@deconfliction_required
def match_detail(request: HttpRequest, match_id: int) -> HttpResponse:
    match = get_object_or_404(register.register_matches(request.user), pk=match_id)
    form = AgreementForm(request.POST or None)

    def page() -> HttpResponse:
        return render(
            request, "evidence/deconfliction/match.html", {"match": match, "form": form, "force": request.force}
        )

    if request.method != "POST":
        audit_record(action="evidence.register_match_consult", request=request, detail={"reference": match.reference})
        return page()

    def agree(request: HttpRequest) -> HttpResponse:
        if not form.is_valid():
            return page()
        try:
            register.match_agree(match=match, agreement=form.cleaned_data["agreement"], by=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Your force's side of match {match.reference} is on the record.")
        return redirect("deconfliction_match", match_id=match.pk)

    return reauthentication_required(agree)(request)
