"""The six pages the volume benchmark loads (bench/volume.py) ask the database as often with more data as
with little: more volunteers, taskings, exhibits and custody events must not add queries.

Vera is assigned to Owen's tasking in Lantern; Wendy is Lantern's welfare officer; Carla is a court
recipient. Each page is rendered once to warm the session, counted with a little data, then counted again
after the data has grown; the counts must be equal. Two tests grow the viewer's own rows (her taskings, the
bundles shared with Carla): both pages once asked the one rule per row (14 queries a tasking, 4 a bundle).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.conftest import enrol_totp, invite_and_apply, make_tasking, mfa_login, screen
from tests.integration.bundle_helpers import CHAT, submit_exhibit

# A search (by reference, tasking or other party: test_exhibit_search) and a filter: the count must not grow.
EXHIBIT_LIST = "/admin/evidence/exhibit/?q=VD&review_state__exact=awaiting"


def _queries(client, path: str) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, f"{path} answered {response.status_code}"
    return [query["sql"] for query in captured.captured_queries]


def _counted(client, path: str) -> int:
    client.get(path)  # the session's first request after sign-in does some work once
    return len(_queries(client, path))


def _assert_same(client, path: str, before: int) -> None:
    after = _queries(client, path)
    assert len(after) == before, f"{path}: {before} queries with little data, {len(after)} with more:\n" + "\n".join(
        after
    )


def _grow(*, lantern, owen, wendy, vera_user, tasking, folder: Path, start: int, count: int = 4) -> None:
    """More of everything around the viewer: screened volunteers with exposure, taskings of the scheme that
    are not hers, exhibits of hers (one accepted, one rejected, one opened) and their custody events."""
    from evidence import services
    from volunteers.services import exposure_record

    for number in range(start, start + count):
        volunteer = invite_and_apply(lantern, owen, f"grow{number}@lantern.example", f"Grow Number{number}")
        screen(volunteer.user, wendy)
        exposure_record(person=volunteer.user, minutes=5, source="Chat logs", by=wendy)
        make_tasking(lantern, owen, reference=f"OP-OTHER-{number}")
        exhibit = submit_exhibit(
            vera_user, tasking, folder, f"grow{number}.txt", CHAT + str(number).encode(), "text/plain"
        )
        if number % 3 == 0:
            services.exhibit_review(exhibit=exhibit, decision="accepted", reason="", by=owen)
        elif number % 3 == 1:
            services.exhibit_review(exhibit=exhibit, decision="rejected", reason="Blurred.", by=owen)
        services.exhibit_open(exhibit=exhibit, by=owen)


def _staff_client(client, user):
    mfa_login(client, user, enrol_totp(user))
    return client


@pytest.fixture
def world(assigned_vera, tasking, lantern, owen, wendy, tmp_path):
    """Vera has one exhibit on her tasking; the scheme has a few volunteers of its own."""
    submit_exhibit(assigned_vera.user, tasking, tmp_path, "first.txt", CHAT, "text/plain")

    def grow(start: int, count: int = 4) -> None:
        _grow(
            lantern=lantern,
            owen=owen,
            wendy=wendy,
            vera_user=assigned_vera.user,
            tasking=tasking,
            folder=tmp_path,
            start=start,
            count=count,
        )

    grow(0, 2)
    return grow


@pytest.fixture
def vera_client(client, assigned_vera):
    client.force_login(assigned_vera.user)  # a volunteer's role needs no second factor
    return client


# --- the volunteer's dashboard ---------------------------------------------------------------------------


def test_the_volunteer_dashboard_does_not_grow_with_the_schemes_data(vera_client, world):
    before = _counted(vera_client, "/")
    world(10)
    _assert_same(vera_client, "/", before)


def test_the_volunteer_dashboard_does_not_grow_with_her_taskings(vera_client, world, assigned_vera, lantern, owen):
    from evidence.services import tasking_assign

    before = _counted(vera_client, "/")
    for number in range(3):
        tasking = make_tasking(lantern, owen, reference=f"OP-HERS-{number}")
        tasking_assign(tasking=tasking, volunteer=assigned_vera.user, by=owen)
    _assert_same(vera_client, "/", before)


# --- a tasking's page -----------------------------------------------------------------------------------------


def test_the_tasking_page_does_not_grow_with_her_exhibits_or_the_schemes_data(vera_client, world, tasking):
    from evidence.services import note_add

    path = f"/taskings/{tasking.pk}/"
    before = _counted(vera_client, path)
    world(10)
    note_add(tasking=tasking, author=tasking.assignments.get().volunteer, text="19:00 logged in.")
    _assert_same(vera_client, path, before)


# --- the officer's home page (the admin index) ---------------------------------------------------------------


def test_the_officer_home_page_does_not_grow_with_the_data(client, world, owen, tasking, assigned_vera):
    from evidence import services
    from evidence.models import HandoverBundle

    _staff_client(client, owen)
    before = _counted(client, "/admin/")
    world(10)
    for number in range(3):
        services.safeguarding_raise(tasking=tasking, by=assigned_vera.user, note=f"Alert {number}")
        HandoverBundle.objects.create(tasking=tasking, version=number + 1, requested_by=owen, state="failed")
    _assert_same(client, "/admin/", before)


# --- the welfare console -------------------------------------------------------------------------------------


def test_the_welfare_console_does_not_grow_with_the_data(client, world, wendy):
    _staff_client(client, wendy)
    before = _counted(client, "/welfare/")
    world(10)
    _assert_same(client, "/welfare/", before)


# --- the admin's exhibit list, searched and filtered ---------------------------------------------------------


def test_the_admin_exhibit_list_with_a_search_and_a_filter_does_not_grow_with_the_data(client, world, owen):
    _staff_client(client, owen)
    before = _counted(client, EXHIBIT_LIST)
    world(10)
    _assert_same(client, EXHIBIT_LIST, before)


# --- the court inbox --------------------------------------------------------------------------------------------


def _shared_bundles(*, carla, owen, lantern, start: int, count: int) -> None:
    """Finished bundles (records only: the inbox reads no file) shared with Carla through the service."""
    from evidence.models import HandoverBundle
    from evidence.services import bundle_share

    for number in range(start, start + count):
        tasking = make_tasking(lantern, owen, reference=f"OP-COURT-{number}")
        bundle = HandoverBundle.objects.create(
            tasking=tasking, version=1, requested_by=owen, state="ready", pdf_name=f"bundles/{number}.pdf"
        )
        bundle_share(bundle=bundle, recipient=carla, until=timezone.now() + timedelta(days=28), by=owen)


def test_the_court_inbox_does_not_grow_with_the_schemes_data(client, world, carla, owen, lantern):
    _shared_bundles(carla=carla, owen=owen, lantern=lantern, start=0, count=1)
    _staff_client(client, carla)
    before = _counted(client, "/bundles/")
    world(10)
    _assert_same(client, "/bundles/", before)


def test_the_court_inbox_does_not_grow_with_the_bundles_shared_with_them(client, world, carla, owen, lantern):
    _shared_bundles(carla=carla, owen=owen, lantern=lantern, start=0, count=1)
    _staff_client(client, carla)
    before = _counted(client, "/bundles/")
    _shared_bundles(carla=carla, owen=owen, lantern=lantern, start=1, count=4)
    _assert_same(client, "/bundles/", before)
