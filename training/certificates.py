"""Certificate PDFs: rendered by WeasyPrint, which may fetch nothing but data: URLs."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.template.loader import render_to_string
from django.urls import reverse

from portal.pdf import render_pdf
from training.models import Certificate


def verification_url(certificate: Certificate) -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + reverse("certificate_verify", args=[certificate.code])


def render_certificate_pdf(certificate: Certificate) -> bytes:
    html = render_to_string(
        "training/certificate_pdf.html",
        {
            "certificate": certificate,
            "verify_url": verification_url(certificate),
            "check_url": settings.PORTAL_BASE_URL.rstrip("/") + reverse("certificate_check"),
        },
    )
    return render_pdf(html)


def certificate_store_pdf(certificate: Certificate) -> Certificate:
    """Idempotent: a certificate whose PDF is already stored is left as it is."""
    if certificate.pdf_path and default_storage.exists(certificate.pdf_path):
        return certificate
    pdf = render_certificate_pdf(certificate)
    name = default_storage.save(f"certificates/{certificate.code}.pdf", ContentFile(pdf))
    Certificate.objects.filter(pk=certificate.pk).update(pdf_path=name, pdf_sha256=hashlib.sha256(pdf).hexdigest())
    certificate.refresh_from_db()
    return certificate
