"""The admin site: sign-in goes through allauth (MFA, rate limits) and every change is audited."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse


class AuditedAdminMixin:
    """Writes an audit event beside Django's own LogEntry for every admin add, change and delete."""

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        from portal.audit import audit_record

        entry = super().log_addition(request, obj, message)
        audit_record(action="admin.add", obj=obj, request=request, detail={"repr": str(obj)[:200]})
        return entry

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        from portal.audit import audit_record

        entry = super().log_change(request, obj, message)
        audit_record(
            action="admin.change", obj=obj, request=request, detail={"repr": str(obj)[:200], "changes": _plain(message)}
        )
        return entry

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:
        from portal.audit import audit_record

        for obj in queryset:
            audit_record(action="admin.delete", obj=obj, request=request, detail={"repr": str(obj)[:200]})
        return super().log_deletions(request, queryset)


def _plain(message: Any) -> Any:
    if isinstance(message, (list, dict, str)):
        import json

        return json.loads(json.dumps(message, default=str))
    return str(message)


class PortalAdminSite(admin.AdminSite):
    site_header = "Accredited Volunteer Portal — officer admin"
    site_title = "Officer admin"
    index_title = "Your scheme"
    site_url = None  # officers' home is the admin itself; "/" would only send them back here

    def register(self, model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        # Every ModelAdmin — ours and third-party ones — is audited, without each one remembering to.
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, AuditedAdminMixin):
            admin_class = type(f"Audited{admin_class.__name__}", (AuditedAdminMixin, admin_class), {})
        super().register(model_or_iterable, admin_class, **options)

    def login(self, request: HttpRequest, extra_context: Any = None) -> HttpResponseRedirect:
        # The admin's own login form would bypass allauth's MFA and rate limits.
        if request.user.is_authenticated:
            # Signed in, but not staff (a volunteer, a court recipient): say so rather than loop.
            raise PermissionDenied("Your account does not give access to the officer admin.")
        next_url = request.GET.get("next") or reverse("admin:index", current_app=self.name)
        return HttpResponseRedirect(f"{reverse('account_login')}?{urlencode({'next': next_url})}")

    def logout(self, request: HttpRequest, extra_context: Any = None) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("account_logout"))

    def each_context(self, request: HttpRequest) -> dict:
        context = super().each_context(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_staff:
            from evidence.models import SafeguardingAlert

            context["open_safeguarding_alerts"] = list(
                SafeguardingAlert.objects.filter(acknowledged_at__isnull=True)
                .filter(Q(tasking__handler=user) | Q(tasking__controller=user))
                .select_related("tasking")[:10]
            )
        return context

    def password_change(self, request: HttpRequest, extra_context: Any = None) -> HttpResponseRedirect:
        # One place to change a password: allauth's, with its validators, audit and re-authentication.
        return HttpResponseRedirect(reverse("account_change_password"))
