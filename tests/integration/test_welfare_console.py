"""The welfare console: what is overdue, due soon, stood down or requested, at constant query cost."""

from datetime import timedelta

import pytest
from django.utils import timezone

from portal import roles
from portal.models import AuditEvent
from tests.conftest import enrol_totp, invite_and_apply, make_person, mfa_login, screen
from volunteers import services


@pytest.fixture
def welfare_client(client, wendy):
    mfa_login(client, wendy, enrol_totp(wendy))
    return client


def _volunteers(lantern, owen, wendy, count: int, start: int = 0):
    made = []
    for i in range(start, start + count):
        volunteer = invite_and_apply(lantern, owen, f"q{i}@lantern.example", f"Quinn Number{i}")
        screen(volunteer.user, wendy)
        services.exposure_record(person=volunteer.user, minutes=5, source="Chat logs", by=wendy)
        made.append(volunteer)
    return made


def test_the_console_costs_the_same_number_of_queries_for_3_or_30_people(
    welfare_client, lantern, owen, wendy, conduct, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _volunteers(lantern, owen, wendy, 3)
    with CaptureQueriesContext(connection) as few:
        assert welfare_client.get("/welfare/").status_code == 200
    _volunteers(lantern, owen, wendy, 27, start=3)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = welfare_client.get("/welfare/")
    assert response.content.decode().count("Quinn Number") == 30


def test_filters_show_the_overdue_the_stood_down_and_the_requested(welfare_client, lantern, owen, wendy, conduct):
    fine, overdue, heavy = _volunteers(lantern, owen, wendy, 3)
    from volunteers.models import ScreeningRecord

    ScreeningRecord.objects.filter(person=overdue.user).update(next_due=timezone.now() - timedelta(days=2))
    services.screening_dates_refresh()  # what recording the screening would have kept on the person
    services.exposure_record(person=heavy.user, minutes=900, source="Images", by=owen)
    body = welfare_client.get("/welfare/?show=overdue").content.decode()
    assert overdue.user.full_name in body and fine.user.full_name not in body
    body = welfare_client.get("/welfare/?show=stood_down").content.decode()
    assert heavy.user.full_name in body and fine.user.full_name not in body
    body = welfare_client.get("/welfare/?show=requests").content.decode()
    assert heavy.user.full_name in body and overdue.user.full_name not in body
    body = welfare_client.get("/welfare/?sort=exposure").content.decode()
    assert body.index(heavy.user.full_name) < body.index(fine.user.full_name)


def test_the_console_shows_only_the_welfare_officers_own_scheme(
    welfare_client, lantern, harbour, owen, otto, wendy, conduct
):
    _volunteers(lantern, owen, wendy, 1)
    walt = make_person("walt@harbour.example", roles.WELFARE, harbour)
    theirs = invite_and_apply(harbour, otto, "h1@harbour.example", "Harriet Harbour")
    screen(theirs.user, walt)
    body = welfare_client.get("/welfare/").content.decode()
    assert "Quinn Number0" in body and "Harriet Harbour" not in body


def test_reading_the_console_is_one_audit_event_naming_the_people_shown(welfare_client, lantern, owen, wendy, conduct):
    people = _volunteers(lantern, owen, wendy, 2)
    welfare_client.get("/welfare/")
    event = AuditEvent.objects.filter(action="welfare.consult_list").get()
    # Officers are listed too: opening quarantined material exposes them as well.
    assert sorted(event.detail["people"]) == sorted([owen.pk, *(v.user_id for v in people)])


def test_an_unknown_filter_or_page_falls_back_safely(welfare_client):
    assert welfare_client.get("/welfare/?show=everything&sort=%27;drop&page=999").status_code == 200


def test_recording_a_screening_through_the_page_keeps_input_on_error(welfare_client, lantern, owen, wendy, conduct):
    volunteer = invite_and_apply(lantern, owen, "s@lantern.example", "Sam Screen")
    url = f"/welfare/people/{volunteer.user_id}/screening/new/"
    today = timezone.localdate()
    response = welfare_client.post(
        url,
        {
            "kind": "baseline",
            "screened_on_0": str(today.day),
            "screened_on_1": str(today.month),
            "screened_on_2": str(today.year),
            "provider": "OH Ltd",
            "outcome": "fit_restricted",
            "restrictions": "",
            "clinical_notes": "Kept text",
        },
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Say what the restrictions are" in body and "Kept text" in body
    response = welfare_client.post(
        url,
        {
            "kind": "baseline",
            "screened_on_0": str(today.day),
            "screened_on_1": str(today.month),
            "screened_on_2": str(today.year),
            "provider": "OH Ltd",
            "outcome": "fit",
            "clinical_notes": "ok",
        },
    )
    assert response.status_code == 302


def test_sorted_by_next_screening_the_never_screened_come_first_on_every_database(welfare_client, lantern, owen, wendy):
    """Never screened is the most overdue of all: first, not last (PostgreSQL sorts empty dates last unless
    told otherwise; SQLite first)."""
    (screened,) = _volunteers(lantern, owen, wendy, 1)
    never = invite_and_apply(lantern, owen, "never@lantern.example", "Nadia Neverscreened")
    for query in ("", "?sort=due", "?show=overdue&sort=due"):
        body = welfare_client.get(f"/welfare/{query}").content.decode()
        assert never.user.full_name in body
        if screened.user.full_name in body:
            assert body.index(never.user.full_name) < body.index(screened.user.full_name), query


def test_a_volunteer_who_has_left_is_not_listed_as_overdue_but_her_record_still_opens(
    welfare_client, lantern, owen, wendy, conduct
):
    stays, leaves = _volunteers(lantern, owen, wendy, 2)
    from volunteers.models import ScreeningRecord

    ScreeningRecord.objects.update(next_due=timezone.now() - timedelta(days=2))
    services.screening_dates_refresh()
    services.volunteer_transition(volunteer=leaves, to="withdrawn", by=owen, reason="Moved away.")
    for url in ("/welfare/", "/welfare/?show=overdue"):
        body = welfare_client.get(url).content.decode()
        assert stays.user.full_name in body and leaves.user.full_name not in body, url
    assert welfare_client.get(f"/welfare/people/{leaves.user.pk}/").status_code == 200
