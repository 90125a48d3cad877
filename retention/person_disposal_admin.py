"""Disposal of departed volunteers' records in the admin: the review list of people's records (a page of the disposal
proposals' admin, beside the exhibits' list), proposing, and a different person approving after giving their
password again — or refusing. Each person sees only the kinds whose disposal they decide (retention/policy.py:
officers vetting and training, welfare officers welfare). Proposals and tombstones are read here, never added,
changed or deleted through the admin's own forms."""

from __future__ import annotations

from allauth.account.decorators import reauthentication_required
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from portal.admin import ReadOnlyAdmin, SchemeScopedAdmin
from portal.audit import audit_record
from portal.display import EMPTY
from portal.models import User
from retention.certificate_admin import RETRY_WORDS, TombstoneAdminMixin, approval_message
from retention.forms import DecideDisposalForm, ProposePersonDisposalForm
from retention.models import PersonDisposalProposal, PersonTombstone
from retention.person_disposal import (
    KIND_WORDS,
    RECORD_MODELS,
    PersonDisposalRefused,
    count_words,
    person_disposal_approve,
    person_disposal_propose,
    person_disposal_refuse,
    person_disposal_review,
    records_held_words,
)
from retention.policy import (
    may_approve_person_disposal,
    may_propose_person_disposal,
    may_review_person_disposals,
    person_record_kinds_for,
)
from retention.selectors import person_records_status


def _context(model_admin: admin.ModelAdmin, request: HttpRequest, title: str, **more) -> dict:
    return {**model_admin.admin_site.each_context(request), "opts": model_admin.model._meta, "title": title, **more}


def _name(person: User) -> str:
    return person.get_full_name() or person.email


def people_review_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    """The review list of people's records: for the viewer's scheme, each kind (of those they decide) of each
    departed volunteer's records that may be disposed of now, when and why, and proposals awaiting approval."""
    if not may_review_person_disposals(request.user):
        raise PermissionDenied
    kinds = person_record_kinds_for(request.user)
    rows = []
    for row in person_disposal_review(request.user.scheme_id, kinds):
        proposal = row.proposal
        rows.append(
            {
                "row": row,
                "name": _name(row.person),
                "may_approve": proposal is not None and may_approve_person_disposal(request.user, proposal),
                "own": proposal is not None and proposal.proposed_by_id == request.user.pk,
            }
        )
    # One consultation event naming what was shown (welfare rows in the welfare compartment).
    audit_record(
        action=f"{'welfare.records' if 'welfare' in kinds else 'retention.person'}_disposal_review_consult",
        actor=request.user,
        detail={"shown": [f"{item['row'].kind} of {item['row'].person.email}" for item in rows]},
    )
    context = _context(
        model_admin,
        request,
        "Disposal review: people's records",
        rows=rows,
        kinds=[KIND_WORDS[kind] for kind in kinds],
        welfare_only=kinds == ("welfare",),
    )
    return TemplateResponse(request, "admin/retention/disposal_review_people.html", context)


@admin.register(PersonDisposalProposal)
class PersonDisposalProposalAdmin(ReadOnlyAdmin, SchemeScopedAdmin):
    """Proposals to dispose of one kind of a departed volunteer's records: awaiting approval, approved, refused or
    withdrawn. The review list of people's records is where they start."""

    list_display = ["person", "kind", "state", "proposed_by", "proposed_at", "decided_by", "decided_at", "decide_link"]
    list_filter = ["state", "kind"]
    list_select_related = ["person", "proposed_by", "decided_by"]
    fields = ["person", "kind", "reason", "rule", "earliest", "proposed_by", "proposed_at", "state", "decided_by"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # Welfare proposals are the welfare officers' only; vetting and training the officers'.
        return super().get_queryset(request).filter(kind__in=person_record_kinds_for(request.user))

    def get_urls(self) -> list:
        return [
            path(
                "propose/<int:person_id>/<str:kind>/",
                self.admin_site.admin_view(self.propose_view),
                name="retention_person_disposal_propose",
            ),
            path(
                "<int:pk>/decide/",
                self.admin_site.admin_view(self.decide_view),
                name="retention_person_disposal_decide",
            ),
            *super().get_urls(),
        ]

    def _person(self, request: HttpRequest, person_id: int, kind: str) -> User:
        """The departed volunteer, if the viewer decides this kind of their records; 404 otherwise (not yours and
        does not exist look the same)."""
        person = User.objects.filter(pk=person_id, volunteer__isnull=False).first()
        if kind not in KIND_WORDS or person is None or not may_propose_person_disposal(request.user, person, kind):
            raise Http404("No such person's records.")
        return person

    def propose_view(self, request: HttpRequest, person_id: int, kind: str) -> HttpResponse:
        person = self._person(request, person_id, kind)
        form = ProposePersonDisposalForm(
            request.POST if request.method == "POST" else None, kind_words=KIND_WORDS[kind]
        )
        if form.is_valid():
            try:
                person_disposal_propose(person=person, kind=kind, by=request.user, reason=form.cleaned_data["reason"])
            except (ValidationError, PersonDisposalRefused) as exc:
                form.add_error(None, " ".join(getattr(exc, "messages", [str(exc)])))
            else:
                messages.success(
                    request,
                    f"Disposal of the {KIND_WORDS[kind]} of {_name(person)} proposed: someone else must now "
                    "approve it.",
                )
                return redirect("admin:retention_disposal_review_people")
        context = _context(
            self,
            request,
            f"Propose the disposal of the {KIND_WORDS[kind]} of {_name(person)}",
            form=form,
            person=person,
            name=_name(person),
            kind_words=KIND_WORDS[kind],
            held=records_held_words(person, kind),
            status=person_records_status(person, kind),
        )
        return TemplateResponse(request, "admin/retention/person_disposal_propose.html", context)

    def decide_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """A second person approves (after giving their password again) or refuses; the proposer may withdraw."""
        proposal = self.get_queryset(request).select_related("person", "proposed_by").filter(pk=pk).first()
        if proposal is None or not self.has_view_permission(request, proposal):
            raise Http404("No such proposal.")
        own = proposal.proposed_by_id == request.user.pk
        if not (
            may_approve_person_disposal(request.user, proposal)
            or (own and may_propose_person_disposal(request.user, proposal.person, proposal.kind))
        ):
            raise PermissionDenied
        words = f"the {KIND_WORDS[proposal.kind]} of {_name(proposal.person)}"
        form = DecideDisposalForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            if request.POST.get("decision") == "approve" and not own:
                # Who may approve is settled first; then the act itself asks for the password again.
                return reauthentication_required(lambda request: self._approve(request, proposal))(request)
            try:
                person_disposal_refuse(proposal=proposal, by=request.user, note=form.cleaned_data["note"])
            except ValidationError as exc:
                form.add_error(None, exc)
            except PersonDisposalRefused as exc:
                form.add_error(None, str(exc))
            else:
                done = "withdrawn" if own else "refused"
                messages.success(request, f"Disposal of {words} {done}: nothing was disposed of.")
                return redirect("admin:retention_disposal_review_people")
        context = _context(
            self,
            request,
            f"Disposal of {words}",
            form=form,
            proposal=proposal,
            own=own,
            name=_name(proposal.person),
            kind_words=KIND_WORDS[proposal.kind],
            held=records_held_words(proposal.person, proposal.kind),
            status=person_records_status(proposal.person, proposal.kind),
        )
        return TemplateResponse(request, "admin/retention/person_disposal_decide.html", context)

    def _approve(self, request: HttpRequest, proposal: PersonDisposalProposal) -> HttpResponse:
        try:
            tombstone = person_disposal_approve(proposal=proposal, by=request.user)
        except PersonDisposalRefused as exc:
            messages.error(request, str(exc))
            return redirect("admin:retention_person_disposal_decide", proposal.pk)
        done = (
            f"The {KIND_WORDS[tombstone.kind]} of {tombstone.person_name or tombstone.person_email} were disposed of."
        )
        approval_message(request, done, tombstone)
        return redirect("admin:retention_disposal_review_people")

    @admin.display(description="Decide")
    def decide_link(self, obj: PersonDisposalProposal) -> str:
        if obj.state != PersonDisposalProposal.State.PROPOSED:
            return EMPTY
        return format_html(
            '<a href="{}">Approve or refuse</a>', reverse("admin:retention_person_disposal_decide", args=[obj.pk])
        )


@admin.register(PersonTombstone)
class PersonTombstoneAdmin(TombstoneAdminMixin, ReadOnlyAdmin, SchemeScopedAdmin):
    """What stays of each disposal of a person's records. Written once by the disposal; the database refuses any
    change. Welfare tombstones are the welfare officers' only."""

    list_display = ["person_name", "person_email", "kind", "disposed_at", "rule_in_words", "proposed_by", "approved_by"]
    list_filter = ["kind"]
    list_select_related = ["proposed_by", "approved_by"]
    fields = [
        "person_name",
        "person_email",
        "kind",
        "left_on",
        "what_disposed",
        "records_deleted",
        "disposed_at",
        "proposed_by",
        "approved_by",
        "rule_in_words",
        "legal_source",
        "earliest",
    ]
    labels = {
        "person_name": "Name",
        "person_email": "E-mail address",
        "kind": "Records",
        "left_on": "Left the scheme on",
        "earliest": "Could be disposed of from",
    }

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).filter(kind__in=person_record_kinds_for(request.user))

    def get_readonly_fields(self, request: HttpRequest, obj: PersonTombstone | None = None) -> list:
        return [*super().get_readonly_fields(request, obj), "records_deleted"]

    @admin.display(description="Records deleted")
    def records_deleted(self, obj: PersonTombstone) -> str:
        order = [model._meta.label for model, _, _ in RECORD_MODELS.get(obj.kind, ())]  # jsonb keeps no order
        labels = sorted(obj.counts, key=lambda label: order.index(label) if label in order else len(order))
        counted = [count_words(obj.kind, label, obj.counts[label]) for label in labels]
        return "; ".join(counted) if counted else "None: none were held any more."

    certificate_pending = (
        "Not issued yet: the portal issues it once the records' stored files have gone and the scheme's signing key "
        "is available. " + RETRY_WORDS
    )

    def certificate_audit_action(self, tombstone: PersonTombstone) -> str:
        if tombstone.kind == "welfare":
            return "welfare.records_disposal_certificate_downloaded"
        return "retention.disposal_certificate_downloaded"
