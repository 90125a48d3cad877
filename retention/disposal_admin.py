"""Disposal in the officer admin: the scheme's disposal review list (what may be disposed of now, when and why),
proposing a disposal, and a different officer approving it after giving their password again — or refusing it.
Proposals and tombstones are read here, never added, changed or deleted through the admin's own forms."""

from __future__ import annotations

from functools import partial

from allauth.account.decorators import reauthentication_required
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from evidence.models import Exhibit
from portal.admin import ReadOnlyAdmin, SchemeScopedAdmin
from portal.display import EMPTY, file_size_exact
from retention import selectors
from retention.certificate_admin import TombstoneAdminMixin, approval_message
from retention.disposal import DisposalRefused, disposal_approve, disposal_propose, disposal_refuse
from retention.forms import DecideDisposalForm, ProposeDisposalForm
from retention.models import DisposalProposal, Tombstone
from retention.person_disposal_admin import people_review_view
from retention.policy import may_approve_disposal, may_propose_disposal, may_review_disposals


@admin.register(DisposalProposal)
class DisposalProposalAdmin(ReadOnlyAdmin, SchemeScopedAdmin):
    """Proposals to dispose of an exhibit: awaiting approval, approved, refused or withdrawn. The review list
    (`review/`) is where they start."""

    list_display = ["exhibit", "state", "proposed_by", "proposed_at", "decided_by", "decided_at", "decide_link"]
    list_filter = ["state"]
    list_select_related = ["exhibit", "proposed_by", "decided_by"]
    fields = ["exhibit", "reason", "rule", "earliest", "proposed_by", "proposed_at", "state", "decided_by"]
    labels = {"earliest": "May be disposed of from", "decided_by": "Decided by"}

    def get_urls(self) -> list:
        return [
            path("review/", self.admin_site.admin_view(self.review_view), name="retention_disposal_review"),
            path(
                "review/people/",
                self.admin_site.admin_view(partial(people_review_view, self)),
                name="retention_disposal_review_people",
            ),
            path(
                "propose/<int:exhibit_id>/",
                self.admin_site.admin_view(self.propose_view),
                name="retention_disposal_propose",
            ),
            path("<int:pk>/decide/", self.admin_site.admin_view(self.decide_view), name="retention_disposal_decide"),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        extra = {"review_url": reverse("admin:retention_disposal_review")} if may_review_disposals(request.user) else {}
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    def _context(self, request: HttpRequest, title: str, **more) -> dict:
        return {**self.admin_site.each_context(request), "opts": self.model._meta, "title": title, **more}

    def review_view(self, request: HttpRequest) -> HttpResponse:
        """The scheme's exhibits past their retention date with no hold standing, and the proposals awaiting a
        second officer: when and why each may go, and what to do next."""
        if not may_review_disposals(request.user):
            raise PermissionDenied
        rows = []
        for row in selectors.disposal_review(request.user.scheme_id):
            proposal = row.proposal
            rows.append(
                {
                    "exhibit": row.exhibit,
                    "status": row.status,
                    "proposal": proposal,
                    "may_approve": proposal is not None and may_approve_disposal(request.user, proposal),
                    "own": proposal is not None and proposal.proposed_by_id == request.user.pk,
                }
            )
        context = self._context(request, "Disposal review", rows=rows)
        return TemplateResponse(request, "admin/retention/disposal_review.html", context)

    def _exhibit(self, request: HttpRequest, exhibit_id: int) -> Exhibit:
        """The exhibit, if the viewer may see it on its own page; 404 otherwise (as for a hold)."""
        exhibit_admin = self.admin_site._registry.get(Exhibit)
        found = exhibit_admin.get_queryset(request).filter(pk=exhibit_id).first() if exhibit_admin else None
        if found is None or not exhibit_admin.has_view_permission(request, found):
            raise Http404("No such exhibit.")
        return found

    def propose_view(self, request: HttpRequest, exhibit_id: int) -> HttpResponse:
        exhibit = self._exhibit(request, exhibit_id)
        if not may_propose_disposal(request.user, exhibit):
            raise PermissionDenied
        form = ProposeDisposalForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            try:
                disposal_propose(exhibit=exhibit, by=request.user, reason=form.cleaned_data["reason"])
            except (ValidationError, DisposalRefused) as exc:
                form.add_error(None, " ".join(getattr(exc, "messages", [str(exc)])))
            else:
                messages.success(
                    request, f"Disposal of {exhibit.reference} proposed: another officer must now approve it."
                )
                return redirect("admin:retention_disposal_review")
        context = self._context(
            request,
            f"Propose the disposal of exhibit {exhibit.reference}",
            form=form,
            exhibit=exhibit,
            status=selectors.disposal_status(exhibit),
        )
        return TemplateResponse(request, "admin/retention/disposal_propose.html", context)

    def decide_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """A second officer approves (after giving their password again) or refuses; the proposer may withdraw."""
        proposal = self.get_queryset(request).select_related("exhibit__tasking", "proposed_by").filter(pk=pk).first()
        if proposal is None or not self.has_view_permission(request, proposal):
            raise Http404("No such proposal.")
        own = proposal.proposed_by_id == request.user.pk
        if not (
            may_approve_disposal(request.user, proposal)
            or (own and may_propose_disposal(request.user, proposal.exhibit))
        ):
            raise PermissionDenied
        form = DecideDisposalForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            if request.POST.get("decision") == "approve" and not own:
                # Who may approve is settled first; then the act itself asks for the password again.
                return reauthentication_required(lambda request: self._approve(request, proposal, form))(request)
            try:
                disposal_refuse(proposal=proposal, by=request.user, note=form.cleaned_data["note"])
            except ValidationError as exc:
                form.add_error(None, exc)
            except DisposalRefused as exc:
                form.add_error(None, str(exc))
            else:
                done = "withdrawn" if own else "refused"
                messages.success(request, f"Disposal of {proposal.exhibit.reference} {done}: nothing was disposed of.")
                return redirect("admin:retention_disposal_review")
        context = self._context(
            request,
            f"Disposal of exhibit {proposal.exhibit.reference}",
            form=form,
            proposal=proposal,
            own=own,
            status=selectors.disposal_status(proposal.exhibit),
        )
        return TemplateResponse(request, "admin/retention/disposal_decide.html", context)

    def _approve(self, request: HttpRequest, proposal: DisposalProposal, form: DecideDisposalForm) -> HttpResponse:
        try:
            tombstone = disposal_approve(proposal=proposal, by=request.user)
        except DisposalRefused as exc:
            messages.error(request, str(exc))
            return redirect("admin:retention_disposal_decide", proposal.pk)
        done = (
            f"Exhibit {tombstone.reference} disposed of: its content is removed from storage; its tombstone, "
            "custody history and hash are kept."
        )
        approval_message(request, done, tombstone)
        return redirect("admin:retention_disposal_review")

    @admin.display(description="Decide")
    def decide_link(self, obj: DisposalProposal) -> str:
        if obj.state != DisposalProposal.State.PROPOSED:
            return EMPTY
        return format_html(
            '<a href="{}">Approve or refuse</a>', reverse("admin:retention_disposal_decide", args=[obj.pk])
        )


@admin.register(Tombstone)
class TombstoneAdmin(TombstoneAdminMixin, ReadOnlyAdmin, SchemeScopedAdmin):
    """What stays of each disposed exhibit. Written once by the disposal; the database refuses any change."""

    list_display = ["reference", "tasking_reference", "disposed_at", "rule_in_words", "proposed_by", "approved_by"]
    list_select_related = ["proposed_by", "approved_by"]
    fields = [
        "reference",
        "tasking_reference",
        "sha256",
        "size_in_words",
        "what_disposed",
        "disposed_at",
        "proposed_by",
        "approved_by",
        "rule_in_words",
        "legal_source",
        "earliest",
    ]
    labels = {"earliest": "Could be disposed of from", "sha256": "SHA-256 of the original"}

    @admin.display(description="Size")
    def size_in_words(self, obj: Tombstone) -> str:
        return file_size_exact(obj.size)
