"""The officer's bundle progress page and the court inbox, in a real browser, pass axe at WCAG 2.2 AA."""

import pytest

from tests.browser.conftest import axe_violations
from tests.conftest import PASSWORD, enrol_totp, totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in(page, live_server, user):
    secret = enrol_totp(user)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.locator("input[name=code]").fill(totp_code(secret))
    page.locator("button[type=submit]").first.click()
    page.wait_for_load_state()


def test_the_progress_page_updates_to_ready_and_passes_axe(page, live_server, lantern, owen, carla, settings, tmp_path):
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    from evidence import bundles, services
    from evidence.models import Authorisation, Tasking

    settings.PORTAL_SIGNING_KEY_PATH = str(tmp_path / "k.pem")
    settings.PORTAL_SIGNING_CERT_PATH = str(tmp_path / "c.pem")
    call_command("create_signing_key", "--force")
    now = timezone.now()
    authorisation = Authorisation.objects.create(
        scheme=lantern,
        kind="chis",
        reference="A-1",
        authorising_officer="Supt X",
        authorising_rank="Superintendent",
        granted_at=now - timedelta(days=1),
        expires_at=now + timedelta(days=30),
        recorded_by=owen,
    )
    tasking = Tasking.objects.create(
        scheme=lantern,
        reference="OP-BROWSER",
        title="t",
        objective="o",
        urn="42AB1234526",
        permitted_conduct="p",
        platforms="x",
        persona="p",
        window_start=now - timedelta(hours=1),
        window_end=now + timedelta(hours=5),
        authorisation=authorisation,
        handler=owen,
        controller=owen,
        status="active",
        created_by=owen,
    )
    # A tasking with only signed evidence would need a volunteer; here the bundle row is built directly.
    from evidence.models import HandoverBundle
    from tests.integration.bundle_helpers import sign_schedules

    sign_schedules(tasking, owen)
    bundle = HandoverBundle.objects.create(tasking=tasking, version=1, requested_by=owen)
    _sign_in(page, live_server, owen)
    page.goto(f"{live_server.url}/bundles/{bundle.pk}/")
    assert page.get_by_role("progressbar", name="Bundle progress").get_attribute("value") == "0"
    assert axe_violations(page) == []
    bundles.bundle_build(HandoverBundle.objects.get(pk=bundle.pk))  # signing steps outside Playwright's loop
    page.get_by_role("link", name="Download the signed PDF").wait_for(timeout=10_000)
    assert page.get_by_role("progressbar", name="Bundle progress").evaluate("el => el.value") == 100
    sensitive = page.get_by_role("link", name="Download the sensitive part (CPS only)")
    assert sensitive.is_visible() and sensitive.get_attribute("href") == f"/bundles/{bundle.pk}/sensitive/download/"
    assert axe_violations(page) == []

    carla.recipient_kind = carla.RecipientKind.CPS
    carla.save(update_fields=["recipient_kind"])
    services.bundle_share(
        bundle=HandoverBundle.objects.get(pk=bundle.pk),
        recipient=carla,
        until=timezone.now() + timedelta(days=7),
        by=owen,
        parts="both",  # as for a CPS prosecutor: the card offers both parts
    )
    court = page.context.browser.new_context(bypass_csp=True)
    court_page = court.new_page()
    _sign_in(court_page, live_server, carla)
    court_page.goto(f"{live_server.url}/bundles/")
    assert "OP-BROWSER" in court_page.locator("main").inner_text()
    assert court_page.get_by_role(
        "link", name="Download sensitive part for OP-BROWSER version 1, CPS only"
    ).is_visible()
    assert axe_violations(court_page) == []
    court_page.set_viewport_size({"width": 320, "height": 800})
    assert court_page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
    court.close()
