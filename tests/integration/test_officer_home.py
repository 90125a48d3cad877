"""The officer's admin home page lists what needs doing — safeguarding alerts to acknowledge with one button,
exhibits awaiting review, bundles building or ready, vetting, screening due and authorisations expiring — for
their own scheme only, in a number of queries that does not grow with the data.

Vera is assigned to Owen's tasking in Lantern; Wendy is Lantern's welfare officer and Ada its administrator;
Otto supervises Harbour and must see none of it.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from lxml import html as lxml_html

from portal.models import AuditEvent
from tests.conftest import clear_vetting, enrol_totp, invite_and_apply, mfa_login
from tests.integration.bundle_helpers import CHAT, submit_exhibit


def _signed_in(client, user):
    mfa_login(client, user, enrol_totp(user))
    return client


def _home(client) -> str:
    response = client.get("/admin/")
    assert response.status_code == 200
    return response.content.decode()


def _task(page: str, task_id: str) -> str:
    """The words of one task on the home page, as a person reads them."""
    found = lxml_html.fromstring(page).xpath(f'//li[@id="{task_id}"]')
    assert found, f"no task {task_id} on the home page"
    return re.sub(r"\s+", " ", found[0].text_content()).strip()


@pytest.fixture
def busy_lantern(assigned_vera, tasking, owen, lantern, tmp_path, conduct):
    """One of everything waiting in Lantern: an alert, an exhibit to review, a queued bundle, a vetting in
    progress, an authorisation expiring in a week."""
    from evidence import services
    from evidence.models import Authorisation, HandoverBundle
    from volunteers.services import vetting_start

    services.safeguarding_raise(tasking=tasking, by=assigned_vera.user, note="He says a girl of 11 is with him.")
    submit_exhibit(assigned_vera.user, tasking, tmp_path, "chat.txt", CHAT, "text/plain")
    HandoverBundle.objects.create(tasking=tasking, version=1, requested_by=owen)
    applicant = invite_and_apply(lantern, owen, "ari@lantern.example", "Ari Applicant")
    vetting_start(volunteer=applicant, level="MV", by=owen)
    now = timezone.now()
    Authorisation.objects.create(
        scheme=lantern,
        kind="directed",
        reference="AUTH-SOON",
        authorising_officer="Supt Grant",
        authorising_rank="Superintendent",
        granted_at=now - timedelta(days=80),
        expires_at=now + timedelta(days=7),
        recorded_by=owen,
    )
    return tasking


def test_the_home_page_lists_each_task_of_the_officers_scheme_with_counts_and_links(client, owen, busy_lantern):
    page = _home(_signed_in(client, owen))
    alerts = _task(page, "task-alerts")
    assert "Safeguarding alerts to acknowledge 1" in alerts and "OP-LANTERN-1" in alerts
    assert "He says a girl of 11 is with him." in alerts
    assert "Exhibits awaiting review 1" in _task(page, "task-exhibits")
    assert "/admin/evidence/exhibit/" in page and "/review/" in page
    assert "OP-LANTERN-1, version 1: queued" in _task(page, "task-bundles")
    assert "1 vetting application in progress" in _task(page, "task-vetting")
    # Ari applied but has not been screened; Vera was screened today and is current.
    assert "Welfare screening due 1" in _task(page, "task-screening")
    assert "?screening=due" in page
    authorisations = _task(page, "task-authorisations")
    assert "Authorisations expiring within 30 days 1" in authorisations and "AUTH-SOON" in authorisations


def test_another_schemes_officer_sees_none_of_it(client, otto, busy_lantern):
    page = _home(_signed_in(client, otto))
    assert "OP-LANTERN-1" not in page and "AUTH-SOON" not in page and "girl of 11" not in page
    assert "Safeguarding alerts to acknowledge 0" in _task(page, "task-alerts")
    assert "Exhibits awaiting review 0" in _task(page, "task-exhibits")
    assert "Bundles building or ready to share 0" in _task(page, "task-bundles")
    assert "0 vetting applications in progress" in _task(page, "task-vetting")
    assert "Welfare screening due 0" in _task(page, "task-screening")
    assert "Authorisations expiring within 30 days 0" in _task(page, "task-authorisations")


def test_a_welfare_officer_sees_screening_due_and_no_evidence_tasks(client, wendy, busy_lantern):
    page = _home(_signed_in(client, wendy))
    assert 'id="task-screening"' in page and "/welfare/" in page
    for task in ("task-alerts", "task-exhibits", "task-bundles", "task-vetting", "task-authorisations"):
        assert f'id="{task}"' not in page
    assert "OP-LANTERN-1" not in page


def test_the_scheme_administrator_manages_people_not_evidence(client, ada, busy_lantern):
    """DESIGN.md: a scheme administrator manages the scheme's users, roles and settings; the evidence,
    its alerts and bundles are the supervising officers'."""
    page = _home(_signed_in(client, ada))
    for task in ("task-alerts", "task-exhibits", "task-bundles", "task-authorisations"):
        assert f'id="{task}"' not in page
    assert "/acknowledge/" not in page and "OP-LANTERN-1" not in page
    assert 'id="task-vetting"' in page


def test_the_home_pages_queries_do_not_grow_with_the_data(
    client, owen, busy_lantern, assigned_vera, lantern, tmp_path, django_assert_max_num_queries
):
    from evidence import services
    from evidence.models import HandoverBundle

    _signed_in(client, owen)
    with CaptureQueriesContext(connection) as few:
        _home(client)
    for number in range(12):
        services.safeguarding_raise(tasking=busy_lantern, by=assigned_vera.user, note=f"Alert {number}")
        submit_exhibit(assigned_vera.user, busy_lantern, tmp_path, f"chat{number}.txt", CHAT, "text/plain")
        HandoverBundle.objects.create(tasking=busy_lantern, version=number + 2, requested_by=owen, state="failed")
        invite_and_apply(lantern, owen, f"new{number}@lantern.example", f"New {number}")
    with django_assert_max_num_queries(len(few)):
        page = _home(client)
    assert "Safeguarding alerts to acknowledge 13" in _task(page, "task-alerts")
    assert "Exhibits awaiting review 13" in _task(page, "task-exhibits")


# --- acknowledging an alert with one button -------------------------------------------------------------------


def _alert(tasking, volunteer_user):
    from evidence import services

    return services.safeguarding_raise(tasking=tasking, by=volunteer_user, note="A child may be at risk.")


def test_one_button_on_the_home_page_acknowledges_the_alert_through_the_service(client, owen, tasking, assigned_vera):
    alert = _alert(tasking, assigned_vera.user)
    _signed_in(client, owen)
    page = _home(client)
    assert f'action="/admin/evidence/safeguardingalert/{alert.pk}/acknowledge/"' in page
    response = client.post(f"/admin/evidence/safeguardingalert/{alert.pk}/acknowledge/", {"next": "/admin/"})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    alert.refresh_from_db()
    assert alert.acknowledged_by == owen and alert.acknowledged_at is not None
    assert AuditEvent.objects.filter(action="evidence.safeguarding_acknowledge", actor_id=owen.pk).exists()
    page = _home(client)
    assert "You acknowledged the safeguarding alert on OP-LANTERN-1" in page
    assert "Safeguarding alerts to acknowledge 0" in _task(page, "task-alerts")


def test_the_alert_list_acknowledges_with_one_button_and_has_no_selection_or_action_menu(
    client, owen, tasking, assigned_vera
):
    alert = _alert(tasking, assigned_vera.user)
    page = _signed_in(client, owen).get("/admin/evidence/safeguardingalert/").content.decode()
    assert f'formaction="/admin/evidence/safeguardingalert/{alert.pk}/acknowledge/"' in page
    assert 'name="action"' not in page and 'name="_selected_action"' not in page
    # The button is the list's first column, ahead of the long tasking title.
    assert page.index("column-acknowledgement") < page.index("column-tasking_reference")
    client.post(f"/admin/evidence/safeguardingalert/{alert.pk}/acknowledge/", {"next": "https://evil.example/"})
    alert.refresh_from_db()
    assert alert.acknowledged_by == owen


def test_an_open_redirect_is_refused_after_acknowledging(client, owen, tasking, assigned_vera):
    alert = _alert(tasking, assigned_vera.user)
    response = _signed_in(client, owen).post(
        f"/admin/evidence/safeguardingalert/{alert.pk}/acknowledge/", {"next": "https://evil.example/"}
    )
    assert response["Location"] == "/admin/evidence/safeguardingalert/"


def test_acknowledging_twice_says_so_and_keeps_the_first(client, owen, tasking, assigned_vera, lantern):
    from portal import roles
    from tests.conftest import make_person

    alert = _alert(tasking, assigned_vera.user)
    olive = make_person("olive@lantern.example", roles.OFFICER, lantern)
    _signed_in(client, owen).post(f"/admin/evidence/safeguardingalert/{alert.pk}/acknowledge/")
    client.logout()
    response = _signed_in(client, olive).post(
        f"/admin/evidence/safeguardingalert/{alert.pk}/acknowledge/", {"next": "/admin/"}, follow=True
    )
    assert "This alert has already been acknowledged." in response.content.decode()
    alert.refresh_from_db()
    assert alert.acknowledged_by == owen


def test_the_scheme_administrator_cannot_acknowledge(client, ada, tasking, assigned_vera):
    alert = _alert(tasking, assigned_vera.user)
    response = _signed_in(client, ada).post(f"/admin/evidence/safeguardingalert/{alert.pk}/acknowledge/")
    assert response.status_code == 403
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


def test_another_schemes_officer_cannot_acknowledge_or_learn_the_alert_exists(client, otto, tasking, assigned_vera):
    alert = _alert(tasking, assigned_vera.user)
    response = _signed_in(client, otto).post(f"/admin/evidence/safeguardingalert/{alert.pk}/acknowledge/")
    assert response.status_code == 404
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


def test_a_welfare_officer_cannot_acknowledge(client, wendy, tasking, assigned_vera):
    alert = _alert(tasking, assigned_vera.user)
    response = _signed_in(client, wendy).post(f"/admin/evidence/safeguardingalert/{alert.pk}/acknowledge/")
    assert response.status_code in {403, 404}
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


def test_acknowledging_needs_a_post(client, owen, tasking, assigned_vera):
    alert = _alert(tasking, assigned_vera.user)
    response = _signed_in(client, owen).get(f"/admin/evidence/safeguardingalert/{alert.pk}/acknowledge/")
    assert response.status_code == 405
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


def test_a_deactivated_officer_cannot_acknowledge(client, owen, tasking, assigned_vera):
    alert = _alert(tasking, assigned_vera.user)
    _signed_in(client, owen)
    owen.is_active = False
    owen.save(update_fields=["is_active"])
    client.post(f"/admin/evidence/safeguardingalert/{alert.pk}/acknowledge/")
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


# --- the counts agree with the rules they summarise ------------------------------------------------------------


def test_screening_due_counts_exactly_the_volunteers_whose_screening_is_not_current(owen, lantern, wendy, conduct):
    from tests.conftest import screen
    from volunteers.deployability import screening_state
    from volunteers.models import ScreeningRecord, Volunteer
    from volunteers.selectors import screening_due
    from volunteers.services import screening_dates_refresh, vetting_start

    now = timezone.now()
    people = []
    for number, next_due in enumerate(
        [None, now - timedelta(days=1), now + timedelta(days=10), now + timedelta(days=90), now - timedelta(days=5)]
    ):
        volunteer = invite_and_apply(lantern, owen, f"v{number}@lantern.example", f"Volunteer {number}")
        vetting_start(volunteer=volunteer, level="MV", by=owen)  # in vetting: screening matters now
        if next_due is not None:
            record = screen(volunteer.user, wendy)
            ScreeningRecord.objects.filter(pk=record.pk).update(next_due=next_due)  # the record's date, moved
            screening_dates_refresh()
        people.append(volunteer)
    # The last one was overdue and is screened again: the newer screening is the one that counts.
    screen(people[-1].user, wendy)
    due = set(screening_due(owen).values_list("pk", flat=True))
    expected = {
        v.pk for v in Volunteer.objects.filter(pk__in=[p.pk for p in people]) if screening_state(v.user_id) != "Current"
    }
    assert due == expected and len(due) == 3


def test_vetting_falling_due_follows_the_latest_clearance_and_integrity_review(owen, lantern, deployable_vera):
    from volunteers.models import VettingRecord
    from volunteers.selectors import vetting_falling_due
    from volunteers.services import integrity_review_record, vetting_dates_refresh

    def due() -> set[int]:
        return set(vetting_falling_due(owen).values_list("pk", flat=True))

    def records_changed(**dates) -> None:  # the records' own dates, moved as if they were older
        VettingRecord.objects.filter(volunteer=deployable_vera).update(**dates)
        vetting_dates_refresh()

    assert deployable_vera.pk not in due()
    records_changed(expires_at=timezone.now() + timedelta(days=5))
    assert deployable_vera.pk in due()
    records_changed(
        expires_at=timezone.now() + timedelta(days=500), integrity_review_due=timezone.now() + timedelta(days=3)
    )
    assert deployable_vera.pk in due()
    integrity_review_record(volunteer=deployable_vera, notes="Annual review.", by=owen)  # next one in a year
    assert deployable_vera.pk not in due()


def test_the_dates_kept_on_the_volunteer_are_those_deployability_reads(owen, lantern, deployable_vera):
    """The officer's list reads the dates kept on the volunteer; the one rule reads the records. Through a
    renewal (an old clearance expiring, a newer one cleared), a review and the refusal of a later vetting, the
    list names her exactly when deployability's dates fall due, and the kept dates are the records' own."""
    from volunteers.deployability import Code, deployability_for
    from volunteers.models import IntegrityReview, VettingRecord, Volunteer
    from volunteers.selectors import vetting_falling_due
    from volunteers.services import integrity_review_record, vetting_dates_refresh, vetting_decide, vetting_start

    def agree() -> None:
        kept = Volunteer.objects.get(pk=deployable_vera.pk)
        latest = VettingRecord.objects.filter(volunteer=kept, outcome="cleared").order_by("-decided_at").first()
        review = IntegrityReview.objects.filter(volunteer=kept).order_by("-done_at").first()
        assert kept.current_clearance_expires == latest.expires_at
        assert kept.next_integrity_review == (review.next_due if review else latest.integrity_review_due)
        listed = kept.pk in set(vetting_falling_due(owen, within_days=0).values_list("pk", flat=True))
        codes = deployability_for(kept).codes
        assert listed == (Code.VETTING_EXPIRED in codes or Code.INTEGRITY_REVIEW_OVERDUE in codes)

    agree()
    # Her clearance lapses: the one rule stops her and the list names her.
    VettingRecord.objects.filter(volunteer=deployable_vera).update(expires_at=timezone.now() - timedelta(days=1))
    vetting_dates_refresh()
    agree()
    # A renewal is cleared: the old, expired record no longer counts anywhere.
    clear_vetting(deployable_vera, owen)
    agree()
    assert deployable_vera.pk not in set(vetting_falling_due(owen).values_list("pk", flat=True))
    # A review recorded, then a later vetting refused: the kept dates still follow the latest clearance.
    integrity_review_record(volunteer=deployable_vera, notes="Annual review.", by=owen)
    agree()
    refused = vetting_start(volunteer=deployable_vera, level="SC", by=owen)
    vetting_decide(record=refused, outcome="refused", reasons="Not needed after all.", by=owen)
    agree()
