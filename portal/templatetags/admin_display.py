"""Template filters for the officer admin: the one date format in UK time, and sizes in words."""

from __future__ import annotations

from typing import Any

from django import template

from portal import display

register = template.Library()


@register.filter
def when(value: Any) -> str:
    """{{ alert.raised_at|when }} -> "2 December 2026, 18:05" (UK time)."""
    return display.when(value) if value else ""


@register.filter
def file_size(value: Any) -> str:
    """{{ exhibit.size|file_size }} -> "105.7 KB"."""
    return display.file_size(value) if value is not None else ""
