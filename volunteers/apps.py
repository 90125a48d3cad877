"""Volunteers: invitation, vetting, welfare screening and deployability."""

from django.apps import AppConfig


class VolunteersConfig(AppConfig):
    name = "volunteers"
    verbose_name = "Volunteers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from volunteers import tasks  # noqa: F401  (register Celery tasks)
