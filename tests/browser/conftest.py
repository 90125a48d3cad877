"""Headless Chromium (Debian's, never a downloaded one) driven by Playwright, plus axe-core checks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import require

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="package")
def browser():
    """One Chromium for the browser tests, closed when they are done. Playwright's sync API keeps an
    event loop running in this thread while it is open: Django then takes the thread for an async
    context (so its async-safety guard is lifted for these tests only), and its connections are kept per
    context, so a connection opened then would outlive the suite's own clean-up."""
    path = settings.PORTAL_BROWSER_PATH
    require(Path(path).exists(), f"no browser at PORTAL_BROWSER_PATH={path} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser):
    # The portal's CSP forbids injected scripts; only the axe-core check needs them, so bypass it there.
    context = browser.new_context(bypass_csp=True, locale="en-GB", timezone_id="Europe/London")
    page = context.new_page()
    yield page
    context.close()


def axe_violations(page) -> list[dict]:
    """Run axe-core for WCAG 2.0/2.1/2.2 A and AA rules on the current page."""
    require(AXE.exists(), "axe-core is not installed: run npm ci")
    # A click that follows a link returns once the next page starts loading: check that page whole, never
    # one half-parsed (axe could not even be added to a document with no head yet).
    page.wait_for_load_state("load")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async () => await axe.run(document, {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}})"""
    )
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
    ]
