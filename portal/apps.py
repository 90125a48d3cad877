"""App configs for the ground floor and for the audited, allauth-fronted admin site."""

from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from portal import receivers, tasks  # noqa: F401  (connect audit receivers, register jobs)


class PortalAdminConfig(AdminConfig):
    default_site = "portal.admin_site.PortalAdminSite"

    def ready(self) -> None:
        super().ready()
        from django.core import checks

        from portal.admin_site import check_every_admin_choice_is_scoped

        checks.register(check_every_admin_choice_is_scoped, checks.Tags.admin)
