"""Retention's background work."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="retention.complete_disposals", ignore_result=True)
def complete_disposals_task() -> dict[str, list[str]]:
    """Hourly: finish disposals whose content removal or certificate failed after approval (each is logged)."""
    from retention.disposal import complete_disposals

    return {"unfinished": complete_disposals()}
