"""Every page a volunteer uses for a tasking, and the court user's header, in a real browser on a laptop
(1280 px) and a phone (320 px): no sideways scrolling (WCAG 1.4.10), no axe-core violations at WCAG 2.2
AA, and "Raise a safeguarding concern" a few Tab presses from the top of every tasking page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.conftest import axe_violations
from tests.conftest import PASSWORD, enrol_totp, totp_code
from tests.integration.bundle_helpers import CHAT, PNG, make_ready, sign_schedules, signing_key, submit_exhibit  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = [1280, 320]
# Long unbroken text, as people paste it: a profile address, and a hash quoted in a note.
LONG_URL = "https://platform.example/profiles/" + "dave_77_" * 12
LONG_HASH = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" * 2
TAB_LIMIT = 10  # skip link, service name, the header's links (or its Menu button), back link, then this


@pytest.fixture
def vera_at_work(assigned_vera, tasking, owen, tmp_path):
    """Vera with something on every page: exhibits in each review state, notes, and a draft, a signed
    and a discarded statement."""
    from evidence import services
    from evidence.statements import statement_discard, statement_save_draft, statement_sign

    user = assigned_vera.user
    awaiting = submit_exhibit(user, tasking, tmp_path, "chat.txt", CHAT, "text/plain")
    accepted = submit_exhibit(user, tasking, tmp_path, "shot.png", PNG, "image/png")
    rejected = submit_exhibit(user, tasking, tmp_path, "late.txt", CHAT + b"late", "text/plain")
    services.exhibit_review(exhibit=accepted, decision="accepted", reason="", by=owen)
    services.exhibit_review(
        exhibit=rejected, decision="rejected", reason=f"The chat at {LONG_URL} is cut off after 20:14.", by=owen
    )
    services.note_add(tasking=tasking, author=user, text=f"19:02 contact made from {LONG_URL}")
    services.note_add(tasking=tasking, author=user, text=f"19:10 his photo's SHA-256 is {LONG_HASH}")
    signed = statement_sign(
        statement=statement_save_draft(tasking=tasking, author=user, body="I produce VD/2.", exhibit_ids=[accepted.pk]),
        by=user,
    )
    gone = statement_discard(
        statement=statement_save_draft(tasking=tasking, author=user, body="A first try.", exhibit_ids=[]), by=user
    )
    draft = statement_save_draft(
        tasking=tasking,
        author=user,
        body=f"I am an accredited volunteer.\n\nAt 19:02 the account at {LONG_URL} wrote to the persona.",
        exhibit_ids=[awaiting.pk, accepted.pk],
    )
    return assigned_vera, tasking, {"draft": draft, "signed": signed, "discarded": gone, "awaiting": awaiting}


def _sign_in_volunteer(page, live_server, volunteer) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(volunteer.user.email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/")


WIDER_THAN_THE_WINDOW = """() => {
    const width = document.documentElement.clientWidth;
    return [...document.querySelectorAll("body *")]
        .filter((node) => node.getBoundingClientRect().right > width + 1)
        .slice(0, 5)
        .map((node) => `${node.tagName.toLowerCase()}.${node.className} (${node.textContent.trim().slice(0, 40)})`);
}"""


def _reads_well(page, width: int, what: str) -> None:
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{what} scrolls sideways at {width}px: {page.evaluate(WIDER_THAN_THE_WINDOW)}"
    assert axe_violations(page) == [], what


def _tabs_to_safeguarding(page) -> int:
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.evaluate("window.scrollTo(0, 0)")
    for presses in range(1, 30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Raise a safeguarding concern":
            return presses
    return 99


@pytest.mark.parametrize("width", WIDTHS)
def test_every_tasking_page_reads_well_and_keeps_the_safeguarding_button_near_the_top(
    page, live_server, vera_at_work, width
):
    volunteer, tasking, statements = vera_at_work
    page.set_viewport_size({"width": width, "height": 900})
    _sign_in_volunteer(page, live_server, volunteer)
    base = f"{live_server.url}/taskings/{tasking.pk}"

    # She finds the tasking from her dashboard.
    _reads_well(page, width, "the dashboard")
    page.get_by_role("link", name=f"{tasking.reference}: {tasking.title}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(tasking.title)

    draft, signed, gone = statements["draft"], statements["signed"], statements["discarded"]
    for path, heading in (
        ("/", tasking.title),
        ("/exhibits/", "Exhibits"),
        ("/notes/", "Contemporaneous notes"),
        ("/statements/", "Witness statements"),
        ("/statements/new/", "Your witness statement"),
        (f"/statements/{draft.pk}/", "Your witness statement"),
        (f"/statements/{draft.pk}/check/", "Check your statement before you sign it"),
        (f"/statements/{draft.pk}/discard/", "Are you sure you want to discard this draft?"),
        (f"/statements/{signed.pk}/", "Signed statement"),
        (f"/statements/{gone.pk}/", "Discarded draft"),
    ):
        response = page.goto(base + path)
        assert response.status == 200, path
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        _reads_well(page, width, path)
        assert _tabs_to_safeguarding(page) <= TAB_LIMIT, path

    # The rejected exhibit's reason is there to read, long address and all.
    page.goto(base + "/exhibits/")
    expect(page.locator("#exhibit-list")).to_contain_text("Your supervising officer's reason: The chat at")
    expect(page.locator("#exhibit-list")).to_contain_text("Awaiting review")

    # The safeguarding page itself.
    page.goto(base + "/")
    page.get_by_role("button", name="Raise a safeguarding concern").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Raise a safeguarding concern")
    _reads_well(page, width, "the safeguarding page")

    # The list of her taskings, from the header (at 320 px, behind the Menu button).
    menu = page.get_by_role("button", name="Menu")
    if menu.is_visible():
        menu.click()
    page.get_by_role("navigation", name="Account menu").get_by_role("link", name="Your taskings").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your taskings")
    _reads_well(page, width, "the list of taskings")


@pytest.mark.parametrize("width", WIDTHS)
def test_errors_on_the_tasking_pages_read_well_and_link_to_their_fields(page, live_server, vera_at_work, width):
    volunteer, tasking, _ = vera_at_work
    page.set_viewport_size({"width": width, "height": 900})
    _sign_in_volunteer(page, live_server, volunteer)
    base = f"{live_server.url}/taskings/{tasking.pk}"

    page.goto(base + "/notes/")
    page.get_by_role("button", name="Add note").click()
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_focused()
    _reads_well(page, width, "the notes page with an error")
    summary.get_by_role("link", name="Enter the note").click()
    expect(page.get_by_label("Note")).to_be_focused()

    page.goto(base + "/statements/new/")
    page.get_by_role("button", name="Save and check before signing").click()
    summary = page.locator(".govuk-error-summary")
    expect(summary.get_by_role("link", name="Enter your statement")).to_be_visible()
    _reads_well(page, width, "the statement page with an error")

    # An upload with no file chosen: the script leaves it to the server, which says so at the file input.
    page.goto(base + "/exhibits/")
    page.get_by_label("Description").fill("Chat with the suspect")
    page.get_by_label("Platform").fill("Platform X")
    page.get_by_role("button", name="Upload exhibit").click()
    summary = page.locator(".govuk-error-summary")
    expect(summary.get_by_role("link", name="Choose the file to upload")).to_be_visible()
    expect(page.get_by_label("Description")).to_have_value("Chat with the suspect")
    _reads_well(page, width, "the exhibits page with errors")


@pytest.mark.parametrize("width", WIDTHS)
def test_signing_from_the_check_page_and_discarding_a_draft_in_the_browser(page, live_server, vera_at_work, width):
    from evidence.models import Statement

    volunteer, tasking, statements = vera_at_work
    draft = statements["draft"]
    page.set_viewport_size({"width": width, "height": 900})
    _sign_in_volunteer(page, live_server, volunteer)
    page.goto(f"{live_server.url}/taskings/{tasking.pk}/statements/")
    page.get_by_role("link", name="Check and sign").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your statement before you sign it")
    expect(page.locator("main")).to_contain_text("This statement (consisting of 1 page(s) each signed by me)")
    page.get_by_role("button", name="Sign the statement").click()
    # Signing asks for her password again if she has not given it recently; here she just signed in.
    if "/accounts/reauthenticate/" in page.url:
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Signed statement")
    expect(page.get_by_role("alert", name="Success")).to_contain_text("Statement signed: 1 page.")
    _reads_well(page, width, "the signed statement with its banner")
    assert Statement.objects.get(pk=draft.pk).state == "signed"

    # A new draft, then discarded.
    page.goto(f"{live_server.url}/taskings/{tasking.pk}/statements/new/")
    page.get_by_label("Statement").fill("A draft I will not use.")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("alert", name="Success")).to_contain_text("Draft saved.")
    page.get_by_role("link", name="Discard this draft").click()
    page.get_by_role("button", name="Discard the draft").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Witness statements")
    expect(page.get_by_role("alert", name="Success")).to_contain_text("Draft discarded.")
    _reads_well(page, width, "the statements page after discarding")
    assert Statement.objects.get(body="A draft I will not use.").state == "discarded"


@pytest.fixture
def shared_with_carla(assigned_vera, tasking, owen, carla, signing_key, tmp_path):  # noqa: F811
    """A built bundle of Operation Lantern, shared with Carla for a month."""
    from evidence import bundles, services

    make_ready(tasking, assigned_vera.user, owen, tmp_path)
    sign_schedules(tasking, owen)
    bundle = bundles.bundle_build(bundles.bundle_request(tasking=tasking, by=owen))
    services.bundle_share(bundle=bundle, recipient=carla, until=timezone.now() + timedelta(days=30), by=owen)
    return bundle


@pytest.mark.parametrize("width", WIDTHS)
def test_a_court_users_header_leads_to_their_bundles_and_to_verification(
    page, live_server, shared_with_carla, carla, width
):
    secret = enrol_totp(carla)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(carla.email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.locator("input[name=code]").fill(totp_code(secret))
    page.locator("button[type=submit]").first.click()
    page.wait_for_url(f"{live_server.url}/bundles/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Bundles shared with you")
    expect(page.locator("main")).to_contain_text(shared_with_carla.tasking.reference)
    _reads_well(page, width, "the bundle inbox")

    header = page.get_by_role("navigation", name="Account menu")
    menu = page.get_by_role("button", name="Menu")
    if menu.is_visible():
        menu.click()
    expect(header.get_by_role("link", name="Bundles shared with you")).to_have_attribute("aria-current", "page")
    header.get_by_role("link", name="Verify a bundle").click()
    page.wait_for_url(f"{live_server.url}/bundles/verify/")
    if menu.is_visible():
        menu.click()
    expect(header.get_by_role("link", name="Verify a bundle")).to_have_attribute("aria-current", "page")
    _reads_well(page, width, "the verification page")
