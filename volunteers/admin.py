"""Officer admin for volunteers: status, vetting, invitations. Welfare models only for welfare officers."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from portal.admin import ConsultationAuditedAdmin, ReadOnlyAdmin, SchemeScopedAdmin
from portal.display import EMPTY, value_in_words
from volunteers import services
from volunteers.deployability import Audience, deployability_for, screening_state
from volunteers.models import (
    AdverseInformation,
    CodeOfConduct,
    ExposureEvent,
    IntegrityReview,
    Invitation,
    SchemeVolunteerSettings,
    ScreeningRecord,
    ScreeningRequest,
    StandDown,
    StatusChange,
    VettingCheck,
    VettingRecord,
    Volunteer,
)
from volunteers.permissions import can_read_welfare_detail, is_welfare_officer
from volunteers.selectors import DUE_WITHIN_DAYS, screening_due


class DeployableFilter(admin.SimpleListFilter):
    title = "deployable now"
    parameter_name = "deployable"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Deployable"), ("no", "Not deployable")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() not in {"yes", "no"}:
            return queryset
        wanted = self.value() == "yes"
        ids = [v.pk for v in queryset.select_related("user", "scheme") if deployability_for(v).allowed == wanted]
        return queryset.filter(pk__in=ids)


class ScreeningDueFilter(admin.SimpleListFilter):
    """Volunteers whose screening is not done, overdue or due soon: the home page's "Welfare screening due"."""

    title = "welfare screening"
    parameter_name = "screening"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("due", f"Due now or within {DUE_WITHIN_DAYS} days")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() != "due":
            return queryset
        return queryset.filter(pk__in=screening_due(request.user).values("pk"))


def address_history_html(history: Any) -> str:
    """The addresses a volunteer gave for vetting, newest first, as a table: address, from, to."""
    if not history:
        return EMPTY
    if not isinstance(history, list):
        return value_in_words(history)
    rows = []
    for entry in history:
        entry = entry if isinstance(entry, dict) else {"address": entry}
        since, until = entry.get("from"), entry.get("to")
        rows.append(
            (
                entry.get("address") or EMPTY,
                value_in_words(since, key="from") if since else "Not given",
                value_in_words(until, key="to") if until else ("Now" if rows == [] else "Not given"),
            )
        )
    return format_html(
        '<div class="portal-scroll"><table class="portal-table"><thead><tr><th scope="col">Address</th>'
        '<th scope="col">From</th><th scope="col">To</th></tr></thead><tbody>{}</tbody></table></div>',
        format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", rows),
    )


class StatusChangeInline(admin.TabularInline):
    model = StatusChange
    verbose_name_plural = "status history"
    fields = ["at", "from_status", "to_status", "reason", "by"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    labels = {"at": "When", "from_status": "From", "to_status": "To", "by": "By"}

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class IdentityForm(forms.Form):
    protected = forms.BooleanField(
        label="Identity-protected",
        required=False,
        help_text="Statements, exhibits and continuity in served bundles then name the volunteer by the pseudonym "
        "only. Exhibits they produced before keep their references.",
    )
    pseudonym = forms.CharField(label="Pseudonym", required=False, max_length=100)
    reason = forms.CharField(label="Reason", widget=forms.Textarea(attrs={"rows": 3}))


class StatusForm(forms.Form):
    to = forms.ChoiceField(label="New status", choices=Volunteer.Status.choices)
    reason = forms.CharField(label="Reason", widget=forms.Textarea(attrs={"rows": 3}))


@admin.register(Volunteer)
class VolunteerAdmin(SchemeScopedAdmin):
    list_display = ["name", "status", "deployable", "screening", "email", "exhibit_initials", "accredited_at"]
    list_filter = ["status", DeployableFilter, ScreeningDueFilter]
    search_fields = ["user__full_name", "user__email", "exhibit_initials"]
    list_select_related = ["user", "scheme"]
    readonly_fields = [
        "user",
        "scheme",
        "status",
        "exhibit_initials",
        "accredited_at",
        "applied_at",
        "date_of_birth",
        "phone",
        "addresses",
        "deployability_now",
        "change_status",
        "identity",
    ]
    fields = readonly_fields
    inlines = [StatusChangeInline]
    labels = {
        "user": "Account",
        "exhibit_initials": "Exhibit initials",
        "accredited_at": "Accredited",
        "applied_at": "Applied",
        "date_of_birth": "Date of birth",
    }

    @admin.display(description="Address history")
    def addresses(self, obj: Volunteer) -> str:
        return address_history_html(obj.address_history)

    @admin.display(description="Name", ordering="user__full_name")
    def name(self, obj: Volunteer) -> str:
        return obj.user.get_full_name()

    @admin.display(description="E-mail", ordering="user__email")
    def email(self, obj: Volunteer) -> str:
        return obj.user.email

    @admin.display(description="Deployable")
    def deployable(self, obj: Volunteer) -> str:
        decision = deployability_for(obj)
        if decision.allowed:
            return "Yes, with restrictions" if decision.restrictions else "Yes"
        return "No — " + " ".join(decision.reasons_for(Audience.OFFICER))

    @admin.display(description="Screening")
    def screening(self, obj: Volunteer) -> str:
        """What officers may know of screening: current, due soon or overdue — never the outcome."""
        return screening_state(obj.user_id)

    @admin.display(description="Deployability now")
    def deployability_now(self, obj: Volunteer) -> str:
        decision = deployability_for(obj)
        lines = ["Deployable." if decision.allowed else "Not deployable:"]
        lines += [f"• {text}" for text in decision.reasons_for(Audience.OFFICER)]
        if decision.restrictions:
            lines.append(f"Restrictions set by the welfare team: {decision.restrictions}")
        return "\n".join(lines)

    @admin.display(description="Status changes")
    def change_status(self, obj: Volunteer) -> str:
        url = reverse("admin:volunteers_volunteer_status", args=[obj.pk])
        return format_html('<a href="{}">Change status (with a reason)</a>', url)

    @admin.display(description="Identity protection")
    def identity(self, obj: Volunteer) -> str:
        url = reverse("admin:volunteers_volunteer_identity", args=[obj.pk])
        state = f"Protected: gives evidence as “{obj.pseudonym}”." if obj.identity_protected else "Not protected."
        return format_html('{} <a href="{}">Change identity protection</a>', state, url)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # volunteers come from invitations

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list:
        return [
            path("<int:pk>/status/", self.admin_site.admin_view(self.status_view), name="volunteers_volunteer_status"),
            path(
                "<int:pk>/identity/",
                self.admin_site.admin_view(self.identity_view),
                name="volunteers_volunteer_identity",
            ),
            *super().get_urls(),
        ]

    def _record_change(self, request: HttpRequest, pk: int, *, form_class, initial, act, field, done, title, template):
        """A change to one volunteer made through a form of its own (status, identity protection): scoped,
        permission-checked, done by the service `act(volunteer, cleaned_data)`, its refusal shown on `field`
        (or the field a refusal names)."""
        volunteer = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_change_permission(request, volunteer):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        form = form_class(request.POST or None, initial=initial(volunteer))
        if request.method == "POST" and form.is_valid():
            try:
                act(volunteer, form.cleaned_data)
            except ValidationError as exc:
                named = next((name for name in form.fields if name in " ".join(exc.messages)), field)
                form.add_error(named, exc)
            else:
                self.message_user(request, done, messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:volunteers_volunteer_change", args=[pk]))
        context = {
            **self.admin_site.each_context(request),
            "volunteer": volunteer,
            "form": form,
            "title": f"{title} {volunteer}",
            "opts": self.model._meta,
        }
        return render(request, template, context)

    def status_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self._record_change(
            request,
            pk,
            form_class=StatusForm,
            initial=lambda volunteer: {"to": volunteer.status},
            act=lambda volunteer, data: services.volunteer_transition(
                volunteer=volunteer, to=data["to"], by=request.user, reason=data["reason"]
            ),
            field="to",
            done="Status changed.",
            title="Change status of",
            template="admin/volunteers/volunteer/status.html",
        )

    def identity_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self._record_change(
            request,
            pk,
            form_class=IdentityForm,
            initial=lambda volunteer: {"protected": volunteer.identity_protected, "pseudonym": volunteer.pseudonym},
            act=lambda volunteer, data: services.identity_protection_set(
                volunteer=volunteer,
                protected=data["protected"],
                pseudonym=data["pseudonym"],
                by=request.user,
                reason=data["reason"],
            ),
            field="reason",
            done="Identity protection saved.",
            title="Identity protection of",
            template="admin/volunteers/volunteer/identity.html",
        )


class VolunteerRecordAdmin(SchemeScopedAdmin):
    """Admin of a record about one volunteer: scoped by the volunteer's scheme (the volunteer picker
    offers only that scheme's volunteers, as every admin choice does)."""


class VettingCheckInline(admin.StackedInline):
    """Stacked, not a table: each check's result and notes stay on screen at 320 px, labelled."""

    model = VettingCheck
    verbose_name = "check"
    fields = ["kind", "result", "notes", "done_by", "done_at"]
    readonly_fields = ["done_by", "done_at"]
    extra = 1
    can_delete = False
    labels = {"kind": "Check", "done_by": "Done by", "done_at": "Done"}

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a check is recorded once; a correction is a new vetting record


class VettingDecisionForm(forms.ModelForm):
    class Meta:
        model = VettingRecord
        fields = ["volunteer", "level", "outcome", "reasons"]


@admin.register(VettingRecord)
class VettingRecordAdmin(VolunteerRecordAdmin):
    form = VettingDecisionForm
    list_display = ["volunteer", "outcome", "level", "expires_at", "integrity_review_due", "decided_at"]
    list_filter = ["outcome", "level"]
    list_select_related = ["volunteer__user"]
    inlines = [VettingCheckInline]
    labels = {
        "level": "Vetting level",
        "reasons": "Reasons for the decision",
        "decided_at": "Decided",
        "expires_at": "Clearance expires",
        "integrity_review_due": "Integrity review due",
        "started_at": "Started",
    }
    readonly_fields = ["decided_by", "decided_at", "expires_at", "integrity_review_due", "started_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fixed = list(self.readonly_fields)
        if obj is not None:
            fixed += ["volunteer", "level"]
            if obj.outcome != VettingRecord.Outcome.PENDING:
                fixed += ["outcome", "reasons"]
        return fixed

    def save_model(self, request: HttpRequest, obj: VettingRecord, form: Any, change: bool) -> None:
        if not change:
            record = services.vetting_start(volunteer=obj.volunteer, level=obj.level, by=request.user)
            obj.pk = record.pk
            obj._state.adding = False
            obj.refresh_from_db()
        self._pending_decision = (
            (form.cleaned_data.get("outcome"), form.cleaned_data.get("reasons", ""))
            if "outcome" in form.changed_data and form.cleaned_data.get("outcome") != VettingRecord.Outcome.PENDING
            else None
        )

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        # Checks are written by the service (which refuses them once vetting is decided), not the formset.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for check_form in formset.forms:
            if check_form.has_changed() and check_form.cleaned_data and not check_form.instance.pk:
                data = check_form.cleaned_data
                services.vetting_record_check(
                    record=form.instance, kind=data["kind"], result=data["result"], notes=data["notes"], by=request.user
                )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        decision = getattr(self, "_pending_decision", None)
        if decision:
            form.instance.refresh_from_db()
            services.vetting_decide(record=form.instance, outcome=decision[0], reasons=decision[1], by=request.user)

    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return super().changeform_view(request, *args, **kwargs)
        except ValidationError as exc:
            # The service refused (missing checks, no reasons): nothing was saved; say why.
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AdverseInformation)
class AdverseInformationAdmin(VolunteerRecordAdmin):
    list_display = ["volunteer", "resolved_at", "reported_at", "reported_by"]
    fields = ["volunteer", "summary", "reported_by", "reported_at", "resolution", "resolved_by", "resolved_at"]
    labels = {"reported_at": "Reported", "resolved_at": "Resolved"}
    readonly_fields = ["reported_by", "reported_at", "resolved_by", "resolved_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return [*self.readonly_fields, "resolution"]
        return [*self.readonly_fields, "volunteer", "summary"] + (["resolution"] if obj.resolved_at else [])

    def save_model(self, request: HttpRequest, obj: AdverseInformation, form: Any, change: bool) -> None:
        if not change:
            created = services.adverse_information_report(volunteer=obj.volunteer, summary=obj.summary, by=request.user)
            obj.pk = created.pk
        elif form.cleaned_data.get("resolution"):
            services.adverse_information_resolve(
                item=AdverseInformation.objects.get(pk=obj.pk),
                resolution=form.cleaned_data["resolution"],
                by=request.user,
            )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(IntegrityReview)
class IntegrityReviewAdmin(VolunteerRecordAdmin):
    list_display = ["volunteer", "next_due", "done_at", "done_by"]
    fields = ["volunteer", "notes", "done_by", "done_at", "next_due"]
    labels = {"done_at": "Done", "next_due": "Next review due"}
    readonly_fields = ["done_by", "done_at", "next_due"]

    def save_model(self, request: HttpRequest, obj: IntegrityReview, form: Any, change: bool) -> None:
        created = services.integrity_review_record(volunteer=obj.volunteer, notes=obj.notes, by=request.user)
        obj.pk = created.pk

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class InvitationForm(forms.ModelForm):
    class Meta:
        model = Invitation
        fields = ["email", "full_name"]


@admin.register(Invitation)
class InvitationAdmin(SchemeScopedAdmin):
    form = InvitationForm
    list_display = ["email", "state", "full_name", "created_by", "created_at", "expires_at"]
    search_fields = ["email", "full_name"]
    actions = ["revoke"]
    labels = {"email": "E-mail address", "created_at": "Sent", "expires_at": "Expires", "used_at": "Accepted"}

    @admin.display(description="State")
    def state(self, obj: Invitation) -> str:
        if obj.used_at:
            return "Accepted"
        if obj.revoked_at:
            return "Revoked"
        return "Expired" if obj.expires_at <= timezone.now() else "Waiting"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["email", "full_name"] if obj else []

    def save_model(self, request: HttpRequest, obj: Invitation, form: Any, change: bool) -> None:
        scheme = request.user.scheme
        invitation, token = services.invitation_create(
            scheme=scheme, email=obj.email, full_name=obj.full_name, by=request.user
        )
        services.invitation_send(
            invitation=invitation, accept_url=request.build_absolute_uri(reverse("invitation_accept", args=[token]))
        )
        obj.pk = invitation.pk

    def add_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.scheme_id is None:
            self.message_user(request, "Only members of a scheme can invite volunteers to it.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:volunteers_invitation_changelist"))
        try:
            return super().add_view(request, *args, **kwargs)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    @admin.action(description="Revoke the selected invitations", permissions=["add"])
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        # Whoever may invite may withdraw an invitation; each withdrawal is audited by the service.
        count = sum(services.invitation_revoke(invitation=invitation, by=request.user) for invitation in queryset)
        self.message_user(request, f"{count} invitation(s) revoked.", messages.SUCCESS)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CodeOfConduct)
class CodeOfConductAdmin(admin.ModelAdmin):
    list_display = ["version", "title", "published_at", "published_by"]
    fields = ["title", "text"]
    labels = {"published_at": "Published"}

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["title", "text"] if obj else []

    def save_model(self, request: HttpRequest, obj: CodeOfConduct, form: Any, change: bool) -> None:
        published = services.conduct_publish(title=obj.title, text=obj.text, by=request.user)
        obj.pk = published.pk

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SchemeVolunteerSettings)
class SchemeVolunteerSettingsAdmin(SchemeScopedAdmin):
    list_display = ["scheme", "required_level", "screening_months", "exposure_threshold_minutes"]
    labels = {
        "required_level": "Vetting level required",
        "renewal_years": "Years before vetting is renewed, by level",
        "integrity_review_months": "Months between integrity reviews",
        "screening_months": "Months between welfare screenings",
        "heavy_exposure_screening_months": "Months between screenings after heavy exposure",
        "heavy_exposure_minutes_per_year": "Heavy exposure: minutes a year",
        "exposure_threshold_minutes": "Exposure that stands someone down (minutes)",
        "exposure_window_days": "Days the exposure threshold counts over",
        "invitation_days": "Days an invitation lasts",
    }

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class WelfareOnlyAdmin(ConsultationAuditedAdmin, ReadOnlyAdmin, SchemeScopedAdmin):
    """Welfare models: welfare officers of the scheme only, whatever model permissions say."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_welfare_officer(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and not can_read_welfare_detail(request.user, obj.scheme_id):
            return False
        return is_welfare_officer(request.user)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        if not is_welfare_officer(request.user):
            return self.model.objects.none()
        return super().get_queryset(request)


@admin.register(ScreeningRecord)
class ScreeningRecordAdmin(WelfareOnlyAdmin):
    list_display = ["person", "next_due", "outcome", "kind", "screened_on"]
    list_filter = ["kind", "outcome"]
    labels = {"screened_on": "Screened", "next_due": "Next due", "recorded_at": "Recorded"}
    fields = [
        "person",
        "kind",
        "screened_on",
        "provider",
        "outcome",
        "restrictions",
        "clinical_notes",
        "next_due",
        "recorded_by",
        "recorded_at",
    ]


@admin.register(ExposureEvent)
class ExposureEventAdmin(WelfareOnlyAdmin):
    list_display = ["person", "at", "minutes", "source"]
    labels = {"at": "When", "source": "What was seen or heard"}


@admin.register(StandDown)
class StandDownAdmin(WelfareOnlyAdmin):
    list_display = ["person", "lifted_at", "reason", "at"]
    labels = {"at": "Stood down", "lifted_at": "Lifted"}
    fields = ["person", "reason", "detail", "at", "by", "lifted_at", "lifted_by"]


@admin.register(ScreeningRequest)
class ScreeningRequestAdmin(WelfareOnlyAdmin):
    list_display = ["person", "closed_at", "kind", "opened_at"]
    labels = {"opened_at": "Opened", "closed_at": "Closed"}
