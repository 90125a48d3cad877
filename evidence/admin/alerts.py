"""Safeguarding alerts in the officer admin: each acknowledged with one button, by a supervising officer."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from evidence import services
from evidence.admin.common import ReferenceColumnsMixin, short
from evidence.models import SafeguardingAlert
from evidence.policy import may_acknowledge_alert
from portal.admin import ReadOnlyAdmin, SchemeScopedAdmin
from portal.display import EMPTY, when


class AcknowledgedFilter(admin.SimpleListFilter):
    title = "acknowledgement"
    parameter_name = "acknowledged"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("no", "Waiting"), ("yes", "Acknowledged")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "no":
            return queryset.filter(acknowledged_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(acknowledged_at__isnull=False)
        return queryset


@admin.register(SafeguardingAlert)
class SafeguardingAlertAdmin(ReferenceColumnsMixin, ReadOnlyAdmin, SchemeScopedAdmin):
    """Alerts come first as a task: one button acknowledges one alert (no selection, no action menu)."""

    list_display = ["acknowledgement", "tasking_reference", "raised_at", "waited", "short_note", "raised_by"]
    list_display_links = ["raised_at"]
    list_filter = [AcknowledgedFilter]
    list_select_related = ["tasking", "raised_by", "acknowledged_by"]
    actions = None
    labels = {"raised_at": "Raised", "acknowledged_at": "Acknowledged"}

    @admin.display(description="Acknowledgement")
    def acknowledgement(self, obj: SafeguardingAlert) -> str:
        if obj.acknowledged_at:
            by = obj.acknowledged_by.get_full_name() if obj.acknowledged_by else "an officer"
            return f"Acknowledged by {by}, {when(obj.acknowledged_at)}"
        # The list sits inside Django's change-list form: the button posts that form (with its CSRF token)
        # to the alert's own address, so no form is nested in another.
        return format_html(
            '<button type="submit" class="button default portal-button" formaction="{}" name="next" value="{}">'
            'Acknowledge<span class="visually-hidden"> the alert on {} raised {}</span></button>',
            reverse("admin:evidence_safeguardingalert_acknowledge", args=[obj.pk]),
            reverse("admin:evidence_safeguardingalert_changelist"),
            obj.tasking.reference,
            when(obj.raised_at),
        )

    @admin.display(description="Note")
    def short_note(self, obj: SafeguardingAlert) -> str:
        return short(obj.note, 80) or EMPTY

    @admin.display(description="Time to acknowledge")
    def waited(self, obj: SafeguardingAlert) -> str:
        delta = obj.time_to_acknowledge or (timezone.now() - obj.raised_at)
        minutes = int(delta.total_seconds() // 60)
        text = f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
        return text if obj.acknowledged_at else f"Waiting {text}"

    def get_list_display(self, request: HttpRequest) -> list:
        shown = list(super().get_list_display(request))
        if not self.has_acknowledge_permission(request):
            shown[0] = "acknowledged_state"
        return shown

    @admin.display(description="Acknowledgement")
    def acknowledged_state(self, obj: SafeguardingAlert) -> str:
        if obj.acknowledged_at:
            return self.acknowledgement(obj)
        return "Waiting for the tasking's officers"

    def has_acknowledge_permission(self, request: HttpRequest) -> bool:
        """Acknowledging says a supervising officer has taken the alert on: officers of the scheme (the
        service checks the alert is theirs)."""
        return may_acknowledge_alert(request.user)

    def get_urls(self) -> list:
        return [
            path(
                "<int:pk>/acknowledge/",
                self.admin_site.admin_view(require_POST(self.acknowledge_view)),
                name="evidence_safeguardingalert_acknowledge",
            ),
            *super().get_urls(),
        ]

    def acknowledge_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        alert = get_object_or_404(self.get_queryset(request).select_related("tasking"), pk=pk)
        if not self.has_acknowledge_permission(request):
            raise PermissionDenied
        try:
            services.safeguarding_acknowledge(alert=alert, by=request.user)
        except (ValidationError, PermissionDenied) as exc:
            text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            messages.warning(request, f"{alert.tasking.reference}: {text}")
        else:
            messages.success(
                request,
                f"You acknowledged the safeguarding alert on {alert.tasking.reference}: the volunteer's officers "
                "can see you have taken it on. Follow your force's procedure if a child is in immediate danger.",
            )
        target = request.POST.get("next", "")
        safe = target.startswith("/") and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
        return HttpResponseRedirect(target if safe else reverse("admin:evidence_safeguardingalert_changelist"))
