"""Partner installations (another force's portal) whose signed deconfliction sets this one imports: the
platform's superusers pin each partner's certificate here; the sets come in with
`manage.py deconfliction_import_set` (evidence/deconfliction/partners.py)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from evidence.deconfliction.partners import partner_add
from evidence.models import PartnerInstallation, PartnerSet


class PartnerForm(forms.ModelForm):
    class Meta:
        model = PartnerInstallation
        fields = ["name", "certificate"]
        widgets = {"certificate": forms.Textarea(attrs={"rows": 12, "spellcheck": "false"})}


class PartnerSetInline(admin.TabularInline):
    model = PartnerSet
    extra = 0
    can_delete = False
    fields = ["issued_at", "issuer", "contact_name", "contact_email", "entry_count", "imported_at", "replaced_at"]
    readonly_fields = fields
    verbose_name = "imported set"
    verbose_name_plural = "imported sets (the newest is matched against)"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PartnerInstallation)
class PartnerInstallationAdmin(admin.ModelAdmin):
    form = PartnerForm
    list_display = ["name", "fingerprint", "added_at"]
    search_fields = ["name"]
    inlines = [PartnerSetInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # A pinned certificate is never edited in place: a partner's new key is added as a new partner entry
        # after its fingerprint is confirmed with them, so what was trusted when stays on the record.
        return ["name", "certificate", "fingerprint", "added_by", "added_at"] if obj else []

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: PartnerInstallation, form: Any, change: bool) -> None:
        added = partner_add(name=obj.name, certificate=obj.certificate, by=request.user)
        obj.pk, obj.fingerprint, obj.added_by, obj.added_at = (
            added.pk,
            added.fingerprint,
            added.added_by,
            added.added_at,
        )

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form_class = super().get_form(request, obj, change=change, **kwargs)

        class Checked(form_class):  # type: ignore[misc, valid-type]
            def clean(self) -> dict:
                cleaned = super().clean()
                if cleaned.get("certificate"):
                    from evidence.deconfliction.partners import certificate_check

                    try:
                        certificate_check(cleaned["certificate"])
                    except ValidationError as exc:
                        self.add_error("certificate", exc.messages)
                return cleaned

        return Checked
