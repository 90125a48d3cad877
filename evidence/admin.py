"""Officer admin for evidence: authorisations, taskings and assignments (scheme-scoped); exhibits read-only."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from evidence import services
from evidence.models import (
    Assignment,
    Authorisation,
    BundleAccess,
    BundleShare,
    CustodyEvent,
    Exhibit,
    HandoverBundle,
    SafeguardingAlert,
    Tasking,
    UnusedMaterial,
)
from evidence.policy import may_download_bundle, may_follow_bundle, may_share_bundle, tasking_problems
from portal import roles
from portal.admin import ConsultationAuditedAdmin, ReadOnlyAdmin, SchemeScopedAdmin
from portal.models import User
from portal.permissions import scheme_filter


@admin.register(Authorisation)
class AuthorisationAdmin(SchemeScopedAdmin):
    list_display = [
        "reference",
        "kind",
        "authorising_officer",
        "authorising_rank",
        "granted_at",
        "expires_at",
        "cancelled_at",
    ]
    list_filter = ["kind"]
    search_fields = ["reference", "authorising_officer"]
    readonly_fields = ["cancelled_at", "cancelled_by", "recorded_by", "recorded_at"]
    fields = [
        "kind",
        "reference",
        "authorising_officer",
        "authorising_rank",
        "urgent",
        "granted_at",
        "expires_at",
        "review_dates",
        "cancellation_reason",
        *readonly_fields,
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return [*self.readonly_fields, "cancellation_reason"]
        fixed = ["kind", "reference", "authorising_officer", "authorising_rank", "urgent", "granted_at", "expires_at"]
        return [*fixed, *self.readonly_fields] + (["cancellation_reason"] if obj.cancelled_at else [])

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, **kwargs)
        if obj is None and "expires_at" in form.base_fields:
            form.base_fields["expires_at"].required = False
            form.base_fields["expires_at"].help_text = (
                "Leave empty for the standard period: 72 hours if urgent, 12 months for a CHIS, 3 months for "
                "directed surveillance."
            )
        return form

    def save_model(self, request: HttpRequest, obj: Authorisation, form: Any, change: bool) -> None:
        if not change:
            obj.scheme_id = request.user.scheme_id
            obj.recorded_by = request.user
            if obj.expires_at is None:
                obj.expires_at = services.authorisation_default_expiry(
                    kind=obj.kind, granted_at=obj.granted_at, urgent=obj.urgent
                )
            super().save_model(request, obj, form, change)
        elif form.cleaned_data.get("cancellation_reason") and not obj.cancelled_at:
            try:
                services.authorisation_cancel(
                    authorisation=Authorisation.objects.get(pk=obj.pk),
                    by=request.user,
                    reason=form.cleaned_data["cancellation_reason"],
                )
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
        else:
            super().save_model(request, obj, form, change)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and request.user.scheme_id is not None

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AssignmentInline(admin.TabularInline):
    model = Assignment
    fields = ["volunteer", "assigned_by", "assigned_at", "ended_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class HandoverBundleInline(admin.TabularInline):
    """The tasking's bundles, newest first. Read-only: a bundle is made by requesting one, never edited."""

    model = HandoverBundle
    fields = ["version", "state", "requested_by", "requested_at", "finished_at", "follow_or_download"]
    readonly_fields = fields
    ordering = ["-version"]
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("tasking", "requested_by")

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        # Inline instances are made afresh for each request, so the viewer can be kept for the links below.
        self.viewer = request.user
        return super().get_formset(request, obj, **kwargs)

    @admin.display(description="Progress or PDF")
    def follow_or_download(self, obj: HandoverBundle) -> str:
        viewer = getattr(self, "viewer", None)
        if viewer is None or obj.pk is None:
            return "—"
        if may_download_bundle(viewer, obj):
            return format_html('<a href="{}">Download signed PDF</a>', reverse("bundle_download", args=[obj.pk]))
        if obj.state != HandoverBundle.State.READY and may_follow_bundle(viewer, obj):
            return format_html('<a href="{}">Follow progress</a>', reverse("bundle_status", args=[obj.pk]))
        return "—"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TaskingForm(forms.ModelForm):
    assign = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(), required=False, help_text="Assign volunteers (grants them permission to submit)."
    )

    class Meta:
        model = Tasking
        fields = [
            "reference",
            "title",
            "objective",
            "permitted_conduct",
            "platforms",
            "persona",
            "window_start",
            "window_end",
            "authorisation",
            "handler",
            "controller",
        ]


@admin.register(Tasking)
class TaskingAdmin(SchemeScopedAdmin):
    form = TaskingForm
    list_display = ["reference", "title", "status", "window_start", "window_end", "authorisation", "live"]
    list_filter = ["status"]
    search_fields = ["reference", "title"]
    inlines = [AssignmentInline, HandoverBundleInline]
    actions = ["activate", "suspend", "close", "request_bundle"]
    change_form_template = "admin/evidence/tasking/change_form.html"

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> list:
        return self.inlines if obj is not None else [AssignmentInline]  # a new tasking has no bundles yet

    @admin.display(description="Can take evidence now")
    def live(self, obj: Tasking) -> str:
        from django.utils import timezone

        problems = tasking_problems(obj, timezone.now())
        return "Yes" if not problems else "No — " + " ".join(p.officer for p in problems)

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, **kwargs)
        if "authorisation" not in form.base_fields:  # view-only: every field is shown read-only
            return form
        scheme_users = scheme_filter(User.objects.filter(is_active=True), request.user)
        officers = scheme_users.filter(groups__name=roles.OFFICER.code)
        form.base_fields["handler"].queryset = officers
        form.base_fields["controller"].queryset = officers
        form.base_fields["assign"].queryset = scheme_users.filter(groups__name=roles.VOLUNTEER.code)
        return form

    def save_model(self, request: HttpRequest, obj: Tasking, form: Any, change: bool) -> None:
        if not change:
            obj.scheme_id = request.user.scheme_id
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        for volunteer in form.cleaned_data.get("assign", []):
            try:
                services.tasking_assign(tasking=form.instance, volunteer=volunteer, by=request.user)
            except ValidationError as exc:
                messages.warning(request, " ".join(exc.messages))

    def _move(self, request: HttpRequest, queryset: QuerySet, to: str) -> None:
        for tasking in queryset:
            try:
                services.tasking_set_status(tasking=tasking, to=to, by=request.user)
            except ValidationError as exc:
                messages.error(request, f"{tasking.reference}: {' '.join(exc.messages)}")
            else:
                messages.success(request, f"{tasking.reference} is now {tasking.get_status_display().lower()}.")

    def has_request_bundle_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Who may ask for a handover bundle: the same answer for the list action and the tasking's button."""
        from evidence.policy import may_request_bundle, may_request_bundles

        if obj is None:
            return self.has_change_permission(request) and may_request_bundles(request.user)
        return self.has_change_permission(request, obj) and may_request_bundle(request.user, obj)

    def _request_bundle(self, request: HttpRequest, tasking: Tasking) -> HandoverBundle | None:
        """Request one tasking's bundle and tell the officer what happened; None when it was refused."""
        from evidence.bundles import BundleRefused, bundle_request

        in_progress = HandoverBundle.State.QUEUED, HandoverBundle.State.BUILDING
        # bundle_request hands back the bundle already in progress rather than a new one; knowing which
        # were in progress beforehand is how the officer is told "already" instead of a fresh version.
        pending_before = set(tasking.bundles.filter(state__in=in_progress).values_list("pk", flat=True))
        try:
            bundle = bundle_request(tasking=tasking, by=request.user)
        except BundleRefused as exc:
            messages.error(
                request,
                f"A handover bundle for {tasking.reference} cannot be requested yet. "
                f"{'This needs' if len(exc.missing) == 1 else 'These need'} to be done first:",
            )
            for item in exc.missing:
                messages.error(request, item)
            return None
        already = " already" if bundle.pk in pending_before else ""
        messages.success(request, f"Bundle version {bundle.version} is{already} being built for {tasking.reference}.")
        return bundle

    @admin.action(description="Request a handover bundle for the selected taskings", permissions=["request_bundle"])
    def request_bundle(self, request: HttpRequest, queryset: QuerySet) -> None:
        for tasking in queryset:
            self._request_bundle(request, tasking)

    def get_urls(self) -> list:
        return [
            path(
                "<path:object_id>/request-bundle/",
                self.admin_site.admin_view(require_POST(self.request_bundle_view)),
                name="evidence_tasking_request_bundle",
            ),
            *super().get_urls(),
        ]

    def request_bundle_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The "Request handover bundle" button on a tasking's page."""
        if not self.has_request_bundle_permission(request):
            raise PermissionDenied
        tasking = self.get_object(request, unquote(object_id))
        if tasking is None:  # another scheme's tasking, or none at all: the same answer
            raise Http404("No such tasking.")
        if not self.has_request_bundle_permission(request, tasking):
            raise PermissionDenied
        bundle = self._request_bundle(request, tasking)
        if bundle is not None and may_follow_bundle(request.user, bundle):
            return redirect("bundle_status", bundle_id=bundle.pk)
        # Refused, or the requester may not open the progress page (it is for supervising officers): the
        # tasking's page shows the messages and lists its bundles.
        return redirect("admin:evidence_tasking_change", tasking.pk)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict,
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> Any:
        context["may_request_bundle"] = obj is not None and self.has_request_bundle_permission(request, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.action(description="Activate the selected taskings")
    def activate(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._move(request, queryset, Tasking.Status.ACTIVE)

    @admin.action(description="Suspend the selected taskings")
    def suspend(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._move(request, queryset, Tasking.Status.SUSPENDED)

    @admin.action(description="Close the selected taskings")
    def close(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._move(request, queryset, Tasking.Status.CLOSED)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CustodyInline(admin.TabularInline):
    model = CustodyEvent
    fields = ["at", "action", "actor_email", "actor_role", "detail", "hash"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[
            (Exhibit.Review.ACCEPTED, "Accept"),
            (Exhibit.Review.REJECTED, "Reject"),
            (Exhibit.Review.UNUSED, "Mark as unused material"),
        ],
        widget=forms.RadioSelect,
    )
    schedule = forms.ChoiceField(
        choices=[("", "—"), *UnusedMaterial.Schedule.choices],
        required=False,
        help_text="For unused material: MG6C if non-sensitive, MG6D if sensitive.",
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, help_text="Required to reject, and for MG6D."
    )


class SensitivityForm(forms.Form):
    quarantined = forms.BooleanField(required=False, label="Possible indecent image of a child (quarantine)")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))


@admin.register(Exhibit)
class ExhibitAdmin(ConsultationAuditedAdmin, ReadOnlyAdmin, SchemeScopedAdmin):
    """Evidence is read-only; review, sensitivity and downloads go through services that write custody."""

    list_display = [
        "reference",
        "tasking",
        "producer",
        "captured_at",
        "sniffed_type",
        "size",
        "review_state",
        "quarantined",
    ]
    list_filter = ["review_state", "quarantined", "tasking"]
    list_select_related = ["tasking", "producer"]
    exclude = ["stored_name"]
    readonly_fields = ["actions_links", "conduct_review"]
    inlines = [CustodyInline]

    @admin.display(description="Decoy conduct guard")
    def conduct_review(self, obj: Exhibit) -> str:
        if not obj.conduct_flags:
            return "No decoy-side line matched the instigation phrases."
        lines = "; ".join(f"line {flag['line']}: “{flag['text']}”" for flag in obj.conduct_flags[:20])
        return f"Check these decoy-side lines for instigation (an aid, not a finding): {lines}"

    @admin.display(description="Actions")
    def actions_links(self, obj: Exhibit) -> str:
        review = reverse("admin:evidence_exhibit_review", args=[obj.pk])
        download = reverse("exhibit_download", args=[obj.pk])
        note = "; quarantined: needs the specific permission and counts as welfare exposure" if obj.quarantined else ""
        return format_html(
            '<a href="{}">Review or change sensitivity</a> · <a href="{}">Download the original</a> '
            "(recorded in custody{})",
            review,
            download,
            note,
        )

    def get_urls(self) -> list:
        return [
            path("<int:pk>/review/", self.admin_site.admin_view(self.review_view), name="evidence_exhibit_review"),
            *super().get_urls(),
        ]

    def review_view(self, request: HttpRequest, pk: int) -> Any:
        exhibit = get_object_or_404(self.get_queryset(request), pk=pk)
        if not request.user.has_perm("evidence.review_exhibit"):
            raise PermissionDenied
        review_form = ReviewForm(request.POST if "review" in request.POST else None)
        sensitivity_form = SensitivityForm(
            request.POST if "sensitivity" in request.POST else None, initial={"quarantined": exhibit.quarantined}
        )
        try:
            if "review" in request.POST and review_form.is_valid():
                data = review_form.cleaned_data
                exhibit = services.exhibit_review(
                    exhibit=exhibit,
                    decision=data["decision"],
                    reason=data["reason"],
                    schedule=data["schedule"],
                    by=request.user,
                )
                messages.success(request, f"{exhibit.reference}: {exhibit.get_review_state_display().lower()}.")
                return redirect("admin:evidence_exhibit_change", exhibit.pk)
            if "sensitivity" in request.POST and sensitivity_form.is_valid():
                data = sensitivity_form.cleaned_data
                services.exhibit_set_quarantine(
                    exhibit=exhibit, quarantined=data["quarantined"], reason=data["reason"], by=request.user
                )
                messages.success(request, f"{exhibit.reference}: sensitivity recorded.")
                return redirect("admin:evidence_exhibit_change", exhibit.pk)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        context = {
            **self.admin_site.each_context(request),
            "exhibit": exhibit,
            "review_form": review_form,
            "sensitivity_form": sensitivity_form,
            "title": f"Review {exhibit.reference}",
            "opts": self.model._meta,
        }
        return render(request, "admin/evidence/exhibit/review.html", context)


@admin.register(UnusedMaterial)
class UnusedMaterialAdmin(ReadOnlyAdmin, SchemeScopedAdmin):
    list_display = ["schedule", "tasking", "exhibit", "description", "by", "at"]
    list_filter = ["schedule", "tasking"]


@admin.register(SafeguardingAlert)
class SafeguardingAlertAdmin(ReadOnlyAdmin, SchemeScopedAdmin):
    list_display = ["raised_at", "tasking", "raised_by", "note", "acknowledged_at", "acknowledged_by", "waited"]
    list_filter = ["acknowledged_at"]
    list_select_related = ["tasking", "raised_by", "acknowledged_by"]
    actions = ["acknowledge"]

    @admin.display(description="Time to acknowledge")
    def waited(self, obj: SafeguardingAlert) -> str:
        delta = obj.time_to_acknowledge or (timezone.now() - obj.raised_at)
        minutes = int(delta.total_seconds() // 60)
        text = f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
        return text if obj.acknowledged_at else f"Waiting {text}"

    @admin.action(description="Acknowledge the selected alerts")
    def acknowledge(self, request: HttpRequest, queryset: QuerySet) -> None:
        for alert in queryset.filter(acknowledged_at__isnull=True):
            try:
                services.safeguarding_acknowledge(alert=alert, by=request.user)
            except (ValidationError, PermissionDenied) as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, f"Acknowledged: {alert}.")


@admin.register(HandoverBundle)
class HandoverBundleAdmin(ReadOnlyAdmin, SchemeScopedAdmin):
    list_display = ["tasking", "version", "state", "progress", "requested_by", "requested_at", "download"]
    list_filter = ["state"]
    list_select_related = ["tasking", "requested_by"]
    exclude = ["manifest"]

    @admin.display(description="Progress")
    def progress(self, obj: HandoverBundle) -> str:
        from evidence.bundles import bundle_job

        job = bundle_job(obj)
        if obj.state == HandoverBundle.State.READY:
            return "Ready"
        if job is None:
            return obj.get_state_display()
        return f"{job.progress}% — {job.stage or job.get_state_display()}" + (
            f" ({job.last_error})" if job.state == job.State.FAILED else ""
        )

    @admin.display(description="PDF")
    def download(self, obj: HandoverBundle) -> str:
        if obj.state != HandoverBundle.State.READY:
            return format_html('<a href="{}">Follow progress</a>', reverse("bundle_status", args=[obj.pk]))
        return format_html('<a href="{}">Download signed PDF</a>', reverse("bundle_download", args=[obj.pk]))


class BundleShareForm(forms.ModelForm):
    class Meta:
        model = BundleShare
        fields = ["bundle", "recipient", "until"]


@admin.register(BundleShare)
class BundleShareAdmin(SchemeScopedAdmin):
    form = BundleShareForm
    list_display = ["bundle", "recipient", "until", "shared_by", "shared_at", "revoked_at"]
    list_select_related = ["bundle__tasking", "recipient", "shared_by"]
    actions = ["revoke_shares"]

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, **kwargs)
        if "bundle" in form.base_fields:
            form.base_fields["bundle"].queryset = scheme_filter(
                HandoverBundle.objects.filter(state=HandoverBundle.State.READY), request.user, field="tasking__scheme"
            )
            form.base_fields["recipient"].queryset = User.objects.filter(groups__name=roles.COURT.code, is_active=True)
        return form

    def save_model(self, request: HttpRequest, obj: BundleShare, form: Any, change: bool) -> None:
        share = services.bundle_share(bundle=obj.bundle, recipient=obj.recipient, until=obj.until, by=request.user)
        obj.pk = share.pk

    def add_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().add_view(request, *args, **kwargs)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return redirect(request.get_full_path())

    @admin.action(description="Revoke the selected shares", permissions=["share"])
    def revoke_shares(self, request: HttpRequest, queryset: QuerySet) -> None:
        revoked = 0
        for share in queryset.filter(revoked_at__isnull=True).select_related("bundle__tasking"):
            services.bundle_share_revoke(share=share, by=request.user)
            revoked += 1
        self.message_user(request, f"{revoked} share(s) revoked.", messages.SUCCESS)

    def has_share_permission(self, request: HttpRequest) -> bool:
        """Sharing and revoking are disclosure decisions: the policy's, for the list action and the form."""
        return may_share_bundle(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and may_share_bundle(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(BundleAccess)
class BundleAccessAdmin(ReadOnlyAdmin, SchemeScopedAdmin):
    list_display = ["bundle", "user", "at", "ip"]
    list_select_related = ["bundle__tasking", "user"]
