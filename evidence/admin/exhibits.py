"""Exhibits in the officer admin: read-only, custody in words, reviewed with a safe preview; unused material."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import smart_split, unescape_string_literal
from django.views.decorators.clickjacking import xframe_options_sameorigin

from evidence import services
from evidence.admin.common import TYPE_LABELS, ReadOnlyInline, ReferenceColumnsMixin, hash_html, role_words, short
from evidence.admin.preview import TEXT_PREVIEW_BYTES, preview_plan, preview_text
from evidence.models import CustodyEvent, Exhibit, Tasking, UnusedMaterial
from evidence.policy import may_open_exhibit
from portal.admin import ConsultationAuditedAdmin, ReadOnlyAdmin, SchemeScopedAdmin
from portal.display import EMPTY, file_size, json_rows, pairs_html, when
from portal.permissions import scheme_filter


def custody_detail(event: CustodyEvent) -> str:
    """What a custody event's recorded detail says, in words."""
    A, detail = CustodyEvent.Action, event.detail or {}
    if event.action == A.UPLOADED:
        kind = TYPE_LABELS.get(detail.get("type", ""), detail.get("type", "file"))
        return format_html(
            "{}, {}. SHA-256 on receipt: {}", kind, file_size(detail.get("size")), hash_html(detail.get("sha256", ""))
        )
    if event.action == A.HASH_VERIFIED:
        return format_html(
            "The SHA-256 the browser computed before sending matched the portal's: {}",
            hash_html(detail.get("server_sha256", "")),
        )
    if event.action in (A.VIEWED, A.DOWNLOADED):
        how = "Shown on the review page" if event.action == A.VIEWED else "The original file was downloaded"
        return f"{how}{' (quarantined material)' if detail.get('quarantined') else ''}."
    if event.action in (A.ACCEPTED, A.REJECTED, A.MARKED_UNUSED, A.REVIEWED):
        parts = [f"Scheduled on {detail['schedule']}." if detail.get("schedule") else ""]
        parts.append(f"Reason: {detail['reason']}" if detail.get("reason") else "")
        return " ".join(part for part in parts if part) or EMPTY
    if event.action == A.SENSITIVITY_CHANGED:
        now = "Quarantined" if detail.get("quarantined") else "No longer quarantined"
        return f"{now}. Reason: {detail.get('reason') or EMPTY}"
    if event.action in (A.INCLUDED_IN_BUNDLE, A.DISCLOSED):
        version = f"bundle version {detail['version']}" if detail.get("version") else "a handover bundle"
        to = f" to {detail['recipient']}" if detail.get("recipient") else ""
        return f"In {version}{to}." if event.action == A.INCLUDED_IN_BUNDLE else f"Disclosed in {version}{to}."
    return pairs_html(json_rows(detail))


class CustodyInline(ReadOnlyInline):
    """The exhibit's continuity, in words: when, what happened, who, and the detail recorded."""

    model = CustodyEvent
    verbose_name = "custody event"
    verbose_name_plural = "custody history"
    fields = ["at", "what", "who", "detail_in_words", "chain_hash"]
    readonly_fields = fields
    ordering = ["id"]
    labels = {"at": "When"}

    @admin.display(description="What happened")
    def what(self, obj: CustodyEvent) -> str:
        return obj.get_action_display()

    @admin.display(description="Who")
    def who(self, obj: CustodyEvent) -> str:
        if obj.actor_email == "system":
            return "The portal"
        return f"{obj.actor_email} ({role_words(obj.actor_role)})"

    @admin.display(description="Detail")
    def detail_in_words(self, obj: CustodyEvent) -> str:
        return custody_detail(obj)

    @admin.display(description="Chain hash (SHA-256)")
    def chain_hash(self, obj: CustodyEvent) -> str:
        return hash_html(obj.hash)


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(
        label="Your decision",
        choices=[
            (Exhibit.Review.ACCEPTED, "Accept"),
            (Exhibit.Review.REJECTED, "Reject"),
            (Exhibit.Review.UNUSED, "Mark as unused material"),
        ],
        widget=forms.RadioSelect,
        error_messages={"required": "Choose accept, reject or mark as unused material"},
    )
    schedule = forms.ChoiceField(
        label="Schedule (for unused material)",
        choices=[("", "Not unused material"), *UnusedMaterial.Schedule.choices],
        required=False,
        help_text="MG6C if it is not sensitive, MG6D if it is.",
    )
    reason = forms.CharField(
        label="Reason",
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Needed to reject, and for MG6D: why the material is sensitive.",
    )


class SensitivityForm(forms.Form):
    quarantined = forms.BooleanField(required=False, label="Possible indecent image of a child (quarantine)")
    reason = forms.CharField(
        label="Why the sensitivity is changing",
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Enter why the sensitivity is changing"},
    )


def _search_words(search_term: str) -> list[str]:
    """The words of a search as the admin splits them: quoted phrases kept whole."""
    words = []
    for word in smart_split(search_term):
        if word[:1] in {'"', "'"} and word[-1:] == word[:1]:
            word = unescape_string_literal(word)
        if word:
            words.append(word)
    return words


def _field_for(message: str) -> str | None:
    """Which review field a service's refusal is about, so the error sits beside it."""
    lowered = message.lower()
    return "schedule" if "schedule" in lowered else ("reason" if "reason" in lowered else None)


@admin.register(Exhibit)
class ExhibitAdmin(ReferenceColumnsMixin, ConsultationAuditedAdmin, ReadOnlyAdmin, SchemeScopedAdmin):
    """Evidence is read-only; review, sensitivity and downloads go through services that write custody."""

    list_display = ["reference", "review_state", "tasking_reference", "file", "captured_at", "producer"]
    list_filter = ["review_state", "quarantined", "tasking"]
    filter_titles = {"review_state": "review", "quarantined": "quarantine"}
    list_select_related = ["tasking", "producer"]
    # Newest first on an index: the model's ordering (tasking, producer, sequence) sorted every exhibit of
    # the scheme on each page. An officer finds one by its reference, its tasking's, or the other party.
    ordering = ["-submitted_at", "-id"]
    # Searched by get_search_results below, not by the admin's own OR across the three.
    search_fields = ["=reference", "^tasking__reference", "other_party"]
    search_help_text = (
        "An exhibit's reference in full, the start of a tasking's reference, or the other party's account."
    )
    show_full_result_count = False  # "of N in all" would count the whole scheme's exhibits on every search

    def get_search_results(self, request: HttpRequest, queryset: Any, search_term: str) -> tuple[Any, bool]:
        """The same search as `search_fields` says (every word must match one of the three), asked so that
        each of the three is an index on the exhibit: the admin's own OR joined the tasking for its
        reference, so PostgreSQL read every exhibit of the scheme in the list (51 ms over 40,000 awaiting)
        instead of combining three index scans. The taskings whose reference starts with the word are
        found first (a scheme's taskings are few); an exhibit's reference and the other party are matched
        through the indexes migration 0020 makes (its trigram index on PostgreSQL)."""
        for word in _search_words(search_term):
            taskings = list(
                scheme_filter(Tasking.objects.all(), request.user)
                .filter(reference__istartswith=word)
                .values_list("pk", flat=True)
            )
            queryset = queryset.filter(
                Q(reference__iexact=word) | Q(tasking_id__in=taskings) | Q(other_party__icontains=word)
            )
        return queryset, False

    readonly_fields = [
        "actions_links",
        "conduct_review",
        "kind",
        "size_in_words",
        "sha256_in_full",
        "browser_sha256_in_full",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "reference",
                    "tasking",
                    "producer",
                    "review_state",
                    "review_reason",
                    "reviewed_by",
                    "reviewed_at",
                    "actions_links",
                ]
            },
        ),
        (
            "What was captured",
            {"fields": ["description", "platform", "other_party", "url", "captured_at", "capture_method"]},
        ),
        (
            "The file",
            {
                "fields": [
                    "original_name",
                    "kind",
                    "size_in_words",
                    "sha256_in_full",
                    "browser_sha256_in_full",
                    "quarantined",
                    "distressing",
                    "submitted_at",
                ]
            },
        ),
        ("Decoy conduct guard", {"fields": ["conduct_review"]}),
    ]
    inlines = [CustodyInline]
    labels = {
        "review_state": "Review",
        "review_reason": "Review reason",
        "reviewed_at": "Reviewed",
        "producer": "Produced by",
        "url": "Web address",
        "other_party": "Other party's accounts",
        "captured_at": "Captured",
        "capture_method": "How it was captured",
        "original_name": "File name as uploaded",
        "quarantined": "Quarantined",
        "distressing": "Distressing",
        "submitted_at": "Uploaded",
    }

    @admin.display(description="Type", ordering="sniffed_type")
    def kind(self, obj: Exhibit) -> str:
        return TYPE_LABELS.get(obj.sniffed_type, obj.sniffed_type)

    @admin.display(description="File", ordering="sniffed_type")
    def file(self, obj: Exhibit) -> str:
        summary = f"{self.kind(obj)}, {file_size(obj.size)}"
        return f"Quarantined: {summary}" if obj.quarantined else summary

    @admin.display(description="Size", ordering="size")
    def size_in_words(self, obj: Exhibit) -> str:
        return file_size(obj.size)

    @admin.display(description="SHA-256")
    def sha256_in_full(self, obj: Exhibit) -> str:
        return hash_html(obj.sha256)

    @admin.display(description="SHA-256 computed by the browser")
    def browser_sha256_in_full(self, obj: Exhibit) -> str:
        if not obj.browser_sha256:
            return "None sent (the browser could not compute one)"
        return hash_html(obj.browser_sha256)

    @admin.display(description="Decoy conduct guard")
    def conduct_review(self, obj: Exhibit) -> str:
        if not obj.conduct_flags:
            return "No decoy-side line matched the instigation phrases."
        lines = "; ".join(f"line {flag['line']}: “{flag['text']}”" for flag in obj.conduct_flags[:20])
        return f"Check these decoy-side lines for instigation (an aid, not a finding): {lines}"

    @admin.display(description="Actions")
    def actions_links(self, obj: Exhibit) -> str:
        review = reverse("admin:evidence_exhibit_review", args=[obj.pk])
        if obj.disposed_at is not None:
            return format_html('<a href="{}">See its record</a> · disposed of {}', review, when(obj.disposed_at))
        download = reverse("exhibit_download", args=[obj.pk])
        note = "; quarantined: needs the specific permission and counts as welfare exposure" if obj.quarantined else ""
        label = (
            "Review it" if obj.review_state == Exhibit.Review.AWAITING else "See its review or change its sensitivity"
        )
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">Download the original</a> (recorded in custody{})',
            review,
            label,
            download,
            note,
        )

    def get_urls(self) -> list:
        # The preview is framed by its own review page (same origin only); every other page refuses framing.
        preview = xframe_options_sameorigin(self.preview_view)
        return [
            path("<int:pk>/review/", self.admin_site.admin_view(self.review_view), name="evidence_exhibit_review"),
            path("<int:pk>/preview/", self.admin_site.admin_view(preview), name="evidence_exhibit_preview"),
            *super().get_urls(),
        ]

    def preview_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """An exhibit's content as its review page shows it: an image as the image (the page draws it from
        here), text as plain text, through the same check as a download and recorded in custody as viewed.
        Never quarantined material; never a PDF, a video or sound; never anything the browser would run."""
        exhibit = get_object_or_404(self.get_queryset(request).select_related("tasking"), pk=pk)
        plan = preview_plan(exhibit)
        if plan.kind not in ("image", "text") or not may_open_exhibit(request.user, exhibit):
            raise Http404("No such preview.")
        try:
            if plan.kind == "image":
                response = FileResponse(
                    default_storage.open(exhibit.stored_name, "rb"), content_type=exhibit.sniffed_type
                )
            else:
                response = HttpResponse(preview_text(exhibit)[0], content_type="text/plain; charset=utf-8")
        except OSError:
            raise Http404("The exhibit's file cannot be read.") from None  # nothing was shown: no custody event
        services.exhibit_preview(exhibit=exhibit, by=request.user, request=request)
        response["Content-Disposition"] = "inline"
        response["Cache-Control"] = "no-store"
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox; frame-ancestors 'self'"
        return response

    def review_view(self, request: HttpRequest, pk: int) -> Any:
        exhibit = get_object_or_404(self.get_queryset(request).select_related("tasking", "producer"), pk=pk)
        if not request.user.has_perm("evidence.review_exhibit"):
            raise PermissionDenied
        review_form = ReviewForm(request.POST if "review" in request.POST else None)
        sensitivity_form = SensitivityForm(
            request.POST if "sensitivity" in request.POST else None,
            initial={"quarantined": exhibit.quarantined},
            prefix="sensitivity",  # both forms have a reason: the prefix keeps their fields apart
        )
        if "review" in request.POST and review_form.is_valid():
            data = review_form.cleaned_data
            try:
                exhibit = services.exhibit_review(
                    exhibit=exhibit,
                    decision=data["decision"],
                    reason=data["reason"],
                    schedule=data["schedule"],
                    by=request.user,
                )
            except ValidationError as exc:
                for message in exc.messages:
                    review_form.add_error(_field_for(message), message)
            else:
                messages.success(request, f"{exhibit.reference}: {exhibit.get_review_state_display().lower()}.")
                return redirect("admin:evidence_exhibit_change", exhibit.pk)
        if "sensitivity" in request.POST and sensitivity_form.is_valid():
            data = sensitivity_form.cleaned_data
            try:
                services.exhibit_set_quarantine(
                    exhibit=exhibit, quarantined=data["quarantined"], reason=data["reason"], by=request.user
                )
            except ValidationError as exc:
                for message in exc.messages:
                    sensitivity_form.add_error("reason", message)
            else:
                messages.success(request, f"{exhibit.reference}: sensitivity recorded.")
                return redirect("admin:evidence_exhibit_change", exhibit.pk)
        context = {
            **self.admin_site.each_context(request),
            **self._preview_context(request, exhibit),
            "exhibit": exhibit,
            "kind": self.kind(exhibit),
            "review_form": review_form,
            "sensitivity_form": sensitivity_form,
            "errors": [
                (form, name, error)
                for form in (review_form, sensitivity_form)
                for name, errors in form.errors.items()
                for error in errors
            ],
            "title": f"Review {exhibit.reference}",
            "opts": self.model._meta,
            "original": exhibit,
        }
        return render(request, "admin/evidence/exhibit/review.html", context)

    def _preview_context(self, request: HttpRequest, exhibit: Exhibit) -> dict:
        """What the preview shows. The page itself never reads the file: the browser fetches the image, or the
        text into a sandboxed frame, from preview_view, which records the viewing in custody. Distressing
        material waits for the officer to ask, as it counts towards their exposure."""
        plan = preview_plan(exhibit)
        context: dict = {"preview": plan, "preview_more": exhibit.size > TEXT_PREVIEW_BYTES}
        if plan.kind not in ("image", "text") or not may_open_exhibit(request.user, exhibit):
            context["preview_shown"] = False
            return context
        context["preview_shown"] = not exhibit.distressing or request.GET.get("preview") == "show"
        return context


@admin.register(UnusedMaterial)
class UnusedMaterialAdmin(ReferenceColumnsMixin, ReadOnlyAdmin, SchemeScopedAdmin):
    list_display = ["schedule", "exhibit", "tasking_reference", "short_description", "by", "at"]
    list_filter = ["schedule", "tasking"]
    list_select_related = ["tasking", "exhibit", "by"]
    labels = {"by": "Scheduled by", "at": "Scheduled"}

    @admin.display(description="Description")
    def short_description(self, obj: UnusedMaterial) -> str:
        return short(obj.description, 60)
