"""The signed disposal certificate in the admin, once for both tombstones (an exhibit's, a person's records'):
the link on the tombstone page, the audited download, and the message after an approval."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.files.storage import default_storage
from django.db.models import Model
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import capfirst

from portal.audit import audit_record
from portal.display import when
from retention.models import DisposalCertificate, PersonTombstone, Tombstone

RETRY_WORDS = (
    "The portal tries again every hour. If it is still missing tomorrow, tell your system administrator: the server "
    "log says why, and `python manage.py complete_disposals` tries again at once."
)


def _certificate_of(tombstone: Tombstone | PersonTombstone) -> DisposalCertificate | None:
    field = "person_tombstone" if isinstance(tombstone, PersonTombstone) else "tombstone"
    return DisposalCertificate.objects.filter(**{field: tombstone}).first()


def approval_message(request: HttpRequest, done: str, tombstone: Model) -> None:
    """Tell the approver the disposal is done, with a link to its certificate, or that the certificate will follow."""
    if _certificate_of(tombstone) is not None:
        opts = tombstone._meta
        link = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[tombstone.pk])
        messages.success(request, format_html('{} <a href="{}">Its signed disposal certificate</a>.', done, link))
    else:
        messages.warning(request, f"{done} Its signed disposal certificate could not be issued yet. {RETRY_WORDS}")


class TombstoneAdminMixin:
    """For a tombstone's ModelAdmin: what was disposed of and under which rule, in words; the certificate (or why
    there is none yet), served as issued to whoever may view the tombstone, each download audited."""

    readonly_fields = ["what_disposed", "rule_in_words", "certificate_link"]
    #: What the tombstone page says before the certificate exists.
    certificate_pending = (
        "Not issued yet: the portal issues it once the content has gone and the scheme's signing key is available. "
        + RETRY_WORDS
    )

    def certificate_audit_action(self, tombstone: Model) -> str:
        return "retention.disposal_certificate_downloaded"

    def _certificate_url_name(self) -> str:
        opts = self.model._meta
        return f"{opts.app_label}_{opts.model_name}_certificate"

    def get_fields(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        return [*self.fields, "certificate_link"]

    def get_urls(self) -> list:
        return [
            path(
                "<int:pk>/certificate/",
                self.admin_site.admin_view(self.certificate_view),
                name=self._certificate_url_name(),
            ),
            *super().get_urls(),
        ]

    @admin.display(description="What was disposed of, and what is kept")
    def what_disposed(self, obj: Model) -> str:
        return obj.what

    @admin.display(description="Retention rule", ordering="rule")
    def rule_in_words(self, obj: Model) -> str:
        return capfirst(obj.rule_reason)

    @admin.display(description="Signed disposal certificate")
    def certificate_link(self, obj: Model) -> str:
        certificate = _certificate_of(obj)
        if certificate is None:
            return self.certificate_pending
        return format_html(
            '<a href="{}">Download certificate {} (PDF, {} pages)</a><br>Issued {}. SHA-256 {}.',
            reverse(f"admin:{self._certificate_url_name()}", args=[obj.pk]),
            certificate.number,
            certificate.page_count,
            when(certificate.issued_at),
            certificate.pdf_sha256,
        )

    def certificate_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The signed certificate of a disposal the viewer may read, as it was issued (audited)."""
        tombstone = self.get_queryset(request).filter(pk=pk).first()
        if tombstone is None or not self.has_view_permission(request, tombstone):
            raise Http404("No such disposal.")
        certificate = _certificate_of(tombstone)
        if certificate is None:
            raise Http404("The certificate of this disposal has not been issued yet.")
        audit_record(
            action=self.certificate_audit_action(tombstone),
            actor=request.user,
            obj=tombstone,
            detail={"certificate": certificate.number, "sha256": certificate.pdf_sha256},
        )
        return FileResponse(
            default_storage.open(certificate.pdf_name, "rb"),
            as_attachment=True,
            filename=f"{certificate.number}.pdf",
            content_type="application/pdf",
        )
