"""Vera finds "Your personal data" from her dashboard, reads what the download holds and what it does not, on a
laptop (1280 px) and a phone (320 px) — no sideways scrolling (WCAG 1.4.10), no axe-core violations at WCAG
2.2 AA — and downloads her file as a PDF and as JSON; each download is audited."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.browser.test_volunteer_pages import _reads_well, _sign_in_volunteer
from tests.conftest import screen

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CLINICAL = "Clinical-note-BR-553: nightmares after the operation."


@pytest.mark.parametrize("width", [1280, 320])
def test_she_reads_the_page_and_downloads_her_personal_data(page, live_server, deployable_vera, wendy, width, tmp_path):
    from portal.models import AuditEvent

    screen(deployable_vera.user, wendy, outcome="fit_restricted", restrictions="No audio.", notes=CLINICAL)
    page.set_viewport_size({"width": width, "height": 900})
    _sign_in_volunteer(page, live_server, deployable_vera)

    page.get_by_role("link", name="download the personal data the scheme holds about you").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your personal data")
    expect(page.get_by_role("heading", name="What it does not contain, and why")).to_be_visible()
    _reads_well(page, width, "the personal data page")

    with page.expect_download() as downloading:
        page.get_by_role("button", name="Download your personal data (PDF)").click()
    pdf = tmp_path / downloading.value.suggested_filename
    downloading.value.save_as(pdf)
    assert pdf.name.startswith("personal-data-") and pdf.suffix == ".pdf"
    assert pdf.read_bytes().startswith(b"%PDF-")

    with page.expect_download() as downloading:
        page.get_by_role("button", name="Download as JSON").click()
    saved = tmp_path / downloading.value.suggested_filename
    downloading.value.save_as(saved)
    data = json.loads(saved.read_text())
    assert data["profile"]["email"] == deployable_vera.user.email
    assert data["screening"][-1]["outcome"] == "Fit with restrictions"
    assert CLINICAL not in saved.read_text()

    exported = AuditEvent.objects.filter(action="volunteer.personal_data_exported", actor_id=deployable_vera.user.pk)
    assert sorted(exported.values_list("detail__format", flat=True)) == ["json", "pdf"]

    # The footer leads back to it from every page she opens.
    page.goto(f"{live_server.url}/")
    expect(page.get_by_role("contentinfo").get_by_role("link", name="Your personal data")).to_be_visible()
