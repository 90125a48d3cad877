"""A force's deconfliction officer does her whole job in a browser, on a laptop and on a phone: she adds an
identity a scheme's tasking already engages, sees the match at once, imports a file of blind indexes
(first a wrong file, which is refused with its reason), and records her force's side. Every page passes
axe-core at WCAG 2.2 AA and none scrolls sideways at 320 px."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.conftest import axe_violations
from tests.browser.test_admin_pages import _sign_in
from tests.conftest import PASSWORD, make_person

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _check(page, width: int, what: str) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{what} scrolls sideways"
    assert axe_violations(page) == [], what


def _date(page, legend: str, when) -> None:
    group = page.get_by_role("group", name=legend)
    group.get_by_label("Day").fill(str(when.day))
    group.get_by_label("Month").fill(str(when.month))
    group.get_by_label("Year").fill(str(when.year))


@pytest.mark.parametrize("width", [1280, 320])
def test_dora_registers_an_identity_sees_the_match_and_records_her_force_s_side(
    page, live_server, tasking, owen, tmp_path, width
):
    from evidence.deconfliction.identifiers import identify
    from evidence.deconfliction.services import identifiers_record
    from portal import roles
    from portal.models import Force

    force = Force.objects.create(name="Northshire Police")
    dora = make_person("dora@northshire.example", roles.DECONFLICTION, force=force, full_name="Dora Decon")
    identifiers_record(tasking=tasking, identifiers=[identify("dave_77", "Instagram")], source="officer", by=owen)
    page.set_viewport_size({"width": width, "height": 900})
    _sign_in(page, live_server.url, dora)
    assert page.get_by_role("heading", level=1).inner_text() == "Deconfliction register"
    _check(page, width, "the empty register")

    today = timezone.localdate()
    page.get_by_role("link", name="Add an identity").first.click()
    page.get_by_role("button", name="Add to the register").click()  # nothing filled in
    expect(page.locator("main")).to_contain_text("There is a problem")
    _check(page, width, "the add form with its errors")
    page.get_by_label("Identity").fill("https://www.instagram.com/Dave_77/")
    page.get_by_label("Your force's reference").fill("OP-NIGHTJAR")
    _date(page, "Review date", today + timedelta(days=30))
    _date(page, "Expiry date", today + timedelta(days=90))
    page.get_by_role("button", name="Add to the register").click()
    # Each answer is waited for: reading the page at once may read the one the form was on.
    expect(page.locator("main")).to_contain_text("Entry OP-NIGHTJAR added to your register. It matched 1 live tasking")
    assert "OP-LANTERN-1" not in page.content()
    _check(page, width, "the entry")

    page.get_by_role("link", name="Matches", exact=True).click()
    _check(page, width, "the matches")
    page.locator("main table a").first.click()
    expect(page.locator("main")).to_contain_text(owen.email)
    _check(page, width, "the match")
    page.get_by_label("What your force agreed").fill("Spoke to Owen by phone: his scheme withdraws.")
    page.get_by_role("button", name="Record your force's side").click()
    page.get_by_label("Password", exact=True).fill(PASSWORD)  # asked again before it goes on the record
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("main")).to_contain_text("is on the record")
    assert "his scheme withdraws" in page.inner_text("main")

    page.get_by_role("link", name="Import blind indexes").click()
    wrong = tmp_path / "names.csv"
    wrong.write_text("identity,platform\ndave_77,instagram\n")
    page.get_by_label("Blind-index file").set_input_files(str(wrong))
    page.get_by_label("Your force's reference").fill("OP-KESTREL")
    _date(page, "Review date", today + timedelta(days=30))
    _date(page, "Expiry date", today + timedelta(days=90))
    page.get_by_role("button", name="Import").click()
    expect(page.locator("main")).to_contain_text("A file of names, numbers or handles is never uploaded")
    _check(page, width, "the import form with its error")

    page.get_by_role("link", name="Register", exact=True).click()
    expect(page.locator("main")).to_contain_text("OP-NIGHTJAR")
    assert "OP-NIGHTJAR" in page.inner_text("main") and "OP-KESTREL" not in page.inner_text("main")
    _check(page, width, "the register with an entry")
