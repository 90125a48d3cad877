"""Officers run vetting and status changes in the admin; the services keep the rules."""

import pytest
from django.utils import timezone

from portal.models import AuditEvent
from tests.conftest import PASSWORD, enrol_totp, invite_and_apply, mfa_login, screen
from volunteers.models import VettingRecord, Volunteer


@pytest.fixture
def officer_client(client, owen):
    mfa_login(client, owen, enrol_totp(owen))
    return client


@pytest.fixture
def applicant(lantern, owen, conduct):
    return invite_and_apply(lantern, owen, "app@lantern.example", "Ari Applicant")


def test_starting_vetting_in_the_admin_moves_the_volunteer_into_vetting(officer_client, applicant):
    response = officer_client.post(
        "/admin/volunteers/vettingrecord/add/",
        {
            "volunteer": applicant.pk,
            "level": "MV",
            "outcome": "pending",
            "reasons": "",
            "checks-TOTAL_FORMS": "0",
            "checks-INITIAL_FORMS": "0",
            "checks-MIN_NUM_FORMS": "0",
            "checks-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 302
    applicant.refresh_from_db()
    assert applicant.status == "in_vetting"
    assert VettingRecord.objects.filter(volunteer=applicant, outcome="pending").exists()


def test_clearing_without_every_check_is_refused_with_the_reason_and_nothing_changes(officer_client, applicant, owen):
    from volunteers.services import vetting_start

    record = vetting_start(volunteer=applicant, level="MV", by=owen)
    response = officer_client.post(
        f"/admin/volunteers/vettingrecord/{record.pk}/change/",
        {
            "outcome": "cleared",
            "reasons": "",
            "checks-TOTAL_FORMS": "0",
            "checks-INITIAL_FORMS": "0",
            "checks-MIN_NUM_FORMS": "0",
            "checks-MAX_NUM_FORMS": "1000",
        },
        follow=True,
    )
    assert b"Clearance needs every check recorded" in response.content
    record.refresh_from_db()
    assert record.outcome == "pending"


def test_another_schemes_volunteer_cannot_be_chosen_for_vetting(officer_client, harbour, otto, conduct):
    theirs = invite_and_apply(harbour, otto, "h@harbour.example", "Hal Harbour")
    response = officer_client.post(
        "/admin/volunteers/vettingrecord/add/",
        {
            "volunteer": theirs.pk,
            "level": "MV",
            "outcome": "pending",
            "reasons": "",
            "checks-TOTAL_FORMS": "0",
            "checks-INITIAL_FORMS": "0",
            "checks-MIN_NUM_FORMS": "0",
            "checks-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 200 and b"Select a valid choice" in response.content
    assert not VettingRecord.objects.filter(volunteer=theirs).exists()


def test_an_illegal_status_change_in_the_admin_is_explained_and_refused(officer_client, applicant):
    response = officer_client.post(
        f"/admin/volunteers/volunteer/{applicant.pk}/status/", {"to": "accredited", "reason": "Keen."}
    )
    assert response.status_code == 200
    assert b"cannot become accredited" in response.content
    applicant.refresh_from_db()
    assert applicant.status == "applicant"


def test_a_legal_status_change_in_the_admin_is_recorded_with_the_reason(officer_client, applicant, owen):
    response = officer_client.post(
        f"/admin/volunteers/volunteer/{applicant.pk}/status/", {"to": "withdrawn", "reason": "Asked to leave."}
    )
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="volunteer.status", actor_email=owen.email).exists()


def test_another_schemes_volunteer_is_not_found_in_the_admin(officer_client, harbour, otto, conduct):
    theirs = invite_and_apply(harbour, otto, "h2@harbour.example", "Hana Harbour")
    assert officer_client.get(f"/admin/volunteers/volunteer/{theirs.pk}/status/").status_code == 404
    response = officer_client.post(
        f"/admin/volunteers/volunteer/{theirs.pk}/status/", {"to": "withdrawn", "reason": "x"}
    )
    assert response.status_code == 404
    assert Volunteer.objects.get(pk=theirs.pk).status == "applicant"


def test_the_volunteer_sees_their_next_screening_date_and_nothing_clinical(client, deployable_vera, wendy):
    screen(
        deployable_vera.user,
        wendy,
        outcome="fit_restricted",
        restrictions="No image review.",
        notes="Private clinical note",
    )
    client.post("/accounts/login/", {"login": deployable_vera.user.email, "password": PASSWORD})
    body = client.get("/").content.decode()
    due = timezone.localtime(deployable_vera.user.screenings.first().next_due)
    assert f"Next screening due by {due:%-d %B %Y}" in body
    assert "Private clinical note" not in body and "restriction" not in body.lower()
