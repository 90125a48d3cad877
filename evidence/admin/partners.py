"""Partner installations (another force's portal) whose signed deconfliction sets this one imports: the
platform's superusers pin each partner's certificate here; the sets come in with
`manage.py deconfliction_import_set` (evidence/deconfliction/partners.py)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path

from evidence.admin.common import ReadOnlyInline
from evidence.deconfliction.partners import partner_add
from evidence.models import PartnerInstallation, PartnerSet
from evidence.policy import may_exchange_with_partners


class PartnerForm(forms.ModelForm):
    class Meta:
        model = PartnerInstallation
        fields = ["name", "certificate"]
        widgets = {"certificate": forms.Textarea(attrs={"rows": 12, "spellcheck": "false"})}


class SetImportForm(forms.Form):
    file = forms.FileField(
        label="The partner's signed set",
        help_text="The file the partner's installation exported (Export the deconfliction set, under Taskings). It "
        "is imported only if this partner's certificate signed it unaltered and it is newer than the set held.",
        error_messages={"required": "Choose the file the partner sent", "empty": "The chosen file is empty"},
    )


class PartnerSetInline(ReadOnlyInline):
    model = PartnerSet
    fields = ["issued_at", "issuer", "contact_name", "contact_email", "entry_count", "imported_at", "replaced_at"]
    readonly_fields = fields
    verbose_name = "imported set"
    verbose_name_plural = "imported sets (the newest is matched against)"


@admin.register(PartnerInstallation)
class PartnerInstallationAdmin(admin.ModelAdmin):
    form = PartnerForm
    list_display = ["name", "fingerprint", "added_at"]
    search_fields = ["name"]
    inlines = [PartnerSetInline]

    change_form_template = "admin/evidence/partnerinstallation/change_form.html"

    def get_urls(self) -> list:
        return [
            path(
                "<int:pk>/import/",
                self.admin_site.admin_view(self.import_view),
                name="evidence_partnerinstallation_import",
            ),
            *super().get_urls(),
        ]

    def import_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Import a set the partner sent: checked, then matched at once against the live taskings here."""
        from evidence.deconfliction.partners import set_import

        if not may_exchange_with_partners(request.user):
            raise PermissionDenied
        partner = get_object_or_404(PartnerInstallation, pk=pk)
        form = SetImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                imported, matches = set_import(partner=partner, data=upload.read(), by=request.user)
            except ValidationError as exc:
                form.add_error("file", exc.messages)
            else:
                found = (
                    f" {len(matches)} live tasking{'s' if len(matches) != 1 else ''} matched and paused; their "
                    "controllers have been told whom to contact."
                    if matches
                    else " No live tasking here matches it."
                )
                indexes = f"{imported.entry_count:,} blind index{'es' if imported.entry_count != 1 else ''}"
                messages.success(
                    request,
                    f"Imported {partner.name}'s set of {indexes}, issued "
                    f"{imported.issued_at:%-d %B %Y %H:%M} UTC; contact {imported.contact_name} "
                    f"({imported.contact_email}).{found}",
                )
                return redirect("admin:evidence_partnerinstallation_change", partner.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": partner,
            "title": f"Import a set from {partner.name}",
            "form": form,
        }
        return TemplateResponse(request, "admin/evidence/partnerinstallation/import.html", context)

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
