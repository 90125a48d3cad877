"""A court recipient verifies a bundle in a real browser: the checks, the failure, and axe at WCAG 2.2 AA."""

import hashlib
import io
from datetime import timedelta
from pathlib import Path

import pytest

from tests.browser.conftest import axe_violations
from tests.conftest import PASSWORD, enrol_totp, totp_code
from tests.integration.bundle_helpers import sign_schedules

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 8


class Received:
    """What evidence/uploads.py hands the service: a file already on disk, hashed."""

    def __init__(self, tmp_path: Path, name: str, content: bytes):
        self.name, self.size, self.sha256 = name, len(content), hashlib.sha256(content).hexdigest()
        self.temp_path = str(tmp_path / name)
        Path(self.temp_path).write_bytes(content)
        self.content = content


@pytest.fixture
def shared_pdf(assigned_vera, tasking, owen, carla, settings, tmp_path) -> bytes:
    """Lantern's bundle, built and signed for real and shared with Carla: the PDF she received."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.core.management import call_command
    from django.utils import timezone

    from evidence import bundles, services
    from evidence.statements import statement_save_draft, statement_sign

    settings.PORTAL_SIGNING_KEY_PATH = str(tmp_path / "k.pem")
    settings.PORTAL_SIGNING_CERT_PATH = str(tmp_path / "c.pem")
    call_command("create_signing_key", "--force")
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
    bundle = bundles.bundle_build(bundles.bundle_request(tasking=tasking, by=owen))
    services.bundle_share(bundle=bundle, recipient=carla, until=timezone.now() + timedelta(days=7), by=owen)
    with default_storage.open(bundle.pdf_name, "rb") as handle:
        return handle.read()


def _sign_in(page, live_server, user):
    secret = enrol_totp(user)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.locator("input[name=code]").fill(totp_code(secret))
    page.locator("button[type=submit]").first.click()
    page.wait_for_load_state()


def _upload(page, name: str, content: bytes, mime: str = "application/pdf") -> None:
    page.get_by_label("Upload the bundle PDF or package (ZIP) you received").set_input_files(
        files=[{"name": name, "mimeType": mime, "buffer": content}]
    )
    page.get_by_role("button", name="Verify").click()
    page.wait_for_load_state()


def _appended_update(pdf: bytes) -> bytes:
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    writer.root["/PortalNote"] = generic.TextStringObject("added after signing")
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_a_court_recipient_verifies_a_genuine_bundle_and_the_page_passes_axe(page, live_server, carla, shared_pdf):
    _sign_in(page, live_server, carla)
    page.goto(f"{live_server.url}/bundles/")
    page.get_by_role("navigation", name="Account menu").get_by_role("link", name="Verify a bundle").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Verify a bundle", level=1).is_visible()
    assert axe_violations(page) == []

    _upload(page, "OP-LANTERN-1-bundle-v1.pdf", shared_pdf)
    result = page.locator("#verification-result")
    assert result.get_by_role("heading", name="This bundle passed every check").is_visible()
    assert result.locator(".govuk-tag--green", has_text="Passed").count() >= 3
    assert "not one byte of the PDF has changed since it was signed" in result.inner_text()
    assert "Exhibit VD/1: unchanged" in result.inner_text()
    assert "This is the file the portal issued on" in result.inner_text()
    assert axe_violations(page) == []


def test_the_failure_state_names_what_failed_and_passes_axe(page, live_server, carla, shared_pdf):
    _sign_in(page, live_server, carla)
    page.goto(f"{live_server.url}/bundles/verify/")
    _upload(page, "bundle.pdf", _appended_update(shared_pdf))
    result = page.locator("#verification-result")
    assert result.get_by_role("heading", name="Something has been added to this file since it was signed").is_visible()
    assert "Something was added to the file after it was signed." in result.inner_text()
    assert result.locator(".govuk-tag--red", has_text="Failed").is_visible()
    assert axe_violations(page) == []

    page.get_by_role("button", name="Verify").click()  # no file chosen this time
    page.wait_for_load_state()
    summary = page.locator(".govuk-error-summary")
    assert summary.get_by_role("link", name="Select the bundle file to verify").is_visible()
    assert axe_violations(page) == []
