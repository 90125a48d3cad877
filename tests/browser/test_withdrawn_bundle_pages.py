"""A withdrawn bundle's pages, in a real browser: axe-core at WCAG 2.2 AA, no sideways scrolling at 1280 and 320 px,
and the words a stranger needs (the files were withdrawn, which exhibit was disposed of and when, and that copies
already handed over still verify).

The world of tests/integration/test_disposal_bundles.py: version 2 of OP-LANTERN-1's bundle held VD/3 and was
shared with Carla (court) and Pat (CPS); Owen proposes disposing of VD/3 and Olive approves, so version 2's files
are withdrawn. Carla opens her inbox and tries the download's address; Owen opens the bundle's pages and tries
both parts' addresses. Every page is screenshot at each width (kept where PORTAL_JOURNEY_SCREENSHOTS says).
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from evidence.models import Exhibit
from portal.display import when
from tests.browser.conftest import axe_violations
from tests.browser.journey_helpers import WIDER_THAN_THE_WINDOW, screenshot_folder, sign_in, slug
from tests.conftest import PASSWORD, enrol_totp
from tests.integration import bundle_helpers, test_disposal, test_disposal_bundles

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# test_disposal_bundles.py's world, made visible to pytest in this module: `exhibit` is VD/3, `holding` the
# version 2 built with it, `shared` that version shared with Carla and Pat.
signing_key, ready_tasking, built = bundle_helpers.signing_key, bundle_helpers.ready_tasking, bundle_helpers.built
olive, past_its_date = test_disposal.olive, test_disposal.past_its_date
exhibit, holding, pat, shared = (
    test_disposal_bundles.exhibit,
    test_disposal_bundles.holding,
    test_disposal_bundles.pat,
    test_disposal_bundles.shared,
)

WIDTHS = (1280, 320)


def window(browser, width: int):
    """A browser window of a person's own (their own cookies)."""
    context = browser.new_context(
        bypass_csp=True,  # only for injecting axe-core
        locale="en-GB",
        timezone_id="Europe/London",
        viewport={"width": width, "height": 900},
    )
    context.set_default_timeout(20_000)
    return context.new_page()


def words(page) -> str:
    return re.sub(r"\s+", " ", page.locator("body").inner_text())


def problems_with(page, *, disposed_on: str, folder, name: str) -> list[str]:
    """axe-core, sideways scrolling and the words a stranger needs, on the page as it is now; and a screenshot."""
    page.wait_for_load_state("load")
    width = page.viewport_size["width"]
    where = f"{name} at {width} px ({page.url})"
    found = [f"{where}: axe {v['id']} [{v['impact']}] {v['help']} at {v['nodes']}" for v in axe_violations(page)]
    scroll_width, client_width = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    if scroll_width > client_width:
        found.append(
            f"{where}: scrolls sideways, {scroll_width} px in {client_width} px: {page.evaluate(WIDER_THAN_THE_WINDOW)}"
        )
    text = words(page)
    said = {
        "that the files were withdrawn": r"files (were |have been )?withdrawn|withdrew the files",
        "which exhibit was disposed of, and when": rf"exhibit VD/3\b.*? disposed of on {re.escape(disposed_on)}",
        "that copies already handed over still verify": r"verif(y|ies) as before",
    }
    found += [f"{where}: does not say {what}" for what, pattern in said.items() if not re.search(pattern, text, re.I)]
    page.screenshot(path=str(folder / f"{slug(name)}-{width}.png"), full_page=True)
    return found


def test_the_withdrawn_bundles_pages_say_why_pass_axe_and_never_scroll_sideways(
    browser, live_server, shared, past_its_date, carla, owen, olive, tmp_path, request
):
    test_disposal_bundles.dispose(past_its_date, owen, olive)
    disposed_on = when(timezone.localdate(Exhibit.objects.get(pk=past_its_date.pk).disposed_at))
    served = reverse("bundle_download", args=[shared.pk])
    sensitive = reverse("bundle_sensitive_download", args=[shared.pk])
    offered = f'a[href="{served}"], a[href="{sensitive}"]'
    base = live_server.url
    problems: list[str] = []

    def gone(page, url: str) -> None:
        """The file's address answers 410 with the page that says why; nothing is downloaded."""
        response = page.goto(f"{base}{url}")
        assert response.status == 410, (url, response.status)
        assert page.get_by_role("heading", level=1).inner_text() == "This bundle's files have been withdrawn"
        assert shared.pdf_sha256 in words(page)  # the record that is kept, in full

    # Carla, the court recipient, and Owen, the supervising officer, each sign in once in a window of their own.
    court, officer = window(browser, WIDTHS[0]), window(browser, WIDTHS[0])
    try:
        sign_in(court, base, carla.email, PASSWORD, enrol_totp(carla))
        sign_in(officer, base, owen.email, PASSWORD, enrol_totp(owen))
        for width in WIDTHS:
            folder = screenshot_folder(tmp_path / str(width), width, request.config)
            court.set_viewport_size({"width": width, "height": 900})
            officer.set_viewport_size({"width": width, "height": 900})

            def look(page, name: str, folder=folder) -> None:
                problems.extend(problems_with(page, disposed_on=disposed_on, folder=folder, name=name))

            # Her inbox's card says why there is nothing to download, and offers nothing; the address says 410.
            court.goto(f"{base}{reverse('bundle_inbox')}")
            card = court.locator(".govuk-summary-card", has_text="OP-LANTERN-1, version 2")
            assert card.count() == 1 and "Files withdrawn" in card.inner_text()
            assert court.locator(offered).count() == 0
            look(court, "court inbox")
            gone(court, served)
            look(court, "court download")

            # The bundle's record in the admin and its own page offer nothing; both parts' addresses say 410.
            for name, url in (
                ("officer bundle record", reverse("admin:evidence_handoverbundle_change", args=[shared.pk])),
                ("officer bundle page", reverse("bundle_status", args=[shared.pk])),
            ):
                officer.goto(f"{base}{url}")
                assert officer.locator(offered).count() == 0, name
                look(officer, name)
            gone(officer, served)
            look(officer, "officer download")
            gone(officer, sensitive)
            look(officer, "officer sensitive download")
    finally:
        court.context.close()
        officer.context.close()

    assert not problems, "\n".join(problems)
