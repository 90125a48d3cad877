"""A new volunteer accepts their invitation in a real browser and sees what is left to do."""

import pytest

from tests.browser.conftest import axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_invitee_applies_and_sees_their_task_list(page, live_server, lantern, owen, conduct):
    from volunteers.services import invitation_create

    _, token = invitation_create(scheme=lantern, email="ivy@example.org", full_name="Ivy Invitee", by=owen)
    page.goto(f"{live_server.url}/invitations/{token}/")
    assert "Apply to join Lantern Partnership" in page.locator("h1").inner_text()
    assert axe_violations(page) == []

    # First try: a mismatched password is reported, and what was typed is kept.
    page.get_by_label("Full name").fill("Ivy Invitee")
    date_of_birth = page.get_by_role("group", name="Date of birth")
    date_of_birth.get_by_label("Day").fill("5")
    date_of_birth.get_by_label("Month").fill("4")
    date_of_birth.get_by_label("Year").fill("1992")
    page.get_by_label("Phone number").fill("07700 900777")
    page.get_by_label("Current address").fill("3 Mill Lane, Anytown")
    lived_there_since = page.get_by_role("group", name="Lived there since")
    lived_there_since.get_by_label("Day").fill("1")
    lived_there_since.get_by_label("Month").fill("1")
    lived_there_since.get_by_label("Year").fill("2020")
    page.get_by_label("Create a password").fill("a-long-and-unusual-passphrase")
    page.get_by_label("Confirm your password").fill("something-else-entirely")
    page.get_by_label("I have read the code of conduct").check()
    page.get_by_role("button", name="Submit application").click()
    page.locator(".govuk-error-summary").wait_for()
    assert "The passwords do not match" in page.locator(".govuk-error-summary").inner_text()
    assert page.get_by_label("Current address").input_value() == "3 Mill Lane, Anytown"
    assert [date_of_birth.get_by_label(box).input_value() for box in ("Day", "Month", "Year")] == ["5", "4", "1992"]
    assert axe_violations(page) == []

    page.get_by_label("Create a password").fill("a-long-and-unusual-passphrase")
    page.get_by_label("Confirm your password").fill("a-long-and-unusual-passphrase")
    page.get_by_label("I have read the code of conduct").check()
    page.get_by_role("button", name="Submit application").click()
    page.wait_for_url(f"{live_server.url}/")
    assert page.locator("h1").inner_text() == "Your dashboard"
    tasks = page.locator(".govuk-task-list").inner_text()
    assert "Vetting" in tasks and "Welfare screening" in tasks and "Accreditation" in tasks
    assert "You cannot be deployed yet" in page.locator("main").inner_text()
    assert axe_violations(page) == []
