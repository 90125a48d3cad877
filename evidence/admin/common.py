"""What the evidence admin's pages share: short titles, hashes that wrap, roles in words, read-only lists."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.text import Truncator

from evidence import sniff
from portal import roles
from portal.display import EMPTY

TYPE_LABELS = {kind.mime: kind.label for kind in vars(sniff).values() if isinstance(kind, sniff.Sniffed)}
TITLE_CHARS = 40  # a list column's share of a long title; the record page shows it whole


def short(text: str, chars: int = TITLE_CHARS) -> str:
    return Truncator(text or "").chars(chars, truncate="…")


def hash_html(value: str) -> str:
    """A SHA-256 in full, in a box that wraps it on a narrow screen."""
    return format_html('<span class="portal-hash">{}</span>', value) if value else EMPTY


def role_words(codes: str) -> str:
    """Roles stored by value ("supervising_officer,welfare_officer") as people name them."""
    words = {"superuser": roles.SUPERUSER_LABEL, "system": "The portal", "none": "No role"}
    return ", ".join(
        words.get(code) or getattr(roles.BY_CODE.get(code), "label", code) for code in codes.split(",") if code
    )


class ReferenceColumnsMixin:
    """List columns that name a tasking or an authorisation by its reference, not its long title."""

    @admin.display(description="Tasking", ordering="tasking__reference")
    def tasking_reference(self, obj: Any) -> str:
        return obj.tasking.reference


class ReadOnlyInline(admin.TabularInline):
    """A tasking's records listed on its page: read here, changed (if ever) through their own services."""

    extra = 0
    can_delete = False
    show_change_link = False
    template = "admin/edit_inline/portal_readonly.html"

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        # Inline instances are made afresh for each request, so the viewer can be kept for the links below.
        self.viewer = request.user
        return super().get_formset(request, obj, **kwargs)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class EvidenceContentInline(ReadOnlyInline):
    """Evidence content (exhibits, notes, statements): for those who may read exhibits, never welfare staff."""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("evidence.view_exhibit")
