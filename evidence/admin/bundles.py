"""Handover bundles in the officer admin: their progress, their signed PDF, and sharing them with a court."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import CharField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Cast
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from evidence import services
from evidence.admin.common import ReferenceColumnsMixin, hash_html
from evidence.bundles.withdraw import withdrawn_files_text, withdrawn_notice, withdrawn_summary
from evidence.custody import disposed_notice
from evidence.models import BundleAccess, BundleShare, HandoverBundle
from evidence.policy import may_download_bundle, may_follow_bundle, may_share_bundle, sensitive_part_refusal
from portal import roles
from portal.admin import ReadOnlyAdmin, SchemeScopedAdmin
from portal.display import when
from portal.models import Job, User
from portal.permissions import scheme_filter


@admin.register(HandoverBundle)
class HandoverBundleAdmin(ReferenceColumnsMixin, ReadOnlyAdmin, SchemeScopedAdmin):
    list_display = ["progress", "download", "tasking_reference", "version", "requested_by", "requested_at"]
    list_display_links = ["version"]
    list_filter = ["state"]
    list_select_related = ["tasking", "requested_by", "files_withdrawn_for"]
    change_form_template = "admin/evidence/handoverbundle/change_form.html"
    fieldsets = [
        (None, {"fields": ["tasking", "version", "progress", "requested_by", "requested_at", "finished_at"]}),
        ("The signed bundle", {"fields": ["page_count", "pdf_sha256_in_full", "package_sha256_in_full", "error"]}),
        ("Its files in the portal", {"fields": ["files_in_storage", "files_withdrawn_list"]}),
    ]
    readonly_fields = [
        "progress",
        "pdf_sha256_in_full",
        "package_sha256_in_full",
        "files_in_storage",
        "files_withdrawn_list",
    ]
    labels = {"requested_at": "Requested", "finished_at": "Finished", "page_count": "Pages", "error": "Error"}

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # The build job's progress beside each bundle, in the list's one query (not one per row).
        jobs = Job.objects.filter(kind="evidence.bundle_build", object_id=Cast(OuterRef("pk"), CharField())).order_by(
            "-id"
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                job_state=Subquery(jobs.values("state")[:1]),
                job_progress=Subquery(jobs.values("progress")[:1]),
                job_stage=Subquery(jobs.values("stage")[:1]),
                job_error=Subquery(jobs.values("last_error")[:1]),
            )
        )

    @admin.display(description="State", ordering="state")
    def progress(self, obj: HandoverBundle) -> str:
        if obj.files_withdrawn_at is not None:
            return "Files withdrawn"
        if obj.state == HandoverBundle.State.READY:
            return "Ready"
        job_state = getattr(obj, "job_state", None)
        if job_state is None:
            return obj.get_state_display()
        if job_state == Job.State.FAILED:
            return f"Failed: {obj.job_error or 'no reason recorded'}"
        return f"{obj.job_progress}% — {obj.job_stage or Job.State(job_state).label}"

    @admin.display(description="Signed PDF")
    def download(self, obj: HandoverBundle) -> str:
        if obj.files_withdrawn_at is not None:
            return withdrawn_summary(obj)
        if obj.state != HandoverBundle.State.READY:
            return format_html('<a href="{}">Follow progress</a>', reverse("bundle_status", args=[obj.pk]))
        return format_html('<a href="{}">Download signed PDF</a>', reverse("bundle_download", args=[obj.pk]))

    @admin.display(description="SHA-256 of the signed PDF")
    def pdf_sha256_in_full(self, obj: HandoverBundle) -> str:
        return hash_html(obj.pdf_sha256)

    @admin.display(description="SHA-256 of the package (ZIP)")
    def package_sha256_in_full(self, obj: HandoverBundle) -> str:
        return hash_html(obj.package_sha256) if obj.package_sha256 else "No package: everything is in the PDF"

    @admin.display(description="Files")
    def files_in_storage(self, obj: HandoverBundle) -> str:
        if obj.files_withdrawn_at is not None:
            return (
                f"{withdrawn_notice(obj)} {disposed_notice(obj.files_withdrawn_for)} The bundle's record, SHA-256 and "
                "manifest are kept; copies already handed to a court or the CPS are not affected."
            )
        if obj.state != HandoverBundle.State.READY:
            return "Not built yet."
        return "Held in the portal's storage."

    @admin.display(description="Files withdrawn")
    def files_withdrawn_list(self, obj: HandoverBundle) -> str:
        return withdrawn_files_text(obj) or "None"

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict,
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> Any:
        if obj is not None:
            withdrawn = obj.files_withdrawn_at is not None
            context["bundle_links"] = {
                "tasking": reverse("admin:evidence_tasking_change", args=[obj.tasking_id]),
                "follow": obj.state != HandoverBundle.State.READY and may_follow_bundle(request.user, obj),
                "download": not withdrawn and may_download_bundle(request.user, obj),
                "share": not withdrawn
                and may_share_bundle(request.user, obj)
                and obj.state == HandoverBundle.State.READY,
                "withdrawn": withdrawn_summary(obj) if withdrawn else "",
            }
        return super().render_change_form(request, context, add, change, form_url, obj)


class BundleShareForm(forms.ModelForm):
    class Meta:
        model = BundleShare
        fields = ["bundle", "recipient", "parts", "until"]
        widgets = {"parts": forms.RadioSelect}
        labels = {
            "bundle": "Bundle",
            "recipient": "Court or CPS recipient",
            "parts": "What they receive",
            "until": "Shared until",
        }
        help_texts = {
            "bundle": "Only bundles that are ready, and whose files are still held, can be shared.",
            "parts": "The sensitive part (authorisation, persona and permitted conduct, protected identities, MG6D) "
            "goes only to someone recorded as a CPS prosecutor, never to a court or the defence.",
            "recipient": "Only court and CPS recipients' accounts are listed. They see the bundle under “Bundles "
            "shared with you” and can download and verify it until the share ends.",
        }
        error_messages = {
            "bundle": {"required": "Choose the bundle to share"},
            "recipient": {"required": "Choose the court or CPS recipient"},
            "until": {"required": "Enter the date and time the share ends"},
        }

    def clean(self) -> dict:
        cleaned = super().clean()
        recipient, parts = cleaned.get("recipient"), cleaned.get("parts")
        refusal = sensitive_part_refusal(recipient, parts) if recipient and parts else None
        if refusal:
            self.add_error("parts", refusal)
        return cleaned


@admin.register(BundleShare)
class BundleShareAdmin(SchemeScopedAdmin):
    form = BundleShareForm
    list_display = ["bundle", "recipient", "parts", "in_force", "until", "shared_by", "shared_at"]
    list_select_related = ["bundle__tasking", "recipient", "shared_by"]
    actions = ["revoke_shares"]
    labels = {"until": "Shared until", "shared_at": "Shared", "revoked_at": "Revoked"}

    @admin.display(description="In force")
    def in_force(self, obj: BundleShare) -> str:
        if obj.revoked_at:
            return f"Revoked {when(obj.revoked_at)}"
        return "Yes" if obj.until > timezone.now() else "Ended"

    def default_until(self) -> datetime:
        """The end of the day PORTAL_BUNDLE_SHARE_DAYS days from today, UK time."""
        day = timezone.localtime() + timedelta(days=settings.PORTAL_BUNDLE_SHARE_DAYS)
        return day.replace(hour=23, minute=59, second=0, microsecond=0)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        initial = super().get_changeform_initial_data(request)  # ?bundle=<id> from the bundle's pages
        initial.setdefault("until", self.default_until())
        return initial

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, **kwargs)
        if "bundle" in form.base_fields:
            form.base_fields["bundle"].queryset = scheme_filter(
                HandoverBundle.objects.filter(state=HandoverBundle.State.READY, files_withdrawn_at__isnull=True),
                request.user,
                field="tasking__scheme",
            ).select_related("tasking")
            form.base_fields["recipient"].queryset = User.objects.filter(groups__name=roles.COURT.code, is_active=True)
            days = settings.PORTAL_BUNDLE_SHARE_DAYS
            form.base_fields["until"].help_text = (
                f"UK time. It is set to {days} days from today; choose an earlier date if the case needs it. "
                "You can revoke a share at any time."
            )
        return form

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> Any:
        extra_context = {
            "title": "Share a bundle with a court or CPS recipient",
            "show_save_and_add_another": False,
            "show_save_and_continue": False,
            **(extra_context or {}),
        }
        try:
            return super().add_view(request, form_url, extra_context)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return redirect(request.get_full_path())

    def save_model(self, request: HttpRequest, obj: BundleShare, form: Any, change: bool) -> None:
        share = services.bundle_share(
            bundle=obj.bundle, recipient=obj.recipient, until=obj.until, by=request.user, parts=obj.parts
        )
        obj.pk = share.pk

    def response_add(self, request: HttpRequest, obj: BundleShare, post_url_continue: Any = None) -> HttpResponse:
        recipient = obj.recipient.get_full_name() or obj.recipient.email
        self.message_user(
            request,
            f"Shared {obj.bundle}{' and its sensitive part' if obj.parts == BundleShare.Parts.BOTH else ''} with "
            f"{recipient} until {when(obj.until)}. They can download and verify it under "
            "“Bundles shared with you”. Revoke the share here if that must stop sooner.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:evidence_bundleshare_changelist"))

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
    labels = {"user": "Downloaded by", "at": "Downloaded", "ip": "IP address"}
