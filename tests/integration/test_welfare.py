"""The welfare compartment: encryption, exposure stand-down, and who may read screening data."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from portal.models import AuditEvent
from tests.conftest import enrol_totp, make_person, mfa_login, screen
from volunteers import services
from volunteers.deployability import Code, deployability_for
from volunteers.models import ScreeningRecord, ScreeningRequest, StandDown

SECRET_NOTE = "Disclosed intrusive memories after operation LANTERN-7"


@pytest.fixture
def screened(deployable_vera, wendy):
    return screen(
        deployable_vera.user, wendy, outcome="fit_restricted", restrictions="No image review.", notes=SECRET_NOTE
    )


@pytest.fixture
def signed_in(client):
    def sign_in(user):
        mfa_login(client, user, enrol_totp(user))
        return client

    return sign_in


def test_clinical_notes_and_restrictions_never_reach_the_database_as_plaintext(screened):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT clinical_notes, restrictions FROM volunteers_screeningrecord WHERE id = %s", [screened.pk]
        )
        notes, restrictions = cursor.fetchone()
    assert SECRET_NOTE not in notes and "image" not in restrictions
    assert notes.startswith("fernet:")
    assert ScreeningRecord.objects.get(pk=screened.pk).clinical_notes == SECRET_NOTE


def test_keys_rotate_without_losing_a_note(screened, settings, capsys):
    from cryptography.fernet import Fernet
    from django.core.management import call_command

    old_key = settings.PORTAL_FIELD_KEYS[0]
    settings.PORTAL_FIELD_KEYS = [Fernet.generate_key().decode(), old_key]
    call_command("rotate_field_keys")
    assert "re-encrypted" in capsys.readouterr().out
    settings.PORTAL_FIELD_KEYS = settings.PORTAL_FIELD_KEYS[:1]  # the old key is gone now
    assert ScreeningRecord.objects.get(pk=screened.pk).clinical_notes == SECRET_NOTE


def test_exposure_over_the_threshold_stands_the_volunteer_down_and_asks_welfare_to_screen(deployable_vera, owen):
    person = deployable_vera.user
    services.exposure_record(person=person, minutes=400, source="Chat logs", by=owen)
    assert deployability_for(deployable_vera).allowed
    services.exposure_record(person=person, minutes=200, source="Chat logs", by=owen)  # 600 = default threshold
    decision = deployability_for(deployable_vera)
    assert Code.STOOD_DOWN_EXPOSURE in decision.codes
    assert ScreeningRequest.objects.filter(person=person, closed_at__isnull=True).count() == 1
    services.exposure_record(person=person, minutes=50, source="Chat logs", by=owen)
    assert StandDown.objects.filter(person=person).count() == 1  # not stood down twice


def test_exposure_outside_the_rolling_window_does_not_count(deployable_vera, owen):
    person = deployable_vera.user
    services.exposure_record(
        person=person, minutes=500, source="Images", by=owen, at=timezone.now() - timedelta(days=40)
    )
    services.exposure_record(person=person, minutes=200, source="Images", by=owen)
    assert deployability_for(deployable_vera).allowed


def test_a_screening_closes_the_open_request_and_lifting_the_stand_down_reopens_the_gate(deployable_vera, owen, wendy):
    person = deployable_vera.user
    services.exposure_record(person=person, minutes=700, source="Images", by=owen)
    screen(person, wendy, outcome="fit")
    assert not ScreeningRequest.objects.filter(person=person, closed_at__isnull=True).exists()
    services.stand_down_lift(stand_down=StandDown.objects.get(person=person), by=wendy, reason="Screened fit again.")
    assert deployability_for(deployable_vera).allowed


def test_heavy_exposure_brings_the_next_screening_forward_to_six_months(deployable_vera, owen, wendy):
    person = deployable_vera.user
    for days_ago in range(5):
        services.exposure_record(
            person=person, minutes=500, source="Images", by=owen, at=timezone.now() - timedelta(days=60 + days_ago * 40)
        )
    record = screen(person, wendy)
    months = (record.next_due.year - timezone.now().year) * 12 + record.next_due.month - timezone.now().month
    assert months == 6


# --- the permission matrix for screening data ---------------------------------------------------------


def test_a_welfare_officer_reads_the_notes_of_their_own_schemes_volunteer(signed_in, wendy, screened):
    response = signed_in(wendy).get(f"/welfare/people/{screened.person_id}/")
    assert response.status_code == 200
    assert SECRET_NOTE.encode() in response.content
    assert AuditEvent.objects.filter(action="welfare.consult_person", object_id=str(screened.person_id)).exists()


def test_a_welfare_officer_of_another_scheme_gets_not_found(signed_in, harbour, screened):
    other = make_person("walt@harbour.example", __import__("portal.roles").roles.WELFARE, harbour)
    response = signed_in(other).get(f"/welfare/people/{screened.person_id}/")
    assert response.status_code == 404
    assert SECRET_NOTE.encode() not in response.content


@pytest.mark.parametrize("persona", ["owen", "ada", "otto", "root"])
def test_no_one_else_opens_the_welfare_pages(signed_in, persona, request, screened):
    client = signed_in(request.getfixturevalue(persona))
    for path in ["/welfare/", f"/welfare/people/{screened.person_id}/"]:
        response = client.get(path)
        assert response.status_code == 403, path
        assert SECRET_NOTE.encode() not in response.content


def test_the_volunteer_cannot_open_welfare_pages_even_their_own(client, screened):
    from tests.conftest import PASSWORD

    client.post("/accounts/login/", {"login": screened.person.email, "password": PASSWORD})
    assert client.get(f"/welfare/people/{screened.person_id}/").status_code == 403


@pytest.mark.parametrize("persona", ["owen", "ada"])
def test_officers_see_no_screening_records_in_the_admin_by_any_route(signed_in, persona, request, screened):
    client = signed_in(request.getfixturevalue(persona))
    for path in [
        "/admin/volunteers/screeningrecord/",
        f"/admin/volunteers/screeningrecord/{screened.pk}/change/",
        "/admin/volunteers/standdown/",
    ]:
        response = client.get(path, follow=True)
        assert response.status_code in {403, 404}, path
        assert SECRET_NOTE.encode() not in response.content


def test_officers_read_deployability_without_health_detail_in_the_admin(signed_in, owen, deployable_vera, wendy):
    screen(deployable_vera.user, wendy, outcome="unfit", notes=SECRET_NOTE)
    client = signed_in(owen)
    body = client.get("/admin/volunteers/volunteer/").content.decode()
    assert "Not deployable on welfare grounds" in body
    assert "unfit" not in body.lower().replace("unfit for", "")
    body = client.get(f"/admin/volunteers/volunteer/{deployable_vera.pk}/change/").content.decode()
    assert "Not deployable on welfare grounds" in body and SECRET_NOTE not in body


def test_superuser_without_the_welfare_role_cannot_read_notes_in_the_admin(signed_in, root, screened):
    response = signed_in(root).get(f"/admin/volunteers/screeningrecord/{screened.pk}/change/", follow=True)
    assert SECRET_NOTE.encode() not in response.content


def test_officers_see_screening_as_current_due_or_overdue_only(signed_in, owen, deployable_vera, wendy):
    from volunteers.models import ScreeningRecord

    client = signed_in(owen)
    assert "Current" in client.get("/admin/volunteers/volunteer/").content.decode()
    ScreeningRecord.objects.filter(person=deployable_vera.user).update(next_due=timezone.now() - timedelta(days=1))
    body = client.get("/admin/volunteers/volunteer/").content.decode()
    assert "Overdue" in body and "Fit" not in body


def test_a_welfare_officer_reading_screenings_in_the_admin_is_audited(signed_in, wendy, screened):
    client = signed_in(wendy)
    assert client.get("/admin/volunteers/screeningrecord/").status_code == 200
    assert client.get(f"/admin/volunteers/screeningrecord/{screened.pk}/change/").status_code == 200
    listed = AuditEvent.objects.get(action="volunteers.screeningrecord.consult_list")
    assert sorted(listed.detail["ids"]) == sorted(ScreeningRecord.objects.values_list("pk", flat=True))
    assert AuditEvent.objects.filter(action="volunteers.screeningrecord.consult", object_id=str(screened.pk)).exists()
