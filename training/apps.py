"""Training: versioned modules, assessments and certificates (knows users, not volunteers)."""

from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "training"
    verbose_name = "Training"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from training import tasks  # noqa: F401  (register the certificate job)
