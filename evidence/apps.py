"""Evidence: authorisations, taskings, exhibits, custody, statements and handover bundles."""

from django.apps import AppConfig


class EvidenceConfig(AppConfig):
    name = "evidence"
    verbose_name = "Evidence"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from evidence import tasks  # noqa: F401  (register Celery tasks)
