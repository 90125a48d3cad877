"""A welfare officer prints a person's record: the paper carries the record, marked and attributed, and none of
the screen's navigation, buttons or links to other pages."""

from __future__ import annotations

import pytest
from pypdf import PdfReader

from tests.browser.test_admin_pages import _sign_in
from tests.conftest import make_person, screen

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_printed_welfare_record_has_the_record_and_no_navigation_or_buttons(
    page, live_server, lantern, wendy, tmp_path
):
    from portal import roles

    person = make_person("petra@lantern.example", roles.VOLUNTEER, lantern, full_name="Petra Quinn")
    screen(person, wendy, restrictions="No image review for a month.", notes="Coping well.")
    _sign_in(page, live_server.url, wendy)
    page.goto(f"{live_server.url}/welfare/people/{person.pk}/")
    assert page.get_by_role("button", name="Record a screening").is_visible()

    page.emulate_media(media="print")
    for hidden in ("Record a screening", "Stand down from deployment"):
        assert not page.get_by_role("button", name=hidden).is_visible(), hidden
    assert not page.get_by_role("navigation", name="Account menu").is_visible()
    assert not page.get_by_role("link", name="Back to welfare").is_visible()

    pdf = tmp_path / "record.pdf"
    page.pdf(path=str(pdf), format="A4")
    text = " ".join(" ".join((p.extract_text() or "").split()) for p in PdfReader(pdf).pages)
    assert "Petra Quinn" in text
    assert "No image review for a month." in text
    assert "OFFICIAL-SENSITIVE: welfare record. Printed" in text
    assert wendy.full_name in text
    for screen_only in ("Sign out", "Record a screening", "Record exposure", "Back to welfare", "Beta"):
        assert screen_only not in text, f"{screen_only!r} printed on the welfare record"
