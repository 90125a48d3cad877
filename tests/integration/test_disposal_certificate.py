"""The signed disposal certificate: issued when two officers dispose of an exhibit's content, readable by a data
protection officer, signed with the scheme's key, checked by verify_custody, downloadable by the scheme's officers
only, and issued later (with any content left behind removed) when it could not be issued at once.

Same world as test_disposal.py: Owen proposes, Olive approves; Otto is Harbour's officer.
"""

from __future__ import annotations

import io
import re

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, transaction
from django.urls import reverse
from pypdf import PdfReader

from evidence.custody import custody_verify_exhibit
from evidence.models import Exhibit
from portal.models import AuditEvent
from retention.disposal import disposal_approve, disposal_propose
from retention.models import DisposalCertificate
from tests.conftest import on_postgres
from tests.integration import bundle_helpers, test_disposal
from tests.integration.bundle_helpers import PNG
from tests.integration.test_disposal import REASON
from tests.integration.test_retention import signed_in, text_of

# test_disposal.py's world, and a scheme signing key.
olive, exhibit, past_its_date = test_disposal.olive, test_disposal.exhibit, test_disposal.past_its_date
signing_key = bundle_helpers.signing_key


def dispose(exhibit, owen, olive):
    return disposal_approve(proposal=disposal_propose(exhibit=exhibit, by=owen, reason=REASON), by=olive)


def stored_pdf(certificate: DisposalCertificate) -> bytes:
    with default_storage.open(certificate.pdf_name, "rb") as handle:
        return handle.read()


def words(pdf: bytes) -> str:
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))


def signature_status(pdf: bytes, cert_path: str):
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    from evidence.verify import outside_event_loop

    signature = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0]
    context = ValidationContext(trust_roots=[load_cert_from_pemder(cert_path)])
    return outside_event_loop(lambda: validate_pdf_signature(signature, context))


def test_a_disposal_issues_a_signed_certificate_a_stranger_can_read(past_its_date, owen, olive, signing_key):
    exhibit = past_its_date
    tombstone = dispose(exhibit, owen, olive)

    certificate = DisposalCertificate.objects.get(tombstone=tombstone)
    pdf = stored_pdf(certificate)
    import hashlib

    assert hashlib.sha256(pdf).hexdigest() == certificate.pdf_sha256
    text = words(pdf)
    # What, when, by whom, under which rule and source, what went and what stays: each in words.
    for expected in (
        "Certificate of disposal",
        certificate.number,
        f"exhibit {exhibit.reference}",
        exhibit.tasking.reference,
        "shot.png",
        tombstone.rule_reason[1:],  # after its first letter, which the certificate capitalises
        tombstone.legal_source[1:],
        owen.get_full_name(),
        olive.get_full_name(),
        REASON,
        "No further action",
        "after re-authenticating",
        "What is kept",
        f"Page 1 of {certificate.page_count}",
    ):
        assert expected in text, expected
    assert exhibit.sha256 in text.replace(" ", "")
    size = f"{exhibit.size:,} bytes"
    assert text.count(size) == (text.count(f"({size})") if exhibit.size >= 1000 else 1) > 0  # never "N bytes (N bytes)"
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == certificate.page_count
    assert "/StructTreeRoot" in reader.trailer["/Root"] and reader.trailer["/Root"]["/Lang"] == "en-GB"
    # Signed with the scheme's key, over the whole file.
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    from evidence.verify import certificate_fingerprint

    status = signature_status(pdf, signing_key)
    assert status.intact and status.valid and status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert certificate.signed_by == certificate_fingerprint(signing_key)
    issued = AuditEvent.objects.get(action="retention.disposal_certificate_issued")
    assert issued.detail["sha256"] == certificate.pdf_sha256
    assert custody_verify_exhibit(Exhibit.objects.get(pk=exhibit.pk)) is None


def test_a_changed_certificate_fails_its_signature_and_verify_custody(past_its_date, owen, olive, signing_key):
    tombstone = dispose(past_its_date, owen, olive)
    certificate = tombstone.certificate
    pdf = stored_pdf(certificate)
    altered = pdf.replace(past_its_date.reference.encode(), b"XX/9", 1)
    if altered == pdf:  # the reference may sit only in compressed streams: change a byte inside the signed range
        altered = pdf[:200] + bytes([pdf[200] ^ 1]) + pdf[201:]
    assert not signature_status(altered, signing_key).intact
    default_storage.delete(certificate.pdf_name)
    default_storage.save(certificate.pdf_name, ContentFile(altered))
    problem = custody_verify_exhibit(Exhibit.objects.get(pk=past_its_date.pk))
    assert problem and certificate.number in problem and "SHA-256" in problem
    with pytest.raises(CommandError, match=certificate.number):
        call_command("verify_custody")
    default_storage.delete(certificate.pdf_name)
    assert "missing" in custody_verify_exhibit(Exhibit.objects.get(pk=past_its_date.pk))


def test_without_a_signing_key_the_disposal_stands_and_the_certificate_follows(
    past_its_date, owen, olive, settings, tmp_path
):
    settings.PORTAL_SIGNING_KEY_PATH = str(tmp_path / "no-key.pem")
    settings.PORTAL_SIGNING_CERT_PATH = str(tmp_path / "no-cert.pem")
    tombstone = dispose(past_its_date, owen, olive)
    exhibit = Exhibit.objects.get(pk=past_its_date.pk)
    assert exhibit.disposed_at is not None and not default_storage.exists(exhibit.stored_name)
    assert not DisposalCertificate.objects.exists()
    assert "complete_disposals" in custody_verify_exhibit(exhibit)
    # Storage failed too, after the commit: the content is still there.
    default_storage.save(exhibit.stored_name, ContentFile(PNG))
    with pytest.raises(CommandError, match=rf"{exhibit.reference}: No signing key"):
        call_command("complete_disposals", stdout=io.StringIO())
    assert not default_storage.exists(exhibit.stored_name)  # what could be done was done

    call_command("create_signing_key", "--force", stdout=io.StringIO())
    out = io.StringIO()
    call_command("complete_disposals", stdout=out)
    assert "Finished 1 disposals" in out.getvalue()
    assert DisposalCertificate.objects.get(tombstone=tombstone)
    assert custody_verify_exhibit(Exhibit.objects.get(pk=exhibit.pk)) is None
    out = io.StringIO()
    call_command("complete_disposals", stdout=out)  # nothing left to do, and it says so
    assert "Every disposal is finished" in out.getvalue()
    assert DisposalCertificate.objects.count() == 1


def test_the_certificate_is_issued_once_and_only_after_the_content_has_gone(
    past_its_date, owen, olive, settings, tmp_path
):
    from django.core.exceptions import ValidationError

    from retention.certificates import issue_disposal_certificate

    settings.PORTAL_SIGNING_KEY_PATH = str(tmp_path / "no-key.pem")
    tombstone = dispose(past_its_date, owen, olive)  # no certificate: no key
    settings.PORTAL_SIGNING_KEY_PATH, settings.PORTAL_SIGNING_CERT_PATH = (
        str(tmp_path / "k.pem"),
        str(tmp_path / "c.pem"),
    )
    call_command("create_signing_key", "--force", stdout=io.StringIO())
    default_storage.save(past_its_date.stored_name, ContentFile(PNG))  # content left behind
    with pytest.raises(ValidationError, match="still stored"):
        issue_disposal_certificate(tombstone)
    assert not DisposalCertificate.objects.exists()
    default_storage.delete(past_its_date.stored_name)
    first = issue_disposal_certificate(tombstone)
    assert issue_disposal_certificate(tombstone) == first and DisposalCertificate.objects.count() == 1


@pytest.mark.postgres
def test_the_database_refuses_to_change_or_delete_a_certificate(past_its_date, owen, olive, signing_key):
    assert on_postgres()
    certificate = dispose(past_its_date, owen, olive).certificate
    for attempt in (
        lambda: DisposalCertificate.objects.filter(pk=certificate.pk).update(pdf_sha256="0" * 64),
        lambda: DisposalCertificate.objects.filter(pk=certificate.pk)._raw_delete("default"),
    ):
        with pytest.raises(DatabaseError, match="refused"), transaction.atomic():
            attempt()


def test_the_schemes_officers_download_it_from_the_tombstone_and_it_is_audited(
    past_its_date,
    owen,
    olive,
    signing_key,
):
    tombstone = dispose(past_its_date, owen, olive)
    certificate = tombstone.certificate
    client = signed_in(owen)
    exhibit_page = client.get(reverse("admin:evidence_exhibit_change", args=[past_its_date.pk])).content.decode()
    assert "was disposed of on" in exhibit_page and "may be disposed of from" not in exhibit_page.lower()
    assert reverse("admin:retention_tombstone_change", args=[tombstone.pk]) in exhibit_page
    page = text_of(client.get(reverse("admin:retention_tombstone_change", args=[tombstone.pk])))
    assert f"Download certificate {certificate.number}" in page and certificate.pdf_sha256 in page
    # The record reads in words: the rule as a sentence, not its code; the size in bytes; each label once.
    assert tombstone.rule not in page and f"Retention rule: {tombstone.rule_reason[0].upper()}" in page
    assert "SHA-256 of the original" in page and "bytes" in page and page.count("What was disposed of") == 1
    listed = text_of(client.get(reverse("admin:retention_tombstone_changelist")))
    assert tombstone.reference in listed and tombstone.rule not in listed
    response = client.get(reverse("admin:retention_tombstone_certificate", args=[tombstone.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert f'filename="{certificate.number}.pdf"' in response["Content-Disposition"]
    assert b"".join(response.streaming_content) == stored_pdf(certificate)
    downloaded = AuditEvent.objects.get(action="retention.disposal_certificate_downloaded")
    assert downloaded.actor_email == owen.email and downloaded.detail["sha256"] == certificate.pdf_sha256


def test_the_approving_officer_is_pointed_to_the_certificate(past_its_date, owen, olive, signing_key):
    from tests.conftest import PASSWORD

    proposal = disposal_propose(exhibit=past_its_date, by=owen, reason=REASON)
    client = signed_in(olive)
    decide = reverse("admin:retention_disposal_decide", args=[proposal.pk])
    asked = client.post(decide, {"decision": "approve", "note": ""})
    client.post(asked["Location"], {"password": PASSWORD})
    page = client.post(decide, {"decision": "approve", "note": ""}, follow=True).content.decode()
    assert "Its signed disposal certificate" in page
    assert reverse("admin:retention_tombstone_change", args=[past_its_date.tombstone.pk]) in page


def test_without_a_key_the_approver_and_the_tombstone_say_the_certificate_will_follow(
    past_its_date, owen, olive, settings, tmp_path
):
    from tests.conftest import PASSWORD

    settings.PORTAL_SIGNING_KEY_PATH = str(tmp_path / "no-key.pem")
    settings.PORTAL_SIGNING_CERT_PATH = str(tmp_path / "no-cert.pem")
    proposal = disposal_propose(exhibit=past_its_date, by=owen, reason=REASON)
    client = signed_in(olive)
    decide = reverse("admin:retention_disposal_decide", args=[proposal.pk])
    asked = client.post(decide, {"decision": "approve", "note": ""})
    # The password given, the approval goes ahead and the approver lands on the review list with the outcome.
    page = client.post(asked["Location"], {"password": PASSWORD}, follow=True).content.decode()
    assert f"Exhibit {past_its_date.reference} disposed of" in page
    assert "could not be issued yet" in page and "tries again every hour" in page
    tombstone = Exhibit.objects.get(pk=past_its_date.pk).tombstone
    shown = text_of(client.get(reverse("admin:retention_tombstone_change", args=[tombstone.pk])))
    assert "Not issued yet" in shown and "Download certificate" not in shown
    missing = client.get(reverse("admin:retention_tombstone_certificate", args=[tombstone.pk]))
    assert missing.status_code == 404


@pytest.mark.parametrize("who", ["otto", "wendy", "ada", "vera", "carla"])
def test_nobody_else_downloads_a_certificate(request, who, past_its_date, owen, olive, signing_key):
    tombstone = dispose(past_its_date, owen, olive)
    client = signed_in(request.getfixturevalue(who))
    response = client.get(reverse("admin:retention_tombstone_certificate", args=[tombstone.pk]))
    assert response.status_code in (302, 403, 404)
    assert response.get("Content-Type") != "application/pdf"
    assert not AuditEvent.objects.filter(action="retention.disposal_certificate_downloaded").exists()


def test_with_a_time_stamping_authority_the_certificate_carries_its_time(
    past_its_date,
    owen,
    olive,
    signing_key,
    tmp_path,
    settings,
):
    from evidence.verify import verify
    from tests.local_tsa import LocalTsa

    with LocalTsa(tmp_path) as authority:
        settings.PORTAL_TSA_URL, settings.PORTAL_TSA_CERT_PATH = authority.url, str(authority.cert_path)
        certificate = dispose(past_its_date, owen, olive).certificate
    pdf = stored_pdf(certificate)
    report = verify(pdf, signing_key, tsa_cert=str(authority.cert_path))
    assert report.checks[0].startswith("signature intact")
    assert "time-stamping authority shows" in report.checks[1]
    assert "time-stamped by a time-stamping authority" in words(pdf)
