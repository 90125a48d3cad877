"""The "Verify a bundle" page: court recipients and officers upload a bundle file and see every check.

Carla (court) is shared Lantern's bundle unless a test says otherwise; Owen supervises Lantern; Vera
(volunteer) and Wendy (welfare) may not use the page at all.
"""

import hashlib
import html
import io
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from evidence import bundles, services
from evidence.statements import statement_save_draft, statement_sign
from portal.models import AuditEvent
from tests.conftest import enrol_totp, mfa_login
from tests.integration.bundle_helpers import sign_schedules

URL = "/bundles/verify/"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 8


class Received:
    """What evidence/uploads.py hands the service: a file already on disk, hashed."""

    def __init__(self, tmp_path: Path, name: str, content: bytes):
        self.name, self.size, self.sha256 = name, len(content), hashlib.sha256(content).hexdigest()
        self.temp_path = str(tmp_path / name)
        Path(self.temp_path).write_bytes(content)
        self.content = content


@pytest.fixture
def signing_key(settings, tmp_path):
    settings.PORTAL_SIGNING_KEY_PATH = str(tmp_path / "key.pem")
    settings.PORTAL_SIGNING_CERT_PATH = str(tmp_path / "cert.pem")
    call_command("create_signing_key", "--force")
    return settings.PORTAL_SIGNING_CERT_PATH


@pytest.fixture
def built(assigned_vera, tasking, owen, signing_key, tmp_path):
    """Lantern's tasking with one accepted exhibit and a signed MG11, built into a signed bundle."""
    user = assigned_vera.user
    exhibit = services.exhibit_submit(
        user=user,
        tasking=tasking,
        upload=Received(tmp_path, "shot.png", PNG),
        sniffed_type="image/png",
        description="shot.png from the chat",
        platform="Platform X",
        other_party="dave_77",
        url="",
        captured_at=timezone.now(),
        capture_method="Platform export",
        store=lambda upload, name: default_storage.save(name, ContentFile(upload.content)),
    )
    statement = statement_save_draft(tasking=tasking, author=user, body="I produce VD/1.", exhibit_ids=[exhibit.pk])
    statement_sign(statement=statement, by=user)
    services.exhibit_review(exhibit=exhibit, decision="accepted", reason="", by=owen)
    sign_schedules(tasking, owen)
    return bundles.bundle_build(bundles.bundle_request(tasking=tasking, by=owen))


@pytest.fixture
def pdf(built) -> bytes:
    with default_storage.open(built.pdf_name, "rb") as handle:
        return handle.read()


@pytest.fixture
def shared(built, carla, owen):
    return services.bundle_share(bundle=built, recipient=carla, until=timezone.now() + timedelta(days=30), by=owen)


@pytest.fixture
def upload_dir(settings, tmp_path):
    directory = tmp_path / "uploads"
    directory.mkdir()
    settings.PORTAL_UPLOAD_TEMP_DIR = str(directory)
    return directory


def _login(client, user):
    mfa_login(client, user, enrol_totp(user))


def _verify(client, content: bytes, name: str = "bundle.pdf"):
    return client.post(URL, {"bundle": SimpleUploadedFile(name, content)})


def _appended_update(pdf: bytes) -> bytes:
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    writer.root["/PortalNote"] = generic.TextStringObject("added after signing")
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _signed_by_the_scheme(manifest: dict) -> bytes:
    """A PDF carrying `manifest` and a valid signature by the scheme's key that the portal never issued."""
    import json

    from django.conf import settings
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.add_attachment("manifest.json", json.dumps({**manifest, "files": []}).encode())
    unsigned = io.BytesIO()
    writer.write(unsigned)
    signer = signers.SimpleSigner.load(settings.PORTAL_SIGNING_KEY_PATH, settings.PORTAL_SIGNING_CERT_PATH)
    meta = signers.PdfSignatureMetadata(field_name="Signature")
    return signers.sign_pdf(IncrementalPdfFileWriter(unsigned), meta, signer=signer).getvalue()


def _flipped(pdf: bytes) -> bytes:
    index = pdf.index(b"OFFICIAL") if b"OFFICIAL" in pdf else len(pdf) // 2
    return pdf[:index] + bytes([pdf[index] ^ 0x01]) + pdf[index + 1 :]


def test_a_court_recipient_sees_every_check_and_that_it_is_the_file_the_portal_issued(
    client, built, pdf, shared, carla, upload_dir
):
    _login(client, carla)
    response = _verify(client, pdf)
    body = response.content.decode()
    assert response.status_code == 200
    assert "This bundle passed every check" in body
    assert body.count('<strong class="govuk-tag govuk-tag--green">Passed</strong>') >= 3
    body = html.unescape(body)
    assert "Signed with the scheme's key, and not one byte of the PDF has changed since it was signed." in body
    assert f"The bundle's list of contents was read: version 1 of the bundle for {built.tasking.reference}" in body
    assert "Exhibit VD/1: unchanged (the same SHA-256 fingerprint and size as listed)." in body
    assert "VD_1.png" not in body and "manifest.json" not in body
    assert f"This is the file the portal issued on {timezone.localtime(built.finished_at):%-d %B %Y}." in body
    assert hashlib.sha256(pdf).hexdigest() in body
    assert "govuk-tag--red" not in body
    assert list(upload_dir.iterdir()) == []  # the upload was deleted


def test_one_flipped_byte_is_named_as_a_failure(client, pdf, shared, carla, signing_key, upload_dir):
    from evidence.verify import verify

    failure = verify(_flipped(pdf), signing_key).failure
    _login(client, carla)
    response = _verify(client, _flipped(pdf))
    body = response.content.decode()
    assert response.status_code == 200
    assert "This bundle passed every check" not in body
    assert '<strong class="govuk-tag govuk-tag--red">Failed</strong>' in body
    assert failure and f"{failure[:1].upper()}{failure[1:]}." in body
    assert "is the file the portal issued" not in body
    assert list(upload_dir.iterdir()) == []


def test_an_update_appended_after_signing_is_named(client, pdf, shared, carla):
    _login(client, carla)
    body = _verify(client, _appended_update(pdf)).content.decode()
    assert "Something has been added to this file since it was signed" in body
    assert "Something was added to the file after it was signed." in body
    assert '<strong class="govuk-tag govuk-tag--red">Failed</strong>' in body


def test_a_file_that_is_neither_a_pdf_nor_a_package_gets_the_verifiers_message(client, signing_key, carla):
    _login(client, carla)
    response = _verify(client, b"just some notes, not a bundle\n", name="notes.txt")
    body = response.content.decode()
    assert response.status_code == 200
    assert "This is not a bundle file" in body
    assert "The file is neither a PDF nor a bundle package (ZIP)." in body
    assert "Check that you selected the bundle PDF or package (ZIP) you received" in body


def test_no_file_shows_the_error_summary(client, signing_key, carla):
    _login(client, carla)
    response = client.post(URL, {})
    body = response.content.decode()
    assert response.status_code == 200
    assert '<h2 class="govuk-error-summary__title">There is a problem</h2>' in body
    assert '<a href="#bundle-file">Select the bundle file to verify</a>' in body
    assert "<title>Error: Verify a bundle" in body
    assert not AuditEvent.objects.filter(action="evidence.bundle_verify").exists()


def test_an_empty_file_is_named_and_nothing_is_verified(client, signing_key, carla):
    _login(client, carla)
    body = _verify(client, b"", name="empty.pdf").content.decode()
    assert "The selected file is empty." in body
    assert not AuditEvent.objects.filter(action="evidence.bundle_verify").exists()


def test_without_the_schemes_certificate_the_page_says_so(client, carla, settings, tmp_path):
    settings.PORTAL_SIGNING_CERT_PATH = str(tmp_path / "missing-cert.pem")
    _login(client, carla)
    response = _verify(client, b"%PDF-1.7\n")
    assert response.status_code == 503
    assert b"it has no copy of the scheme&#x27;s certificate" in response.content


def test_the_page_offers_the_upload_form(client, carla):
    _login(client, carla)
    body = client.get(URL).content.decode()
    assert 'enctype="multipart/form-data"' in body and "csrfmiddlewaretoken" in body
    assert '<label class="govuk-label govuk-label--m" for="bundle-file">' in body
    assert "Upload the bundle PDF or package (ZIP) you received" in body


def test_volunteers_and_welfare_staff_are_refused(client, vera, wendy, signing_key):
    client.force_login(vera)
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"bundle": SimpleUploadedFile("b.pdf", b"%PDF-1.7")}).status_code == 403
    client.logout()
    _login(client, wendy)
    assert client.get(URL).status_code == 403


def test_anonymous_people_are_sent_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    response = client.post(URL, {"bundle": SimpleUploadedFile("b.pdf", b"%PDF-1.7")})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_court_recipient_not_shared_the_bundle_sees_the_checks_but_nothing_about_it(client, built, pdf, carla):
    _login(client, carla)
    body = _verify(client, pdf).content.decode()
    assert "This bundle passed every check" in body
    assert "issued-statement" not in body and "the portal issued" not in body
    event = AuditEvent.objects.get(action="evidence.bundle_verify")
    assert event.detail["issued"] is None and event.object_id == ""


def test_an_officer_is_told_when_a_validly_signed_file_is_not_the_issued_copy(client, built, owen, otto):
    resigned = _signed_by_the_scheme(built.manifest)  # names the bundle, signed by the scheme, not issued
    _login(client, owen)
    body = _verify(client, resigned).content.decode()
    assert "This bundle passed every check" in body
    assert (
        f"This is not the file the portal issued for bundle {built.pk} version 1 ({built.tasking.reference})." in body
    )
    client.logout()
    _login(client, otto)  # supervises another scheme: may verify, but learns nothing of Lantern's bundle
    body = _verify(client, resigned).content.decode()
    assert "This bundle passed every check" in body and "the portal issued" not in body


def test_a_package_is_verified_and_its_pdf_compared_with_the_issued_one(client, built, pdf, shared, carla):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as package:
        package.writestr("OP-LANTERN-1-bundle-v1.pdf", pdf)
    _login(client, carla)
    body = _verify(client, archive.getvalue(), name="package.zip").content.decode()
    assert "This bundle passed every check" in body
    assert "The package holds nothing that the bundle's list of contents does not name." in html.unescape(body)
    assert "The bundle PDF in this package is the file the portal issued on" in body

    with zipfile.ZipFile(archive, "a") as package:
        package.writestr("natives/extra.bin", b"smuggled")
    body = _verify(client, archive.getvalue(), name="package.zip").content.decode()
    assert "This file holds something the bundle does not list" in body
    assert "Files in the package not listed in the bundle's list of contents: natives/extra.bin." in html.unescape(body)


def test_a_damaged_package_is_named_as_a_failure_not_a_crash(client, pdf, shared, carla, upload_dir):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as package:
        package.writestr("bundle.pdf", pdf)
    damaged = bytearray(archive.getvalue())
    damaged[len(damaged) // 2] ^= 0x01  # inside the compressed PDF: the member fails its CRC
    _login(client, carla)
    response = _verify(client, bytes(damaged), name="package.zip")
    body = response.content.decode()
    assert response.status_code == 200
    assert "This file is damaged or has been changed since it was signed" in body
    assert '<strong class="govuk-tag govuk-tag--red">Failed</strong>' in body
    assert list(upload_dir.iterdir()) == []


def test_every_verification_is_audited(client, built, pdf, shared, carla):
    appended = _appended_update(pdf)
    _login(client, carla)
    _verify(client, pdf)
    _verify(client, appended)
    good, bad = AuditEvent.objects.filter(action="evidence.bundle_verify").order_by("id")
    assert good.actor_email == carla.email and good.outcome == "success"
    assert good.detail == {
        "ok": True,
        "failure": "",
        "sha256": hashlib.sha256(pdf).hexdigest(),
        "size": len(pdf),
        "package": False,
        "bundle": built.pk,
        "issued": True,
    }
    assert good.object_type == "evidence.tasking" and good.scheme_id == built.tasking.scheme_id
    assert bad.outcome == "failure" and bad.detail["ok"] is False
    assert bad.detail["failure"] == "something was added to the file after it was signed"
    assert bad.detail["sha256"] == hashlib.sha256(appended).hexdigest()


def test_a_file_over_the_limit_is_refused_and_nothing_is_kept(client, signing_key, carla, settings, upload_dir):
    settings.PORTAL_BUNDLE_VERIFY_MAX_BYTES = 1024
    _login(client, carla)
    body = _verify(client, b"%PDF-1.7\n" + b"x" * 4096).content.decode()
    assert "The file is larger than 1.0\xa0KB, the most this page can check. Nothing was kept." in body
    assert list(upload_dir.iterdir()) == []


def test_checks_are_rate_limited(client, signing_key, carla, settings):
    settings.PORTAL_VERIFY_RATE_LIMIT = "2/m"
    _login(client, carla)
    for _ in range(2):
        assert _verify(client, b"not a bundle").status_code == 200
    response = _verify(client, b"not a bundle")
    assert response.status_code == 429 and b"checked a lot of files in a short time" in response.content
    assert client.get(URL).status_code == 200  # reading the page is not counted


def test_the_form_needs_its_csrf_token(client, signing_key, carla):
    _login(client, carla)
    client.handler.enforce_csrf_checks = True
    assert _verify(client, b"%PDF-1.7").status_code == 403


def test_the_inbox_links_to_the_page(client, carla):
    _login(client, carla)
    assert b'href="/bundles/verify/">verify a bundle</a>' in client.get("/bundles/").content
