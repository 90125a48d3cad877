"""A new officer joins by invitation in a real browser, on a laptop and on a phone: Ada adds him in the admin,
he opens the e-mailed link, chooses a password, sets up an authenticator app and lands in the officer admin.
Every page passes axe-core at WCAG 2.2 AA and none scrolls sideways."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from tests.browser.conftest import axe_violations
from tests.conftest import PASSWORD, enrol_totp, totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "a-long-and-unusual-passphrase"


def _looks_right(page, width: int) -> None:
    """What every page of the journey must be: accessible, and no wider than the screen."""
    where = page.url
    assert axe_violations(page) == [], where
    assert page.evaluate("document.documentElement.scrollWidth") <= width, where


def _new_page(browser, width: int):
    context = browser.new_context(
        bypass_csp=True,  # only for injecting axe-core; the portal's own pages need no exception
        locale="en-GB",
        timezone_id="Europe/London",
        viewport={"width": width, "height": 900},
    )
    return context.new_page()


@pytest.mark.parametrize("width", [1280, 320])
def test_an_administrator_invites_an_officer_who_sets_up_mfa_and_lands_in_the_admin(browser, live_server, ada, width):
    # Ada, Lantern's scheme administrator, signs in with her password and authenticator.
    secret = enrol_totp(ada)
    admin = _new_page(browser, width)
    admin.goto(f"{live_server.url}/accounts/login/")
    admin.get_by_label("Email").fill(ada.email)
    admin.get_by_label("Password", exact=True).fill(PASSWORD)
    admin.get_by_role("button", name="Sign in").click()
    admin.locator("input[name=code]").fill(totp_code(secret))
    admin.locator("button[type=submit]").first.click()
    admin.wait_for_url(re.compile(r".*/admin/$"))

    # She adds Oscar as a supervising officer of her scheme.
    admin.goto(f"{live_server.url}/admin/portal/user/add/")
    _looks_right(admin, width)
    admin.get_by_label("E-mail address").fill("oscar@lantern.example")
    admin.get_by_label("Full name").fill("Oscar Officer")
    admin.get_by_label("Supervising officer").check()
    mail.outbox.clear()
    admin.locator("input[name=_save]").click()
    admin.wait_for_url(re.compile(r".*/admin/portal/user/$"))
    assert "Added Oscar Officer. We have emailed oscar@lantern.example a link" in admin.locator("body").inner_text()
    _looks_right(admin, width)

    # Oscar opens the link from his e-mail in his own browser.
    (message,) = [m for m in mail.outbox if m.to == ["oscar@lantern.example"]]
    link = re.search(r"http://\S+/staff-invitations/\S+/", message.body).group(0)
    oscar = _new_page(browser, width)
    oscar.goto(link)
    assert oscar.locator("h1").inner_text() == "Set up your account"
    _looks_right(oscar, width)

    # A mismatch is explained in the error summary, linked to the field.
    oscar.get_by_label("Create a password").fill(NEW_PASSWORD)
    oscar.get_by_label("Confirm your password").fill(NEW_PASSWORD + "?")
    oscar.get_by_role("button", name="Save password and continue").click()
    summary = oscar.locator(".govuk-error-summary")
    summary.wait_for()
    assert "The passwords do not match" in summary.inner_text()
    assert summary.get_by_role("link").get_attribute("href") == "#id_password2"
    _looks_right(oscar, width)

    oscar.get_by_label("Create a password").fill(NEW_PASSWORD)
    oscar.get_by_label("Confirm your password").fill(NEW_PASSWORD)
    oscar.get_by_role("button", name="Save password and continue").click()
    oscar.wait_for_url(f"{live_server.url}/accounts/2fa/")
    banners = oscar.locator(".govuk-notification-banner")
    assert banners.count() == 1
    assert "Your password is set" in banners.inner_text()
    _looks_right(oscar, width)

    # Straight into setting up the authenticator app: no "Confirm it's you", no "verify your email".
    oscar.get_by_role("button", name="Set up an authenticator app").click()
    oscar.wait_for_url(f"{live_server.url}/accounts/2fa/totp/activate/")
    assert oscar.locator("h1").inner_text() == "Set up an authenticator app"
    _looks_right(oscar, width)
    secret = oscar.locator("#authenticator_secret").text_content().strip()
    oscar.locator("input[name=code]").fill(totp_code(secret))
    oscar.get_by_role("button", name="Continue").click()
    oscar.wait_for_url(f"{live_server.url}/accounts/2fa/recovery-codes/")
    assert oscar.locator(".govuk-notification-banner").count() == 1  # not "activated" and "codes generated"
    _looks_right(oscar, width)

    # The code he just gave counts: Continue takes him to his work, the officer admin, with no further prompt.
    oscar.get_by_role("button", name="Continue").click()
    oscar.wait_for_url(f"{live_server.url}/admin/")
    assert "Oscar Officer" in oscar.locator("#user-tools").text_content()
    _looks_right(oscar, width)

    # The link was single-use.
    used = _new_page(browser, width)
    used.goto(link)
    assert used.locator("h1").inner_text() == "This invitation has already been used"
    _looks_right(used, width)
