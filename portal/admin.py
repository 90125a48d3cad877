"""Admin for the ground floor: users and roles (scheme-scoped), schemes, the audit log and jobs."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, Q, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format

from portal import roles
from portal.accounts import (
    _check_scheme,
    may_manage_staff_invitation,
    staff_invitation_pending,
    staff_invitation_refusal,
    staff_invitation_revoke,
    staff_invitation_send,
    user_set_roles,
)
from portal.audit import audit_record, welfare_rows
from portal.jobs import job_retry
from portal.models import AuditEvent, Force, Job, Scheme, User
from portal.permissions import PortalGuardedAdmin, is_welfare_officer, scheme_filter


class SchemeScopedAdmin(admin.ModelAdmin):
    """Every object admin of the portal: people see their own scheme's rows and nothing else (the
    model's `scheme_path` says how its rows belong to a scheme)."""

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return scheme_filter(super().get_queryset(request), request.user)


class UserAdminForm(forms.ModelForm):
    roles = forms.MultipleChoiceField(
        choices=[(role.code, role.label) for role in roles.ALL_ROLES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Officer, welfare, court, administrator and deconfliction roles must set up multi-factor "
        "authentication at their next sign-in.",
    )

    class Meta:
        model = User
        fields = ["email", "full_name", "scheme", "is_active"]

    def __init__(self, *args: Any, request_user: User | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request_user = request_user
        if self.instance.pk:
            self.fields["roles"].initial = [role.code for role in roles.roles_of(self.instance)]
        else:
            # Volunteers apply through their own invitation (it collects what vetting needs), so a new account
            # here is for staff, who get the staff invitation.
            self.fields["roles"].choices = [(r.code, r.label) for r in roles.ALL_ROLES if r is not roles.VOLUNTEER]
            self.fields["roles"].help_text = (
                "We will email them a link to choose their password. It works once, for "
                f"{settings.PORTAL_INVITATION_DAYS} days. They then set up multi-factor authentication. To add a "
                "volunteer, send a volunteer invitation instead (Invitations, under Volunteers)."
            )
        if "email" in self.fields:  # absent when the viewer may only read the record
            self.fields["email"].error_messages.update(
                required="Enter their email address",
                invalid="Enter an email address in the correct format, like name@example.com",
            )
        if request_user is not None and not request_user.is_superuser:
            # Scheme administrators manage their own scheme only, and cannot create court recipients.
            self.fields["roles"].choices = [
                (code, label) for code, label in self.fields["roles"].choices if roles.BY_CODE[code].has_scheme
            ]
            if "scheme" in self.fields:
                self.fields["scheme"].queryset = Scheme.objects.filter(pk=request_user.scheme_id)
                self.fields["scheme"].initial = request_user.scheme_id
                self.fields["scheme"].required = True

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        clash = User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError("Another account already uses this e-mail address.")
        return email

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        chosen = [roles.BY_CODE[code] for code in cleaned.get("roles", [])]
        try:
            _check_scheme(chosen, cleaned.get("scheme"), cleaned.get("force"))
        except forms.ValidationError as exc:
            self.add_error("roles", exc)
        if "recipient_kind" in self.fields:
            court, kind = roles.COURT in chosen, cleaned.get("recipient_kind")
            if court and not kind:
                self.add_error(
                    "recipient_kind", "Choose whether they receive bundles for a court, the defence or the CPS"
                )
            elif kind and not court:
                self.add_error("recipient_kind", "Only a court / CPS recipient receives bundles: leave this empty")
        if not self.instance.pk and self.request_user is not None and "roles" not in self.errors:
            # A new person is invited by e-mail: the same rule the invitation service applies.
            scheme = cleaned.get("scheme") if self.request_user.is_superuser else self.request_user.scheme
            refusal = staff_invitation_refusal(by=self.request_user, scheme=scheme, role_codes=cleaned.get("roles", []))
            if refusal:
                self.add_error("roles", refusal)
        return cleaned


class RoleFilter(admin.SimpleListFilter):
    """People by role, in words (the roles are stored as groups named by code)."""

    title = "role"
    parameter_name = "role"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(role.code, role.label) for role in roles.ALL_ROLES]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(groups__name=self.value()).distinct() if self.value() in roles.BY_CODE else queryset


@admin.register(User)
class UserAdmin(SchemeScopedAdmin):
    form = UserAdminForm
    change_form_template = "portal/admin_user_change_form.html"
    list_display = ["email", "full_name", "scheme", "role_list", "is_active", "sign_in_state", "last_login"]
    list_filter = ["is_active", RoleFilter, "scheme"]
    search_fields = ["email", "full_name"]
    readonly_fields = ["last_login", "date_joined", "invitation"]
    list_select_related = ["scheme"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("groups", "staff_invitations")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # Only the platform's superusers manage court / CPS recipients and deconfliction officers, so only they
        # see what kind of recipient each is and which force each officer keeps the register of.
        kind = ["force", "recipient_kind"] if request.user.is_superuser else []
        if obj is None:  # a new person is active from the start and chooses their own password
            return ["email", "full_name", "scheme", "roles", *kind]
        return ["email", "full_name", "scheme", "is_active", "roles", *kind, "invitation", "last_login", "date_joined"]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        kwargs["fields"] = ["email", "full_name", "scheme", "is_active"] if obj else ["email", "full_name", "scheme"]
        if request.user.is_superuser:
            kwargs["fields"] += ["force", "recipient_kind"]
        form_class = super().get_form(request, obj, change=change, **kwargs)
        request_user = request.user

        class Bound(form_class):  # type: ignore[misc, valid-type]
            def __init__(self, *args: Any, **kw: Any) -> None:
                super().__init__(*args, request_user=request_user, **kw)

        return Bound

    def get_list_filter(self, request: HttpRequest) -> list:
        return self.list_filter if request.user.is_superuser else ["is_active", RoleFilter]

    def get_list_display(self, request: HttpRequest) -> list[str]:
        # Everyone a scheme administrator sees is in their scheme: the column would only repeat it.
        shown = list(self.list_display)
        return shown if request.user.is_superuser else [name for name in shown if name != "scheme"]

    @admin.display(description="Roles")
    def role_list(self, obj: User) -> str:
        return roles.role_label(obj)

    @admin.display(description="Sign-in")
    def sign_in_state(self, obj: User) -> str:
        if obj.has_usable_password():
            return "Password set"
        latest = max(obj.staff_invitations.all(), key=lambda invitation: invitation.pk, default=None)
        if latest is None:
            return "Not invited"
        if latest.revoked_at:
            return "Invitation withdrawn"
        if latest.expires_at <= timezone.now():
            return "Invitation expired"
        return "Invited"

    @admin.display(description="Invitation")
    def invitation(self, obj: User) -> str:
        latest = max(obj.staff_invitations.all(), key=lambda invitation: invitation.pk, default=None)
        when = "j F Y, H:i"
        if latest is not None and latest.used_at:
            return f"Accepted on {date_format(timezone.localtime(latest.used_at), when)}."
        if obj.has_usable_password():
            return "Not needed: they have a password."
        if latest is None:
            return "No invitation has been sent, so they cannot sign in yet."
        sent = date_format(timezone.localtime(latest.created_at), when)
        if latest.revoked_at:
            return f"Withdrawn on {date_format(timezone.localtime(latest.revoked_at), when)}: they cannot sign in."
        if latest.expires_at <= timezone.now():
            return f"The link sent on {sent} expired on {date_format(timezone.localtime(latest.expires_at), when)}."
        until = date_format(timezone.localtime(latest.expires_at), when)
        return f"Sent to {latest.email} on {sent}. The link works once, until {until}."

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        if not request.user.is_superuser:
            obj.scheme_id = request.user.scheme_id
        if not change:
            obj.set_unusable_password()  # they choose their own from the invitation link
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        user_set_roles(user=form.instance, role_codes=form.cleaned_data.get("roles", []), by=request.user)
        if not change:
            request._staff_invitation = staff_invitation_send(user=form.instance, by=request.user)

    def response_add(self, request: HttpRequest, obj: User, post_url_continue: str | None = None) -> HttpResponse:
        invitation = getattr(request, "_staff_invitation", None)
        if invitation is None or IS_POPUP_VAR in request.POST:
            return super().response_add(request, obj, post_url_continue)
        until = date_format(timezone.localtime(invitation.expires_at), "j F Y, H:i")
        self.message_user(
            request,
            f"Added {obj.get_full_name()}. We have emailed {obj.email} a link to choose a password; it works "
            f"once, until {until}.",
            messages.SUCCESS,
        )
        if "_continue" in request.POST:
            return HttpResponseRedirect(reverse("admin:portal_user_change", args=[obj.pk]))
        if "_addanother" in request.POST:
            return HttpResponseRedirect(reverse("admin:portal_user_add"))
        return HttpResponseRedirect(reverse("admin:portal_user_changelist"))

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> Any:
        return super().add_view(request, form_url, {"title": "Add a person", **(extra_context or {})})

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None) -> Any:
        obj = self.get_object(request, object_id)
        actions = []
        if obj is not None and not obj.has_usable_password() and may_manage_staff_invitation(request.user, obj):
            pending = staff_invitation_pending(obj)
            actions.append(
                ("Send a new invitation link" if pending else "Send an invitation", self._invitation_url(obj, "send"))
            )
            if pending:
                actions.append(("Withdraw the invitation", self._invitation_url(obj, "revoke")))
        return super().change_view(
            request, object_id, form_url, {**(extra_context or {}), "invitation_actions": actions}
        )

    def get_urls(self) -> list:
        send, revoke = self.invitation_send_view, self.invitation_revoke_view
        return [
            path("<int:pk>/invitation/send/", self.admin_site.admin_view(send), name="portal_user_invitation_send"),
            path(
                "<int:pk>/invitation/withdraw/",
                self.admin_site.admin_view(revoke),
                name="portal_user_invitation_revoke",
            ),
            *super().get_urls(),
        ]

    @staticmethod
    def _invitation_url(obj: User, action: str) -> str:
        return reverse(f"admin:portal_user_invitation_{action}", args=[obj.pk])

    def invitation_send_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self._invitation_view(request, pk, "send")

    def invitation_revoke_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self._invitation_view(request, pk, "revoke")

    def _invitation_view(self, request: HttpRequest, pk: int, action: str) -> HttpResponse:
        """Send a new invitation link, or withdraw the invitation: a confirmation page, then the service."""
        person = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_change_permission(request, person) or not may_manage_staff_invitation(request.user, person):
            raise PermissionDenied
        change_url = reverse("admin:portal_user_change", args=[person.pk])
        pending = staff_invitation_pending(person)
        if person.has_usable_password() or (action == "revoke" and pending is None):
            self.message_user(
                request,
                f"{person.email} has already chosen a password."
                if person.has_usable_password()
                else f"{person.email} has no invitation waiting.",
                messages.WARNING,
            )
            return HttpResponseRedirect(change_url)
        if request.method == "POST":
            try:
                if action == "send":
                    invitation = staff_invitation_send(user=person, by=request.user)
                    until = date_format(timezone.localtime(invitation.expires_at), "j F Y, H:i")
                    self.message_user(
                        request,
                        f"We have emailed {person.email} a new link, which works until {until}."
                        + (" The link sent before no longer works." if pending else ""),
                        messages.SUCCESS,
                    )
                elif staff_invitation_revoke(user=person, by=request.user):
                    self.message_user(
                        request,
                        f"The invitation to {person.email} is withdrawn: the link no longer works and they cannot "
                        "sign in. You can send a new invitation later.",
                        messages.SUCCESS,
                    )
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "person": person,
            "action": action,
            "pending": pending,
            "change_url": change_url,
            "days": settings.PORTAL_INVITATION_DAYS,
            "title": "Send a new invitation link"
            if action == "send" and pending
            else ("Send an invitation" if action == "send" else "Withdraw the invitation"),
        }
        return render(request, "portal/admin_staff_invitation_confirm.html", context)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # people are deactivated, never deleted: their actions stay attributable


@admin.register(Scheme)
class SchemeAdmin(PortalGuardedAdmin):
    # Scoped by membership, not by object grants; guardian's permission pages stay superuser-only.
    user_can_access_permitted_objects_only = False
    list_display = ["name", "code", "created_at"]
    search_fields = ["name", "code"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.filter(pk=request.user.scheme_id)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Force)
class ForceAdmin(admin.ModelAdmin):
    """Police forces, whose deconfliction officers keep registers. Managed by platform superusers only (no
    role holds these permissions)."""

    list_display = ["name", "created_at"]
    search_fields = ["name"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a force's register and people point to it


class ConsultationAuditedAdmin(admin.ModelAdmin):
    """Reading these records is itself logged (DPA 2018 s.62): a list page is one event naming the rows
    shown; opening one record is one event naming it."""

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        response = super().changelist_view(request, extra_context)
        shown = getattr(response, "context_data", {}).get("cl")
        if shown is not None:
            ids = [row.pk for row in shown.result_list]
            audit_record(action=f"{self.opts.label_lower}.consult_list", request=request, detail={"ids": ids})
        return response

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> Any:
        return super().add_view(request, form_url, {"title": "Add a person", **(extra_context or {})})

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None) -> Any:
        response = super().change_view(request, object_id, form_url, extra_context)
        if getattr(response, "status_code", None) == 200:
            audit_record(
                action=f"{self.opts.label_lower}.consult",
                request=request,
                object_type=self.opts.label_lower,
                object_id=object_id,
            )
        return response


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


WITHHELD = "Withheld: welfare record"


@admin.register(AuditEvent)
class AuditEventAdmin(ConsultationAuditedAdmin, ReadOnlyAdmin, SchemeScopedAdmin):
    """The audit log. Rows about welfare name whom they are about, and carry their detail, only for welfare
    staff of that scheme: anyone else reads that welfare staff acted, when, and how — not on whom."""

    list_display = ["id", "at", "action", "outcome", "actor_email", "roles_then", "object_type", "object_shown", "ip"]
    list_filter = ["outcome", "action"]
    search_fields = ["actor_email", "action"]
    date_hierarchy = "at"
    list_per_page = 100
    labels = {
        "at": "When",
        "action": "What happened",
        "actor_id": "Who: account ID",
        "actor_email": "Who",
        "object_type": "Record type",
        "scheme_id": "Scheme ID",
        "ip": "IP address",
        "user_agent": "Browser",
        "prev_hash": "Previous row's hash (SHA-256)",
        "hash": "This row's hash (SHA-256)",
    }

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        user = request.user
        readable = Q() if user.is_superuser and user.scheme_id is None else Q(scheme_id=user.scheme_id)
        if not is_welfare_officer(user):
            readable = Q(pk__in=[])
        withheld = Case(When(welfare_rows() & ~readable, then=Value(True)), default=Value(False))
        return super().get_queryset(request).annotate(withheld=withheld)

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        return ["actor_email", "action"]  # and the object id: get_search_results

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        found, duplicates = super().get_search_results(request, queryset, search_term)
        if search_term.strip():
            # Searching by object id never finds a welfare row whose object is withheld from the viewer.
            found = found | queryset.filter(withheld=False, object_id=search_term.strip())
        return found, duplicates

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        shown = {"object_id": "object_shown", "detail": "detail_shown", "actor_role": "roles_then"}
        return list(dict.fromkeys(shown.get(name, name) for name in super().get_fields(request, obj)))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [*super().get_readonly_fields(request, obj), "object_shown", "detail_shown", "roles_then"]

    @admin.display(description="Their roles then", ordering="actor_role")
    def roles_then(self, obj: AuditEvent) -> str:
        words = {"superuser": roles.SUPERUSER_LABEL, "system": "The portal", "none": "No role"}
        codes = [code for code in obj.actor_role.split(",") if code]
        return ", ".join(words.get(code) or getattr(roles.BY_CODE.get(code), "label", code) for code in codes) or "—"

    @admin.display(description="Object ID", ordering="object_id")
    def object_shown(self, obj: AuditEvent) -> str:
        return WITHHELD if getattr(obj, "withheld", True) and obj.object_id else obj.object_id

    @admin.display(description="Detail")
    def detail_shown(self, obj: AuditEvent) -> str:
        """The detail in words, and beneath it the JSON exactly as the chain hashed it (to re-check a row)."""
        import json

        from django.utils.html import format_html

        from portal.display import json_rows, pairs_html

        if getattr(obj, "withheld", True):
            return WITHHELD if obj.detail else "—"
        if not obj.detail:
            return "—"
        return format_html(
            '{}<details class="portal-recorded"><summary>As recorded in the audit chain (JSON)</summary>'
            "<pre>{}</pre></details>",
            pairs_html(json_rows(obj.detail)),
            json.dumps(obj.detail, ensure_ascii=False, sort_keys=True),
        )


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin, SchemeScopedAdmin):
    list_display = ["id", "kind", "state", "progress", "stage", "attempts", "created_at", "heartbeat_at"]
    list_filter = ["state", "kind"]
    actions = ["retry_failed"]
    labels = {
        "progress": "Progress (%)",
        "created_at": "Created",
        "heartbeat_at": "Last heard from",
        "started_at": "Started",
        "finished_at": "Finished",
        "last_error": "Last error",
        "object_type": "Record type",
        "object_id": "Record ID",
        "enqueued_at": "Sent to a worker",
        "max_attempts": "Attempts allowed",
    }

    @admin.action(description="Retry the selected failed jobs", permissions=["retry"])
    def retry_failed(self, request: HttpRequest, queryset: QuerySet) -> None:
        failed = list(queryset.filter(state=Job.State.FAILED))
        for job in failed:
            job_retry(job=job, by=request.user)
        skipped = queryset.count() - len(failed)
        self.message_user(request, f"{len(failed)} job(s) sent again.", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"{skipped} job(s) were not failed, so were left alone.", messages.WARNING)

    def has_retry_permission(self, request: HttpRequest) -> bool:
        """Sending a failed job again is for those who run the platform or the scheme; officers retry their
        own bundles from the bundle's page."""
        return request.user.is_superuser or roles.has_role(request.user, roles.SCHEME_ADMIN)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
