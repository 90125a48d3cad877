"""Evidence: authorisations, taskings, exhibits, custody, statements and handover bundles."""

from django.apps import AppConfig


class EvidenceConfig(AppConfig):
    name = "evidence"
    verbose_name = "Evidence"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from evidence import tasks  # noqa: F401  (register Celery tasks)
        from evidence.custody import custody_heads_since
        from portal.anchors import register_chain

        # Each exhibit's custody chain head is time-stamped with the audit chain's (portal/anchors.py).
        register_chain("custody", custody_heads_since)
