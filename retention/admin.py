"""Retention in the officer admin: every tasking, exhibit and volunteer page says when and why its records may be
disposed of and which legal holds stand; officers record a case's outcome and place and lift holds; a scheme
administrator sets the scheme's own (longer) periods.

The apps below know nothing of retention (it stands above them in the stack): this module takes evidence's
TaskingAdmin and ExhibitAdmin and volunteers' VolunteerAdmin, adds a Retention section to each by subclassing,
and registers the subclasses in their place (docs/adr/0002-retention.md).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from evidence.admin.exhibits import ExhibitAdmin
from evidence.admin.taskings import TaskingAdmin
from evidence.custody import disposed_notice
from evidence.models import Exhibit, Tasking
from portal.admin import ReadOnlyAdmin, SchemeScopedAdmin
from portal.audit import current_request
from portal.display import EMPTY, when
from portal.models import User
from retention import rules, selectors, services
from retention.display import outcome_words
from retention.forms import HoldForm, LiftForm, OutcomeForm
from retention.models import LegalHold, SchemeRetention, Tombstone
from retention.periods import platform_periods
from retention.policy import may_lift_hold, may_place_hold, may_record_outcome
from volunteers.admin import VolunteerAdmin
from volunteers.models import Volunteer

# --- what the pages show -------------------------------------------------------------------------------------


def _viewer() -> Any:
    """The person the page is drawn for (ModelAdmins are shared between requests: nothing is kept on them)."""
    request = current_request.get()
    return getattr(request, "user", None)


def disposal_html(status: selectors.DisposalStatus) -> str:
    return format_html("<p>{}</p><p>Legal source: {}.</p>", status.summary, status.source)


def holds_html(holds: list[LegalHold] | tuple[LegalHold, ...], place_url: str | None, viewer: Any) -> str:
    """The holds standing, each with who placed it, when and its review date (and for those who may, a link
    to lift it); then, for those who may, a link to place one."""
    rows = []
    for hold in holds:
        setter = hold.set_by.get_full_name() or hold.set_by.email
        lift = (
            format_html(
                ' <a href="{}">Lift<span class="visually-hidden"> the {} hold on {}</span></a>',
                reverse("admin:retention_legalhold_lift", args=[hold.pk]),
                hold.get_kind_display().lower(),
                hold.target_label,
            )
            if viewer is not None and may_lift_hold(viewer, hold)
            else ""
        )
        detail = reverse("admin:retention_legalhold_change", args=[hold.pk])
        rows.append(
            (
                detail,
                hold.get_kind_display(),
                hold.target_label,
                hold.reason,
                setter,
                when(hold.set_at),
                rules.day(hold.review_on),
                lift,
            )
        )
    # One paragraph a hold: the admin's aligned forms indent lists under the field labels.
    shown = (
        format_html_join("", '<p><a href="{}">{} hold on {}</a>: “{}” Placed by {}, {}; review by {}.{}</p>', rows)
        if rows
        else format_html("<p>{}</p>", "None standing.")
    )
    if place_url:
        shown = format_html('{}<p><a href="{}">Place a legal hold</a></p>', shown, place_url)
    return shown


class RetentionSectionMixin:
    """A "Retention" section on a record's page, after the section named `retention_after` (else at the end of
    the record's own sections); never on an add form, where there is nothing yet."""

    retention_fields: tuple[str, ...] = ()
    retention_description = ""
    retention_after = ""

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> list:
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is None:
            return fieldsets
        names = [name for name, _ in fieldsets]
        at = names.index(self.retention_after) + 1 if self.retention_after in names else len(fieldsets)
        section = ("Retention", {"fields": list(self.retention_fields), "description": self.retention_description})
        return [*fieldsets[:at], section, *fieldsets[at:]]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [*super().get_readonly_fields(request, obj), *self.retention_fields]


class RetentionTaskingAdmin(RetentionSectionMixin, TaskingAdmin):
    retention_fields = ("case_outcome_now", "disposal_now", "holds_now")
    retention_after = "Case"
    retention_description = (
        "What became of the case decides how long everything of this tasking is kept (the CPIA minimums); a legal "
        "hold stops any disposal while it stands."
    )

    @admin.display(description="Case outcome")
    def case_outcome_now(self, obj: Tasking) -> str:
        text = outcome_words(selectors.case_outcome(obj))
        viewer = _viewer()
        if viewer is not None and may_record_outcome(viewer, obj):
            url = reverse("admin:evidence_tasking_outcome", args=[obj.pk])
            return format_html('<p>{}</p><p><a href="{}">Record the outcome</a></p>', text, url)
        return text

    @admin.display(description="Disposal")
    def disposal_now(self, obj: Tasking) -> str:
        return disposal_html(selectors.disposal_status(obj))

    @admin.display(description="Legal holds")
    def holds_now(self, obj: Tasking) -> str:
        viewer = _viewer()
        place = viewer is not None and may_place_hold(viewer, obj)
        url = reverse("admin:retention_legalhold_place", args=["tasking", obj.pk]) if place else None
        return holds_html(selectors.standing_holds(tasking=obj), url, viewer)

    def get_urls(self) -> list:
        return [
            path(
                "<path:object_id>/outcome/",
                self.admin_site.admin_view(self.outcome_view),
                name="evidence_tasking_outcome",
            ),
            *super().get_urls(),
        ]

    def outcome_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Record what became of the tasking's case: its supervising officers only (retention/policy.py)."""
        tasking = self.get_object(request, unquote(object_id))
        if tasking is None or not self.has_view_permission(request, tasking):
            raise Http404("No such tasking.")  # another scheme's, or one the viewer never sees: the same answer
        if not may_record_outcome(request.user, tasking):
            raise PermissionDenied
        current = selectors.case_outcome(tasking)
        initial = {"outcome": rules.Outcome.OPEN.value}
        if current is not None:
            initial = {name: getattr(current, name) for name in OutcomeForm.base_fields}
        form = OutcomeForm(request.POST if request.method == "POST" else None, initial=initial)
        if form.is_valid():
            try:
                services.outcome_record(tasking=tasking, by=request.user, **form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                status = selectors.disposal_status(tasking)
                messages.success(request, f"Outcome of {tasking.reference} recorded. {status.summary}")
                return redirect("admin:evidence_tasking_change", tasking.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": tasking,
            "title": f"Record the case outcome: {tasking.reference}",
            "form": form,
            "media": self.media + form.media,
            "status": selectors.disposal_status(tasking),
        }
        return TemplateResponse(request, "admin/retention/outcome.html", context)


class RetentionExhibitAdmin(RetentionSectionMixin, ExhibitAdmin):
    retention_fields = ("disposal_now", "holds_now")
    retention_description = (
        "An exhibit is kept as long as its tasking's case needs it (the tasking's page records the outcome); a legal "
        "hold on the exhibit or its tasking stops any disposal while it stands."
    )

    @admin.display(description="Disposal")
    def disposal_now(self, obj: Exhibit) -> str:
        if obj.disposed_at is not None:  # done: say so, and where its record and signed certificate are
            tombstone = Tombstone.objects.filter(exhibit=obj).first()
            if tombstone is None:
                return disposed_notice(obj)
            return format_html(
                '<p>{}</p><p><a href="{}">The record of its disposal and its signed certificate</a></p>',
                disposed_notice(obj),
                reverse("admin:retention_tombstone_change", args=[tombstone.pk]),
            )
        return disposal_html(selectors.disposal_status(obj))

    @admin.display(description="Legal holds")
    def holds_now(self, obj: Exhibit) -> str:
        viewer = _viewer()
        place = viewer is not None and may_place_hold(viewer, obj)
        url = reverse("admin:retention_legalhold_place", args=["exhibit", obj.pk]) if place else None
        return holds_html(selectors.standing_holds(exhibit=obj), url, viewer)


class RetentionVolunteerAdmin(VolunteerAdmin):
    readonly_fields = [*VolunteerAdmin.readonly_fields, "records_kept", "holds_now"]
    fields = readonly_fields
    labels = {**VolunteerAdmin.labels, "records_kept": "Records kept"}

    @admin.display(description="Records kept")
    def records_kept(self, obj: Volunteer) -> str:
        """When each kind of their records may be disposed of: from the day they leave the scheme."""
        lines = [
            (rules.RECORD_WORDS[kind].capitalize(), status.summary)
            for kind, status in selectors.person_statuses(obj.user).items()
        ]
        return format_html_join("", "<p>{}: {}</p>", lines)

    @admin.display(description="Legal holds")
    def holds_now(self, obj: Volunteer) -> str:
        viewer = _viewer()
        place = viewer is not None and may_place_hold(viewer, obj.user)
        url = reverse("admin:retention_legalhold_place", args=["person", obj.user_id]) if place else None
        return holds_html(selectors.standing_holds(person=obj.user), url, viewer)


for _model, _admin_class in ((Tasking, RetentionTaskingAdmin), (Exhibit, RetentionExhibitAdmin)):
    admin.site.unregister(_model)
    admin.site.register(_model, _admin_class)
admin.site.unregister(Volunteer)
admin.site.register(Volunteer, RetentionVolunteerAdmin)


# --- legal holds ------------------------------------------------------------------------------------------------


class StandingFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("standing", "Standing"), ("lifted", "Lifted")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "standing":
            return queryset.filter(lifted_at__isnull=True)
        if self.value() == "lifted":
            return queryset.filter(lifted_at__isnull=False)
        return queryset


# Where a hold may be placed, and which page lists the target: the same scoping and view permission as there.
TARGETS = {"tasking": Tasking, "exhibit": Exhibit, "person": User}


@admin.register(LegalHold)
class LegalHoldAdmin(ReadOnlyAdmin, SchemeScopedAdmin):
    """Legal holds, standing and lifted: placed from the page of what they hold, lifted here with a reason.
    Never changed otherwise, never deleted."""

    list_display = ["hold_on", "kind", "state", "review_on", "set_by", "set_at"]
    list_filter = [StandingFilter, "kind"]
    list_select_related = ["tasking", "exhibit", "person", "set_by", "lifted_by"]
    fields = ["hold_on", "kind", "reason", "review_on", "set_by", "set_at", "state", "lift"]
    readonly_fields = ["hold_on", "state", "lift"]
    labels = {"review_on": "Review by", "set_by": "Placed by", "set_at": "Placed"}

    @admin.display(description="Holds")
    def hold_on(self, obj: LegalHold) -> str:
        return obj.target_label[:1].upper() + obj.target_label[1:]

    @admin.display(description="State")
    def state(self, obj: LegalHold) -> str:
        if obj.standing:
            return "Standing: nothing it holds may be disposed of."
        who = obj.lifted_by.get_full_name() or obj.lifted_by.email
        return f"Lifted by {who}, {when(obj.lifted_at)}: {obj.lift_reason}"

    @admin.display(description="Lift")
    def lift(self, obj: LegalHold) -> str:
        viewer = _viewer()
        if not obj.standing or viewer is None or not may_lift_hold(viewer, obj):
            return EMPTY
        return format_html('<a href="{}">Lift this hold (with a reason)</a>', self._lift_url(obj))

    @staticmethod
    def _lift_url(obj: LegalHold) -> str:
        return reverse("admin:retention_legalhold_lift", args=[obj.pk])

    def get_urls(self) -> list:
        return [
            path(
                "place/<str:target>/<int:target_id>/",
                self.admin_site.admin_view(self.place_view),
                name="retention_legalhold_place",
            ),
            path("<int:pk>/lift/", self.admin_site.admin_view(self.lift_view), name="retention_legalhold_lift"),
            *super().get_urls(),
        ]

    def _target(self, request: HttpRequest, target: str, target_id: int) -> Any:
        """The tasking, exhibit or person, if the viewer may see it on its own page; 404 otherwise."""
        model = TARGETS.get(target)
        model_admin = self.admin_site._registry.get(model) if model is not None else None
        if model_admin is None:
            raise Http404("No such record.")
        found = model_admin.get_queryset(request).filter(pk=target_id).first()
        if found is None or not model_admin.has_view_permission(request, found):
            raise Http404("No such record.")
        return found

    @staticmethod
    def _target_url(target: Any) -> str:
        if isinstance(target, User):
            volunteer = Volunteer.objects.filter(user=target).only("pk").first()
            if volunteer is not None:
                return reverse("admin:volunteers_volunteer_change", args=[volunteer.pk])
            return reverse("admin:portal_user_change", args=[target.pk])
        return reverse(f"admin:{target._meta.app_label}_{target._meta.model_name}_change", args=[target.pk])

    @staticmethod
    def _target_words(target: Any) -> str:
        if isinstance(target, Tasking):
            return f"tasking {target.reference}"
        if isinstance(target, Exhibit):
            return f"exhibit {target.reference}"
        return f"the records of {target.get_full_name() or target.email}"

    def place_view(self, request: HttpRequest, target: str, target_id: int) -> HttpResponse:
        found = self._target(request, target, target_id)
        if not may_place_hold(request.user, found):
            raise PermissionDenied
        form = HoldForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            try:
                hold = services.hold_place(target=found, by=request.user, **form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(
                    request, f"Legal hold placed on {hold.target_label}: nothing it holds may be disposed of."
                )
                return redirect(self._target_url(found))
        words = self._target_words(found)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Place a legal hold on {words}",
            "form": form,
            "media": self.media + form.media,
            "target_words": words,
            "target_url": self._target_url(found),
            "status": selectors.disposal_status(found),
        }
        return TemplateResponse(request, "admin/retention/hold_place.html", context)

    def lift_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        hold = self.get_queryset(request).filter(pk=pk).first()
        if hold is None or not self.has_view_permission(request, hold):
            raise Http404("No such hold.")
        if not may_lift_hold(request.user, hold):
            raise PermissionDenied
        form = LiftForm(request.POST if request.method == "POST" else None)
        if hold.standing and form.is_valid():
            try:
                services.hold_lift(hold=hold, reason=form.cleaned_data["reason"], by=request.user)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, f"Legal hold on {hold.target_label} lifted.")
                return redirect(self._target_url(hold.target))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": hold,
            "title": f"Lift the legal hold on {hold.target_label}",
            "form": form,
            "hold": hold,
            "target_url": self._target_url(hold.target),
        }
        return TemplateResponse(request, "admin/retention/hold_lift.html", context)


# --- a scheme's own periods -------------------------------------------------------------------------------------


@admin.register(SchemeRetention)
class SchemeRetentionAdmin(SchemeScopedAdmin):
    """A scheme keeps records longer than the platform does, never for less time (the model refuses it)."""

    list_display = ["scheme", "case_extra_months", "vetting_years", "training_years", "welfare_years"]
    labels = {
        "case_extra_months": "Months case material is kept beyond the CPIA minimum",
        "vetting_years": "Years vetting records are kept after leaving",
        "training_years": "Years training records are kept after leaving",
        "welfare_years": "Years welfare records are kept after leaving",
    }

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, **kwargs)
        platform = platform_periods()
        for name, field in form.base_fields.items():
            if hasattr(platform, name):
                unit = "months" if name.endswith("months") else "years"
                field.help_text = (
                    f"The platform's period is {getattr(platform, name)} {unit}. Leave empty to use it, or enter a "
                    "longer one: a scheme may lengthen retention, never shorten it."
                )
        return form

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


from retention import disposal_admin  # noqa: E402, F401  (disposal: the review list, proposals, tombstones)
