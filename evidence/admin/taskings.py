"""Taskings in the officer admin: the operation, its volunteers, and its exhibits, notes, statements and bundles."""

from __future__ import annotations

import logging
from typing import Any

from allauth.account.decorators import reauthentication_required
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.defaultfilters import linebreaks_filter
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from evidence import services
from evidence.admin.common import TYPE_LABELS, EvidenceContentInline, ReadOnlyInline, ReferenceColumnsMixin, short
from evidence.bundles.withdraw import withdrawn_summary
from evidence.models import (
    Assignment,
    ContemporaneousNote,
    DeconflictionMatch,
    Exhibit,
    HandoverBundle,
    Statement,
    Tasking,
    TaskingIdentifier,
)
from evidence.policy import (
    may_download_bundle,
    may_export_deconfliction_set,
    may_follow_bundle,
    may_share_bundle,
    may_sign_schedules,
    tasking_problems,
)
from portal import roles
from portal.admin import SchemeScopedAdmin
from portal.display import EMPTY
from portal.models import User
from portal.permissions import scheme_filter


class AssignmentInline(ReadOnlyInline):
    model = Assignment
    fields = ["volunteer", "assigned_by", "assigned_at", "ended_at"]
    readonly_fields = fields
    labels = {"assigned_at": "Assigned", "ended_at": "Ended"}

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("volunteer", "assigned_by")

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_view_permission(request, obj) or request.user.has_perm("evidence.view_tasking")


class ExhibitInline(EvidenceContentInline):
    model = Exhibit
    fields = ["exhibit", "review", "described", "kind", "captured_at", "producer"]
    readonly_fields = fields
    ordering = ["submitted_at", "pk"]
    labels = {"captured_at": "Captured", "producer": "Produced by"}

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("producer")

    @admin.display(description="Exhibit")
    def exhibit(self, obj: Exhibit) -> str:
        if obj.pk is None:  # a row typed into a re-shown form: there is nothing to link to
            return EMPTY
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:evidence_exhibit_change", args=[obj.pk]), obj.reference
        )

    @admin.display(description="Review")
    def review(self, obj: Exhibit) -> str:
        if obj.pk is None:
            return EMPTY
        state = obj.get_review_state_display()
        viewer = getattr(self, "viewer", None)
        if (
            obj.review_state == Exhibit.Review.AWAITING
            and viewer is not None
            and viewer.has_perm("evidence.review_exhibit")
        ):
            url = reverse("admin:evidence_exhibit_review", args=[obj.pk])
            return format_html(
                '{} — <a href="{}">Review<span class="visually-hidden"> {}</span></a>', state, url, obj.reference
            )
        return state

    @admin.display(description="Description")
    def described(self, obj: Exhibit) -> str:
        return "Quarantined material: not described here" if obj.quarantined else short(obj.description, 80)

    @admin.display(description="Type")
    def kind(self, obj: Exhibit) -> str:
        return TYPE_LABELS.get(obj.sniffed_type, obj.sniffed_type)


class NoteInline(EvidenceContentInline):
    model = ContemporaneousNote
    verbose_name = "contemporaneous note"
    fields = ["written_at", "author", "note"]
    readonly_fields = fields
    labels = {"written_at": "Written"}

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("author")

    @admin.display(description="Note")
    def note(self, obj: ContemporaneousNote) -> str:
        return linebreaks_filter(obj.text, autoescape=True)  # escaped, then marked safe: paragraphs, not tags


class StatementInline(EvidenceContentInline):
    model = Statement
    verbose_name = "statement (MG11)"
    verbose_name_plural = "statements (MG11)"
    fields = ["author", "state", "created_at", "signed_at", "page_count", "produces", "text"]
    readonly_fields = fields
    ordering = ["created_at", "pk"]
    labels = {"state": "State", "created_at": "Started", "signed_at": "Signed", "page_count": "Pages"}

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("author").prefetch_related("exhibits")

    @admin.display(description="Produces")
    def produces(self, obj: Statement) -> str:
        if obj.pk is None:
            return EMPTY
        return ", ".join(exhibit.reference for exhibit in obj.exhibits.all()) or EMPTY

    @admin.display(description="Statement")
    def text(self, obj: Statement) -> str:
        return format_html(
            "<details><summary>Read the statement</summary>{}</details>",
            linebreaks_filter(obj.body, autoescape=True),
        )


class HandoverBundleInline(ReadOnlyInline):
    """The tasking's bundles, newest first. Read-only: a bundle is made by requesting one, never edited."""

    model = HandoverBundle
    fields = ["version", "state", "requested_by", "requested_at", "finished_at", "follow_or_download"]
    readonly_fields = fields
    ordering = ["-version"]
    labels = {"state": "State", "requested_at": "Requested", "finished_at": "Finished"}

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("tasking", "requested_by", "files_withdrawn_for")

    @admin.display(description="Progress, PDF and sharing")
    def follow_or_download(self, obj: HandoverBundle) -> str:
        viewer = getattr(self, "viewer", None)
        if viewer is None or obj.pk is None:
            return EMPTY
        if obj.files_withdrawn_at is not None:
            return withdrawn_summary(obj)
        if may_download_bundle(viewer, obj):
            links = format_html('<a href="{}">Download signed PDF</a>', reverse("bundle_download", args=[obj.pk]))
            if may_share_bundle(viewer, obj):
                share = reverse("admin:evidence_bundleshare_add") + f"?bundle={obj.pk}"
                links = format_html('{} · <a href="{}">Share with a court or CPS recipient</a>', links, share)
            return links
        if obj.state != HandoverBundle.State.READY and may_follow_bundle(viewer, obj):
            return format_html('<a href="{}">Follow progress</a>', reverse("bundle_status", args=[obj.pk]))
        return EMPTY


logger = logging.getLogger(__name__)


class DeconflictionResolutionForm(forms.Form):
    outcome = forms.ChoiceField(
        label="How was it resolved?",
        choices=DeconflictionMatch.Outcome.choices,
        widget=forms.RadioSelect,
        help_text="Proceed resumes the tasking once every match on it is resolved; hand over and withdraw close it.",
    )
    reasons = forms.CharField(
        label="Reasons",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Whom you spoke to and when, and what was agreed. This is kept on the record.",
        error_messages={"required": "Record the reasons: who you spoke to, when, and what was agreed."},
    )


class TaskingForm(forms.ModelForm):
    assign = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(),
        required=False,
        label="Assign volunteers",
        help_text="Each volunteer chosen may submit evidence to this tasking while it is active and they are "
        "deployable; they are told at once.",
    )
    identities = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Add online identities this tasking targets",
        help_text="One per line: a phone number, an e-mail address, a profile's web address, or an account name "
        "and its platform (dave_77 on Instagram). Each is matched at once, without revealing it, against other "
        "schemes' live taskings; on a match this tasking is paused and you are told whom to contact.",
    )

    def clean_identities(self) -> list:
        from evidence.deconfliction.services import identifiers_from_text

        found, unreadable = identifiers_from_text(self.cleaned_data.get("identities", ""))
        if unreadable:
            raise ValidationError([*unreadable, "Nothing was added: correct these lines and save again."])
        return found

    class Meta:
        model = Tasking
        fields = [
            "reference",
            "title",
            "objective",
            "permitted_conduct",
            "platforms",
            "persona",
            "persona_handles",
            "window_start",
            "window_end",
            "authorisation",
            "handler",
            "controller",
            "urn",
            "officer_in_case",
            "court",
        ]


@admin.register(Tasking)
class TaskingAdmin(ReferenceColumnsMixin, SchemeScopedAdmin):
    form = TaskingForm
    list_display = [
        "reference",
        "status",
        "live",
        "short_title",
        "window_start",
        "window_end",
        "authorisation_reference",
    ]
    list_filter = ["status"]
    search_fields = ["reference", "title"]
    inlines = [AssignmentInline, ExhibitInline, NoteInline, StatementInline, HandoverBundleInline]
    actions = ["activate", "suspend", "close", "request_bundle"]
    change_form_template = "admin/evidence/tasking/change_form.html"
    labels = {
        "reference": "Operation reference",
        "persona_handles": "Persona's account names",
        "window_start": "Starts",
        "window_end": "Ends",
    }

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> list:
        operation = ["reference", "title", "objective", "permitted_conduct", "platforms", "persona", "persona_handles"]
        if obj is not None:
            operation.insert(2, "status_now")
        return [
            ("Operation", {"fields": operation}),
            (
                "Window and authority",
                {"fields": ["window_start", "window_end", "authorisation", "handler", "controller"]},
            ),
            (
                "Case",
                {
                    "fields": ["urn", "officer_in_case", "court"],
                    "description": "A bundle needs the URN; every page of it shows the URN, and its cover the "
                    "officer in the case and the court.",
                },
            ),
            ("Volunteers", {"fields": ["assign"]}),
            (
                "Deconfliction",
                {"fields": (["identities_now"] if obj is not None else []) + ["identities"]},
            ),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [*super().get_readonly_fields(request, obj), "status_now", "identities_now"]

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> list:
        return self.inlines if obj is not None else [AssignmentInline]  # a new tasking has nothing else yet

    @admin.display(description="Title", ordering="title")
    def short_title(self, obj: Tasking) -> str:
        return short(obj.title)

    @admin.display(description="Authorisation", ordering="authorisation__reference")
    def authorisation_reference(self, obj: Tasking) -> str:
        return obj.authorisation.reference

    @admin.display(description="Can take evidence now")
    def live(self, obj: Tasking) -> str:
        problems = tasking_problems(obj, timezone.now())
        return "Yes" if not problems else "No — " + " ".join(p.officer for p in problems)

    @admin.display(description="Status")
    def status_now(self, obj: Tasking) -> str:
        if obj.status == Tasking.Status.PAUSED:
            from evidence.deconfliction.services import open_matches

            references = ", ".join(match.reference for match in open_matches(obj))
            return (
                f"Paused by deconfliction match {references}: no volunteer can add evidence until you record the "
                "resolution (under Deconfliction, below)."
            )
        return f"{obj.get_status_display()}. Can take evidence now: {self.live(obj)}"

    @admin.display(description="Online identities and matches")
    def identities_now(self, obj: Tasking) -> str:
        """This tasking's identities in plain text (its own scheme's officers only: the admin is scheme-scoped)
        and each open match with whom to contact. Nothing of the other side is stored to show."""
        from django.utils.html import format_html_join

        from evidence.deconfliction.services import open_matches

        matches = [
            (
                match.reference,
                f"{timezone.localtime(match.found_at):%-d %B %Y, %H:%M}",
                match.whom_to_contact,
                reverse("admin:evidence_tasking_deconfliction", args=[obj.pk, match.pk]),
            )
            for match in open_matches(obj)
        ]
        identities = [(str(row), row.get_source_display()) for row in obj.identifiers.order_by("added_at", "pk")]
        parts = []
        if matches:
            parts.append(
                format_html_join(
                    "",
                    "<p><strong>Match {}</strong> found {}: this tasking is paused. Contact {} before any further "
                    'contact with the person, then <a href="{}">record the resolution</a>.</p>',
                    matches,
                )
            )
        if identities:
            parts.append(format_html("<p>{}</p>", format_html_join(mark_safe("<br>"), "{} ({})", identities)))
        else:
            parts.append(format_html("<p>{}</p>", "None recorded yet."))
        return format_html("{}" * len(parts), *parts)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("authorisation")

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
        identities = form.cleaned_data.get("identities") or []
        moved = change and bool({"window_start", "window_end"} & set(form.changed_data))
        if identities or moved:
            # Matched once the tasking is saved: deconfliction takes its locks before any row's, and the
            # admin's transaction already holds this tasking's (services.identifiers_record).
            tasking = form.instance
            transaction.on_commit(lambda: self._deconflict(request, tasking, identities, recheck=moved))
            request.deconfliction_matches = bool(identities)  # the officer stays on the tasking's page
        for volunteer in form.cleaned_data.get("assign", []):
            try:
                services.tasking_assign(tasking=form.instance, volunteer=volunteer, by=request.user)
            except ValidationError as exc:
                messages.warning(request, " ".join(exc.messages))

    def _deconflict(self, request: HttpRequest, tasking: Tasking, identities: list, *, recheck: bool) -> None:
        from evidence.deconfliction.services import identifiers_record, tasking_recheck

        try:
            matches = identifiers_record(
                tasking=tasking, identifiers=identities, source=TaskingIdentifier.Source.OFFICER, by=request.user
            )
            if recheck:  # live again, perhaps: others may have recorded the same people meanwhile
                matches += tasking_recheck(tasking=tasking)
        except Exception:
            logger.exception("Deconfliction of tasking %s failed after it was saved", tasking.pk)
            messages.error(
                request,
                f"{tasking.reference} was saved, but its online identities could not be checked just now, so none "
                "was added. Add them again; if this happens again, tell your system administrator.",
            )
            return
        for match in matches:
            messages.warning(
                request,
                f"Deconfliction match {match.reference}: {tasking.reference} is paused. Before any further contact "
                f"with the person, contact {match.whom_to_contact} and quote the match "
                "reference. Then record the resolution on the tasking's page, under Deconfliction.",
            )

    def response_add(self, request: HttpRequest, obj: Tasking, post_url_continue: Any = None) -> HttpResponse:
        if getattr(request, "deconfliction_matches", None):
            return redirect("admin:evidence_tasking_change", obj.pk)
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request: HttpRequest, obj: Tasking) -> HttpResponse:
        if getattr(request, "deconfliction_matches", None):
            return redirect("admin:evidence_tasking_change", obj.pk)
        return super().response_change(request, obj)

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
                "deconfliction-set/",
                self.admin_site.admin_view(self.deconfliction_set_view),
                name="evidence_tasking_deconfliction_set",
            ),
            path(
                "<path:object_id>/request-bundle/",
                self.admin_site.admin_view(require_POST(self.request_bundle_view)),
                name="evidence_tasking_request_bundle",
            ),
            path(
                "<path:object_id>/deconfliction/<int:match_id>/",
                self.admin_site.admin_view(self.deconfliction_view),
                name="evidence_tasking_deconfliction",
            ),
            path(
                "<path:object_id>/schedules/<str:schedule>/",
                # Reading a schedule needs nothing more; signing it needs the password again.
                self.admin_site.admin_view(self.schedule_view),
                name="evidence_tasking_schedule",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        scheme = request.user.scheme
        may = scheme is not None and may_export_deconfliction_set(request.user, scheme)
        return super().changelist_view(request, {**(extra_context or {}), "may_export_deconfliction_set": may})

    def deconfliction_set_view(self, request: HttpRequest) -> HttpResponse:
        """The scheme's signed deconfliction set, for a partner installation: what it is (GET), the file (POST)."""
        from django.template.response import TemplateResponse

        from evidence.deconfliction.partners import set_export, set_size

        scheme = request.user.scheme
        if scheme is None or not may_export_deconfliction_set(request.user, scheme):
            raise PermissionDenied
        if request.method == "POST":
            try:
                signed = set_export(scheme=scheme, by=request.user)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
                return redirect(request.path)
            name = f"{scheme.code}-deconfliction-set-{timezone.localdate():%Y-%m-%d}.txt"
            response = HttpResponse(signed, content_type="text/plain; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="{name}"'
            return response
        live = set_size(scheme)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Export the deconfliction set",
            "scheme": scheme,
            "count": live,
        }
        return TemplateResponse(request, "admin/evidence/tasking/deconfliction_set.html", context)

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

    def deconfliction_view(self, request: HttpRequest, object_id: str, match_id: int) -> HttpResponse:
        """One match on this tasking: what is known of it (its reference, when, whom to contact) and, for the
        tasking's controller, the resolution to record after signing in again."""
        from django.template.response import TemplateResponse

        from evidence.deconfliction.services import ResolutionRefused, match_resolve
        from evidence.policy import may_resolve_match

        tasking = self.get_object(request, unquote(object_id))
        match = tasking.deconfliction_matches.filter(pk=match_id).first() if tasking is not None else None
        if match is None or not self.has_view_permission(request, tasking):
            raise Http404("No such match.")
        may = may_resolve_match(request.user, match) and match.open
        form = DeconflictionResolutionForm(request.POST if request.method == "POST" else None)

        def page(form: Any) -> HttpResponse:
            context = {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "original": tasking,
                "title": f"Deconfliction match {match.reference}: {tasking.reference}",
                "match": match,
                "form": form,
                "may_resolve": may,
            }
            return TemplateResponse(request, "admin/evidence/tasking/deconfliction.html", context)

        if request.method != "POST":
            return page(form)
        if not may:
            raise PermissionDenied

        def resolve(request: HttpRequest) -> HttpResponse:
            if not form.is_valid():
                return page(form)
            try:
                match_resolve(
                    match=match,
                    outcome=form.cleaned_data["outcome"],
                    reasons=form.cleaned_data["reasons"],
                    by=request.user,
                )
            except (ValidationError, ResolutionRefused) as exc:
                messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
                return redirect(request.path)
            tasking.refresh_from_db()
            match.refresh_from_db()
            messages.success(
                request,
                f"Match {match.reference} resolved: {match.get_outcome_display().lower()}. "
                f"{tasking.reference} is now {tasking.get_status_display().lower()}.",
            )
            return redirect("admin:evidence_tasking_change", tasking.pk)

        # Who may resolve is settled first; then the act itself asks for the password again.
        return reauthentication_required(resolve)(request)

    def schedule_view(self, request: HttpRequest, object_id: str, schedule: str) -> HttpResponse:
        """One disclosure schedule (MG6C or MG6D): its items in the form's columns, whether it is signed as it
        stands, and for the disclosure officer the certificate to sign."""
        from django.template.response import TemplateResponse

        from evidence import disclosure

        tasking = self.get_object(request, unquote(object_id))
        if tasking is None or schedule not in disclosure.SCHEDULES or not self.has_view_permission(request, tasking):
            raise Http404("No such schedule.")
        may_sign = may_sign_schedules(request.user, tasking)
        if request.method == "POST":
            if not may_sign:
                raise PermissionDenied
            # Who may sign is settled first; then the act itself asks for the password again.
            return reauthentication_required(lambda request: self._schedule_sign(request, tasking, schedule))(request)
        items = disclosure.schedule_items(tasking, schedule)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": tasking,
            "title": f"{disclosure.TITLES[schedule]}: {tasking.reference}",
            "schedule": schedule,
            "items": items,
            "digest": disclosure.schedule_digest(items),
            "signature": disclosure.schedule_signature(tasking, schedule),
            "certificate": disclosure.CERTIFICATE[schedule],
            "may_sign": may_sign,
        }
        return TemplateResponse(request, "admin/evidence/tasking/schedule.html", context)

    def _schedule_sign(self, request: HttpRequest, tasking: Tasking, schedule: str) -> HttpResponse:
        from evidence import disclosure

        digest = request.POST.get("digest", "")
        try:
            disclosure.schedule_sign(tasking=tasking, schedule=schedule, by=request.user, digest=digest)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect(request.path)
        messages.success(request, f"You signed the {schedule} schedule of {tasking.reference} as disclosure officer.")
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
        if obj is not None:
            from evidence import disclosure

            context["schedules"] = [
                {
                    "schedule": schedule,
                    "title": disclosure.TITLES[schedule],
                    "items": len(disclosure.schedule_items(obj, schedule)),
                    "signature": disclosure.schedule_signature(obj, schedule),
                    "url": reverse("admin:evidence_tasking_schedule", args=[obj.pk, schedule]),
                }
                for schedule in disclosure.SCHEDULES
            ]
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
