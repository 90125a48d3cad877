"""Officer admin for training: certificates (revoke), attempts, resets, and the volunteers x modules matrix."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path

from portal import roles
from portal.admin import ReadOnlyAdmin, SchemeScopedAdmin
from portal.models import User
from portal.permissions import scheme_filter
from training import services
from training.models import Attempt, AttemptReset, Certificate, Module, ModuleVersion
from training.selectors import training_matrix


@admin.register(Module)
class ModuleAdmin(admin.ModelAdmin):
    list_display = ["title", "mandatory", "validity_months", "pass_mark", "estimated_minutes", "order"]
    readonly_fields = ["slug"]
    labels = {
        "slug": "Short name",
        "validity_months": "Certificate lasts (months)",
        "pass_mark": "Pass mark (%)",
        "estimated_minutes": "Takes about (minutes)",
        "order": "Order in the curriculum",
    }

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # modules are published from the curriculum (manage.py seed_curriculum)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list:
        return [
            path("matrix/", self.admin_site.admin_view(self.matrix_view), name="training_matrix"),
            *super().get_urls(),
        ]

    def matrix_view(self, request: HttpRequest) -> HttpResponse:
        """Volunteers x modules for the officer's scheme, in a constant number of queries."""
        if not request.user.has_perm("training.view_certificate"):
            raise PermissionDenied
        people = scheme_filter(User.objects.filter(groups__name=roles.VOLUNTEER.code, is_active=True), request.user)
        modules, rows = training_matrix(list(people.order_by("full_name", "email")))
        context = {
            **self.admin_site.each_context(request),
            "title": "Training matrix",
            "modules": modules,
            "rows": rows,
            "opts": self.model._meta,
        }
        return render(request, "admin/training/matrix.html", context)


@admin.register(ModuleVersion)
class ModuleVersionAdmin(admin.ModelAdmin):
    list_display = ["module", "number", "published_at", "recertify_by"]
    fields = ["module", "number", "published_at", "learning_outcomes", "recertify_by"]
    readonly_fields = ["module", "number", "published_at", "learning_outcomes"]
    labels = {"number": "Version", "published_at": "Published", "recertify_by": "Earlier certificates stop counting on"}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Certificate)
class CertificateAdmin(SchemeScopedAdmin):
    list_display = ["user", "module", "expires_at", "revoked_at", "version", "passed_at"]
    list_filter = ["module", "revoked_at"]
    labels = {
        "user": "Holder",
        "passed_at": "Passed",
        "expires_at": "Expires",
        "code": "Verification code",
        "revoked_at": "Revoked",
        "revoke_reason": "Reason for revoking",
    }
    list_select_related = ["user", "module", "version"]
    search_fields = ["user__full_name", "user__email", "code"]
    fields = [
        "user",
        "module",
        "version",
        "passed_at",
        "expires_at",
        "code",
        "revoked_at",
        "revoked_by",
        "revoke_reason",
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fixed = ["user", "module", "version", "passed_at", "expires_at", "code", "revoked_at", "revoked_by"]
        return [*fixed, "revoke_reason"] if obj is not None and obj.revoked_at else fixed

    def save_model(self, request: HttpRequest, obj: Certificate, form: Any, change: bool) -> None:
        reason = form.cleaned_data.get("revoke_reason", "")
        if reason.strip():
            try:
                services.certificate_revoke(
                    certificate=Certificate.objects.get(pk=obj.pk), by=request.user, reason=reason
                )
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Attempt)
class AttemptAdmin(ReadOnlyAdmin, SchemeScopedAdmin):
    list_display = ["user", "version", "passed", "score_percent", "submitted_at", "started_at"]
    list_filter = ["passed", "version__module"]
    labels = {"started_at": "Started", "submitted_at": "Submitted", "score_percent": "Score (%)"}
    list_select_related = ["user", "version__module"]
    exclude = ["answers", "seed"]


@admin.register(AttemptReset)
class AttemptResetAdmin(SchemeScopedAdmin):
    list_display = ["user", "module", "by", "at"]
    fields = ["user", "module", "reason"]
    labels = {"user": "Volunteer", "by": "Reset by", "at": "When"}

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, **kwargs)
        if "user" in form.base_fields:
            form.base_fields["user"].queryset = scheme_filter(
                User.objects.filter(groups__name=roles.VOLUNTEER.code), request.user
            )
        return form

    def save_model(self, request: HttpRequest, obj: AttemptReset, form: Any, change: bool) -> None:
        created = services.attempts_reset(user=obj.user, module=obj.module, by=request.user, reason=obj.reason)
        obj.pk = created.pk

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("user", "module", "by")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
