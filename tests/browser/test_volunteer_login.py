"""A volunteer signs in with the demo login in a real browser and sees their dashboard."""

import pytest

from tests.browser.conftest import axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo_people():
    from portal.demo import demo_seed

    people = {}
    for login in demo_seed():
        people.setdefault(login.role, login)  # the first of a role: Owen of the two officers
    return people


def test_the_demo_volunteer_signs_in_and_sees_the_dashboard(page, live_server, demo_people):
    vera = demo_people["Volunteer"]
    page.goto(f"{live_server.url}/")
    assert page.url.startswith(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(vera.email)
    page.get_by_label("Password", exact=True).fill(vera.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_role("heading", level=1).inner_text() == "Your dashboard"
    assert "Vera Volunteer" in page.locator("main").inner_text()
    assert "Demo Constabulary Volunteer Partnership" in page.locator("main").inner_text()
    assert axe_violations(page) == []


def test_a_wrong_password_shows_the_error_summary_and_keeps_the_email(page, live_server, demo_people):
    vera = demo_people["Volunteer"]
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(vera.email)
    page.get_by_label("Password", exact=True).fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    summary = page.locator(".govuk-error-summary")
    summary.wait_for()
    assert "There is a problem" in summary.inner_text()
    assert page.get_by_label("Email").input_value() == vera.email
    assert axe_violations(page) == []


@pytest.mark.parametrize("path", ["/accounts/login/", "/accessibility/", "/privacy/", "/accounts/password/reset/"])
def test_public_pages_pass_axe_at_wcag_22_aa(page, live_server, path, db):
    page.goto(f"{live_server.url}{path}")
    assert page.locator("h1").count() == 1
    assert axe_violations(page) == []


def test_a_privileged_user_is_sent_to_mfa_enrolment_and_the_page_passes_axe(page, live_server, demo_people):
    from allauth.mfa.models import Authenticator

    officer = demo_people["Supervising officer"]
    Authenticator.objects.filter(user__email=officer.email).delete()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(officer.email)
    page.get_by_label("Password", exact=True).fill(officer.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/accounts/2fa/")
    assert "requires multi-factor authentication" in page.locator("body").inner_text()
    assert axe_violations(page) == []
