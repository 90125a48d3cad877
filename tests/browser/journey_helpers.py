"""What an end-to-end browser journey needs besides the portal itself: a browser window per person, a look at
every page (axe-core at WCAG 2.2 AA, no sideways scrolling, a numbered screenshot), steps that fail naming the
pages at fault, the links people read in their e-mail, and the ways people sign in and set up MFA."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from django.core import mail
from playwright.sync_api import Page, expect

from tests.browser.conftest import axe_violations
from tests.conftest import totp_code

SCREENSHOTS_ENV = "PORTAL_JOURNEY_SCREENSHOTS"

# The elements that reach past the right edge of the window, to name in a sideways-scrolling failure.
WIDER_THAN_THE_WINDOW = """() => {
    const width = document.documentElement.clientWidth;
    return [...document.querySelectorAll("body *")]
        .filter((node) => node.getBoundingClientRect().right > width + 1)
        .slice(-5)
        .map((node) => `${node.tagName.toLowerCase()}.${node.className} (${node.textContent.trim().slice(0, 40)})`);
}"""


def screenshot_folder(tmp_path: Path, width: int, config=None) -> Path:
    """PORTAL_JOURNEY_SCREENSHOTS if set (kept after the run), else a folder under the test's tmp_path. The run
    names it on the terminal whether or not output is captured (pytest's terminal reporter, else stderr)."""
    chosen = os.environ.get(SCREENSHOTS_ENV)
    folder = Path(chosen) if chosen else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    message = f"Journey screenshots at {width} px: {folder}"
    reporter = config.pluginmanager.get_plugin("terminalreporter") if config is not None else None
    if reporter is not None:
        reporter.write_line("")
        reporter.write_line(message)
    else:
        sys.stderr.write(f"\n{message}\n")
    return folder


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@dataclass
class Journey:
    """One run of the journey at one window width: every person's window, and what each page looked like."""

    browser: object
    base_url: str
    width: int
    folder: Path
    shots: int = 0
    step_name: str = ""
    problems: list[str] = field(default_factory=list)
    pages_seen: list[str] = field(default_factory=list)

    def window(self) -> Page:
        """A browser window of a person's own (their own cookies), at the journey's width."""
        context = self.browser.new_context(
            bypass_csp=True,  # only for injecting axe-core; the portal's own pages need no exception
            locale="en-GB",
            timezone_id="Europe/London",
            viewport={"width": self.width, "height": 900},
            accept_downloads=True,
        )
        context.set_default_timeout(20_000)
        return context.new_page()

    def look(self, page: Page, what: str) -> None:
        """After a page loads: axe-core, sideways scrolling, and a screenshot named NN-step-what-width.png."""
        page.wait_for_load_state()
        where = page.url
        self.pages_seen.append(where)
        for violation in axe_violations(page):
            self.problems.append(
                f"{where} ({what}): axe {violation['id']} [{violation['impact']}] {violation['help']} "
                f"at {violation['nodes']}"
            )
        scroll_width, window_width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        if scroll_width > window_width:
            wide = page.evaluate(WIDER_THAN_THE_WINDOW)
            self.problems.append(
                f"{where} ({what}): scrolls sideways, {scroll_width} px of content in a {window_width} px window: "
                f"{wide}"
            )
        self.shots += 1
        name = f"{self.shots:02d}-{slug(self.step_name)}-{slug(what)}-{self.width}.png"
        page.screenshot(path=str(self.folder / name), full_page=True)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """A step of the journey; it fails at its end if any page it looked at failed axe or scrolled sideways."""
        self.step_name, self.problems = name, []
        yield
        assert not self.problems, f"Step “{name}” at {self.width} px:\n" + "\n".join(self.problems)


# --- e-mail ---------------------------------------------------------------------------------------------------


def mails_to(address: str) -> list:
    return [message for message in mail.outbox if address in message.to]


def link_in_latest_mail(address: str, path_pattern: str) -> str:
    """The link in the latest e-mail to `address` whose path matches `path_pattern`."""
    for message in reversed(mails_to(address)):
        found = re.search(rf"https?://[^\s/]+{path_pattern}", message.body)
        if found:
            return found.group(0)
    raise AssertionError(f"No e-mail to {address} has a link like {path_pattern}: {[m.subject for m in mail.outbox]}")


def choose_option(select, text: str) -> None:
    """Choose the option of a <select> whose words include `text` (an option reads "Vera Daniels" or
    "CHIS-2027-0142 (CHIS)": people pick by the words they know)."""
    option = select.locator("option", has_text=text).first
    select.select_option(value=option.get_attribute("value"))


def open_admin_list(page: Page, base_url: str, model: str) -> None:
    """From the admin's home page, follow a model's link under "All records" (as `model`, e.g. "volunteer":
    the app's own heading link can carry the same words)."""
    page.goto(f"{base_url}/admin/")
    page.locator(f"tr.model-{model} th a").click()
    page.wait_for_load_state()


# --- signing in -----------------------------------------------------------------------------------------------


def open_header_link(page: Page, name: str) -> None:
    """Follow a link of the header's account menu (on a phone, behind the Menu button)."""
    menu = page.get_by_role("button", name="Menu")
    if menu.is_visible() and menu.get_attribute("aria-expanded") != "true":
        menu.click()
    page.get_by_role("navigation", name="Account menu").get_by_role("link", name=re.compile(f"^{name}")).click()
    page.wait_for_load_state()


def sign_in(page: Page, base_url: str, email: str, password: str, secret: str | None = None) -> None:
    """Email and password, then (for staff) the code from their authenticator app."""
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    if secret is not None:
        page.locator("input[name=code]").fill(totp_code(secret))
        page.locator("button[type=submit]").first.click()
    page.wait_for_load_state()


def accept_staff_invitation(journey: Journey, page: Page, link: str, password: str) -> str:
    """A new member of staff opens their e-mailed link, chooses a password and sets up an authenticator app
    from the secret the page shows; returns that secret (as their phone would keep it)."""
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up your account")
    journey.look(page, "set up your account")
    page.get_by_label("Create a password").fill(password)
    page.get_by_label("Confirm your password").fill(password)
    page.get_by_role("button", name="Save password and continue").click()
    page.wait_for_url(re.compile(r".*/accounts/2fa/$"))
    journey.look(page, "multi-factor authentication")
    page.get_by_role("button", name="Set up an authenticator app").click()
    page.wait_for_url(re.compile(r".*/accounts/2fa/totp/activate/$"))
    journey.look(page, "set up an authenticator app")
    secret = page.locator("#authenticator_secret").text_content().strip()
    page.locator("input[name=code]").fill(totp_code(secret))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r".*/accounts/2fa/recovery-codes/$"))
    journey.look(page, "recovery codes")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_load_state()
    return secret


def answer_correctly(page: Page, version) -> None:
    """Tick every right answer of a module version's assessment, as a volunteer who knows the material (the
    questions and choices come in an order of their own each attempt, so each is found by what it is)."""
    for question in version.questions.prefetch_related("choices"):
        for choice in question.choices.all():
            if choice.is_correct:
                page.locator(f'input[name="q_{question.pk}"][value="{choice.pk}"]').check()
