"""Retention: case outcomes, the retention rules they drive, and legal holds."""

from django.apps import AppConfig


class RetentionConfig(AppConfig):
    name = "retention"
    verbose_name = "Retention and legal holds"
    default_auto_field = "django.db.models.BigAutoField"
