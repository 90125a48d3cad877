"""Admin for the ground floor: users and roles (scheme-scoped), schemes, the audit log and jobs."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Case, Q, QuerySet, Value, When
from django.http import HttpRequest

from portal import roles
from portal.accounts import _check_scheme, user_set_roles
from portal.audit import audit_record, welfare_rows
from portal.jobs import job_retry
from portal.models import AuditEvent, Job, Scheme, User
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
        help_text="Officer, welfare, court and administrator roles must set up multi-factor authentication "
        "at their next sign-in.",
    )

    class Meta:
        model = User
        fields = ["email", "full_name", "scheme", "is_active"]

    def __init__(self, *args: Any, request_user: User | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request_user = request_user
        if self.instance.pk:
            self.fields["roles"].initial = [role.code for role in roles.roles_of(self.instance)]
        if request_user is not None and not request_user.is_superuser:
            # Scheme administrators manage their own scheme only, and cannot create court recipients.
            self.fields["roles"].choices = [(role.code, role.label) for role in roles.ALL_ROLES if role.has_scheme]
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
            _check_scheme(chosen, cleaned.get("scheme"))
        except forms.ValidationError as exc:
            self.add_error("roles", exc)
        return cleaned


@admin.register(User)
class UserAdmin(SchemeScopedAdmin):
    form = UserAdminForm
    list_display = ["email", "full_name", "scheme", "role_list", "is_active", "last_login"]
    list_filter = ["is_active", "groups", "scheme"]
    search_fields = ["email", "full_name"]
    readonly_fields = ["last_login", "date_joined"]
    list_select_related = ["scheme"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("groups")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = ["email", "full_name", "scheme", "is_active", "roles", "last_login", "date_joined"]
        return fields

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        kwargs["fields"] = ["email", "full_name", "scheme", "is_active"]
        form_class = super().get_form(request, obj, change=change, **kwargs)
        request_user = request.user

        class Bound(form_class):  # type: ignore[misc, valid-type]
            def __init__(self, *args: Any, **kw: Any) -> None:
                super().__init__(*args, request_user=request_user, **kw)

        return Bound

    def get_list_filter(self, request: HttpRequest) -> list[str]:
        return self.list_filter if request.user.is_superuser else ["is_active", "groups"]

    @admin.display(description="Roles")
    def role_list(self, obj: User) -> str:
        return roles.role_label(obj)

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        if not request.user.is_superuser:
            obj.scheme_id = request.user.scheme_id
        if not change:
            obj.set_unusable_password()  # they choose their own through the password-reset e-mail
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        user_set_roles(user=form.instance, role_codes=form.cleaned_data.get("roles", []), by=request.user)

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

    list_display = ["id", "at", "action", "outcome", "actor_email", "actor_role", "object_type", "object_shown", "ip"]
    list_filter = ["outcome", "action"]
    search_fields = ["actor_email", "action"]
    date_hierarchy = "at"
    list_per_page = 100

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
        shown = {"object_id": "object_shown", "detail": "detail_shown"}
        return list(dict.fromkeys(shown.get(name, name) for name in super().get_fields(request, obj)))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [*super().get_readonly_fields(request, obj), "object_shown", "detail_shown"]

    @admin.display(description="Object ID", ordering="object_id")
    def object_shown(self, obj: AuditEvent) -> str:
        return WITHHELD if getattr(obj, "withheld", True) and obj.object_id else obj.object_id

    @admin.display(description="Detail")
    def detail_shown(self, obj: AuditEvent) -> str:
        import json

        if getattr(obj, "withheld", True):
            return WITHHELD if obj.detail else "—"
        return json.dumps(obj.detail, ensure_ascii=False, sort_keys=True)


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin, SchemeScopedAdmin):
    list_display = ["id", "kind", "state", "progress", "stage", "attempts", "created_at", "heartbeat_at"]
    list_filter = ["state", "kind"]
    actions = ["retry_failed"]

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
