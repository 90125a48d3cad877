"""The pages that refuse — a tasking closed to its volunteer, an address the portal cannot use — read well
on a laptop and a phone: axe-core at WCAG 2.2 AA, and no sideways scrolling at 320 px."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import axe_violations
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def stood_down_vera(assigned_vera, wendy):
    from volunteers.services import stand_down_place

    stand_down_place(person=assigned_vera.user, detail="After a distressing chat.", by=wendy)
    return assigned_vera


def _sign_in(page, live_server, volunteer) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(volunteer.user.email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/")


@pytest.mark.parametrize("width", [1280, 320])
def test_a_closed_tasking_and_an_unusable_address_read_well_at_every_width(
    page, live_server, stood_down_vera, tasking, owen, width
):
    page.set_viewport_size({"width": width, "height": 900})
    _sign_in(page, live_server, stood_down_vera)
    for path, status, heading in (
        (f"/taskings/{tasking.pk}/", 200, "This tasking is not open to you now"),
        (f"/taskings/{tasking.pk}/?tab=%00", 400, "This address cannot be used"),
    ):
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == status, path
        assert page.get_by_role("heading", level=1).inner_text() == heading
        assert page.evaluate("document.documentElement.scrollWidth") <= width, path
        assert axe_violations(page) == [], path
    page.goto(f"{live_server.url}/taskings/{tasking.pk}/")
    assert owen.email in page.inner_text("main")
    assert "Mia" not in re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", page.content())  # not by chance
