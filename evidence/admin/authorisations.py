"""Authorisations in the officer admin: recorded once, cancelled with a reason, never deleted."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils import timezone

from evidence import services
from evidence.models import Authorisation
from portal.admin import SchemeScopedAdmin


class DateListField(forms.CharField):
    """Dates typed one a line (15/01/2027 or 2027-01-15), kept as a list of ISO dates."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 20})
    FORMATS = ("%d/%m/%Y", "%Y-%m-%d", "%d %B %Y", "%d %b %Y")

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            lines = []
            for item in value:
                try:
                    lines.append(f"{date.fromisoformat(str(item)):%d/%m/%Y}")
                except ValueError:
                    lines.append(str(item))
            return "\n".join(lines)
        return value

    def to_python(self, value: Any) -> list[str]:
        if isinstance(value, list):
            return value
        text = (value or "").strip()
        if text.startswith("["):  # the JSON list this field once took: still read, one date an item
            try:
                value = "\n".join(str(item) for item in json.loads(text))
            except (ValueError, TypeError):
                raise ValidationError("Enter each review date on its own line, like 15/01/2027.") from None
        dates = []
        for line in (value or "").splitlines():
            text = line.strip()
            if not text:
                continue
            for pattern in self.FORMATS:
                try:
                    dates.append(datetime.strptime(text, pattern).date().isoformat())
                    break
                except ValueError:
                    continue
            else:
                raise ValidationError(
                    f"“{text}” is not a date: enter each review date on its own line, like 15/01/2027."
                )
        return dates


class AuthorisationForm(forms.ModelForm):
    review_dates = DateListField(
        required=False, label="Review dates", help_text="One date a line, like 15/01/2027. Leave empty if none are set."
    )

    class Meta:
        model = Authorisation
        fields = [
            "kind",
            "reference",
            "authorising_officer",
            "authorising_rank",
            "urgent",
            "granted_at",
            "expires_at",
            "review_dates",
            "cancellation_reason",
        ]


@admin.register(Authorisation)
class AuthorisationAdmin(SchemeScopedAdmin):
    form = AuthorisationForm
    list_display = [
        "reference",
        "kind",
        "in_force",
        "expires_at",
        "authorising_officer",
        "authorising_rank",
        "granted_at",
    ]
    list_filter = ["kind"]
    search_fields = ["reference", "authorising_officer"]
    readonly_fields = ["cancelled_at", "cancelled_by", "recorded_by", "recorded_at"]
    fields = [
        "kind",
        "reference",
        "authorising_officer",
        "authorising_rank",
        "urgent",
        "granted_at",
        "expires_at",
        "review_dates",
        "cancellation_reason",
        *readonly_fields,
    ]
    labels = {
        "kind": "Type",
        "authorising_rank": "Authorising officer's rank",
        "urgent": "Urgent or oral",
        "granted_at": "Granted",
        "expires_at": "Expires",
        "cancellation_reason": "Reason for cancelling",
        "cancelled_at": "Cancelled",
        "recorded_at": "Recorded",
    }

    @admin.display(description="In force")
    def in_force(self, obj: Authorisation) -> str:
        from evidence.policy import authorisation_problem

        problem = authorisation_problem(obj, timezone.now())
        return "Yes" if problem is None else problem.officer

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:  # a new authorisation: only what the officer records; the rest is written for them
            return [name for name in self.fields if name not in (*self.readonly_fields, "cancellation_reason")]
        return list(self.fields)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return [*self.readonly_fields, "cancellation_reason"]
        fixed = ["kind", "reference", "authorising_officer", "authorising_rank", "urgent", "granted_at", "expires_at"]
        return [*fixed, *self.readonly_fields] + (["cancellation_reason"] if obj.cancelled_at else [])

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, **kwargs)
        if obj is None and "expires_at" in form.base_fields:
            form.base_fields["expires_at"].required = False
            form.base_fields["expires_at"].help_text = (
                "Leave empty for the standard period: 72 hours if urgent, 12 months for a CHIS, 3 months for "
                "directed surveillance."
            )
        if "cancellation_reason" in form.base_fields:
            form.base_fields[
                "cancellation_reason"
            ].help_text = (
                "To cancel the authorisation, give the reason: every tasking under it stops taking evidence at once."
            )
        return form

    def save_model(self, request: HttpRequest, obj: Authorisation, form: Any, change: bool) -> None:
        if not change:
            obj.scheme_id = request.user.scheme_id
            obj.recorded_by = request.user
            if obj.expires_at is None:
                obj.expires_at = services.authorisation_default_expiry(
                    kind=obj.kind, granted_at=obj.granted_at, urgent=obj.urgent
                )
            super().save_model(request, obj, form, change)
        elif form.cleaned_data.get("cancellation_reason") and not obj.cancelled_at:
            try:
                services.authorisation_cancel(
                    authorisation=Authorisation.objects.get(pk=obj.pk),
                    by=request.user,
                    reason=form.cleaned_data["cancellation_reason"],
                )
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
        else:
            super().save_model(request, obj, form, change)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and request.user.scheme_id is not None

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
