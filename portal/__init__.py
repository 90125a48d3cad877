"""The portal project package: ground floor (identity, schemes, audit, jobs) and roof (settings, urls)."""

from portal.celery import app as celery_app

__all__ = ["celery_app"]
