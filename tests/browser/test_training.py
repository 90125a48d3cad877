"""A volunteer takes a module's assessment in a real browser, passes, and sees their certificate link."""

import pytest

from tests.browser.conftest import axe_violations
from tests.conftest import PASSWORD, module_data

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_volunteer_takes_and_passes_a_module(page, live_server, vera):
    from training.services import module_publish

    version = module_publish(data=module_data("personal-safety"))
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(vera.email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/training/")
    assert "Not started" in page.locator(".govuk-task-list").inner_text()
    assert axe_violations(page) == []
    page.get_by_role("link", name="Personal safety").click()
    assert axe_violations(page) == []
    page.get_by_role("button", name="Start the assessment").click()
    page.wait_for_url("**/training/attempts/*/")
    assert axe_violations(page) == []

    # Submitting with nothing chosen is refused, question by question.
    page.get_by_role("button", name="Submit answers").click()
    assert "Answer question 1" in page.locator(".govuk-error-summary").inner_text()

    for question in version.questions.prefetch_related("choices"):
        group = page.get_by_role("group", name=question.text)
        for choice in question.choices.all():
            if choice.is_correct:
                group.get_by_label(choice.text, exact=True).check()
    page.get_by_role("button", name="Submit answers").click()
    page.wait_for_url("**/result/")
    assert "You passed" in page.locator("h1").inner_text()
    assert page.get_by_role("link", name="Download your certificate (PDF)").is_visible()
    assert axe_violations(page) == []
    page.goto(f"{live_server.url}/training/")
    assert "Passed, valid until" in page.locator(".govuk-task-list").inner_text()
