"""Welfare officers lift a stand-down only with a recorded reason and a confirmation, and find a person in
the console by name; nobody else can do either."""

import html

import pytest

from portal import roles
from portal.models import AuditEvent
from tests.conftest import enrol_totp, invite_and_apply, make_person, mfa_login
from volunteers import services
from volunteers.deployability import deployability_for
from volunteers.models import StandDown


@pytest.fixture
def stood_down(deployable_vera, wendy):
    return services.stand_down_place(person=deployable_vera.user, detail="After a distressing chat.", by=wendy)


def _lift_url(stand_down) -> str:
    return f"/welfare/people/{stand_down.person_id}/stand-down/{stand_down.pk}/lift/"


def test_lifting_needs_a_reason_and_a_confirmation_and_keeps_what_was_typed(client, wendy, stood_down):
    mfa_login(client, wendy, enrol_totp(wendy))
    page = html.unescape(client.get(_lift_url(stood_down)).content.decode())
    assert "Lift the stand-down of" in page and "After a distressing chat." in page
    response = client.post(_lift_url(stood_down), {"reason": "Screened fit on Monday."})
    assert response.status_code == 400
    body = html.unescape(response.content.decode())
    assert "Confirm that they can be deployed again" in body and "Screened fit on Monday." in body
    response = client.post(_lift_url(stood_down), {"confirm": "true"})
    assert "Enter why it is safe to lift the stand-down" in html.unescape(response.content.decode())
    assert StandDown.objects.get(pk=stood_down.pk).lifted_at is None


def test_a_lifted_stand_down_records_who_why_and_when(client, wendy, stood_down, deployable_vera):
    mfa_login(client, wendy, enrol_totp(wendy))
    response = client.post(_lift_url(stood_down), {"reason": "Screened fit on Monday.", "confirm": "true"})
    assert response.status_code == 302
    lifted = StandDown.objects.get(pk=stood_down.pk)
    assert lifted.lifted_by == wendy and lifted.lift_reason == "Screened fit on Monday."
    assert deployability_for(deployable_vera).allowed
    assert AuditEvent.objects.filter(action="welfare.stand_down_lift", object_id=str(stood_down.pk)).exists()
    record = html.unescape(client.get(f"/welfare/people/{deployable_vera.user.pk}/").content.decode())
    assert "Screened fit on Monday." in record


def test_a_lift_reason_is_encrypted_at_rest(wendy, stood_down):
    from django.db import connection

    services.stand_down_lift(stand_down=stood_down, by=wendy, reason="Screened fit on Monday.")
    with connection.cursor() as cursor:
        cursor.execute("SELECT lift_reason FROM volunteers_standdown WHERE id = %s", [stood_down.pk])
        assert cursor.fetchone()[0].startswith("fernet:")


@pytest.mark.parametrize("who", ["owen", "ada", "other_welfare"])
def test_nobody_but_the_schemes_welfare_officers_can_lift(request, client, who, harbour, stood_down):
    person = (
        make_person("walt@harbour.example", roles.WELFARE, harbour)
        if who == "other_welfare"
        else request.getfixturevalue(who)
    )
    mfa_login(client, person, enrol_totp(person))
    response = client.post(_lift_url(stood_down), {"reason": "x", "confirm": "true"})
    assert response.status_code in (403, 404)
    assert StandDown.objects.get(pk=stood_down.pk).lifted_at is None


def test_the_console_finds_a_person_by_part_of_their_name(client, wendy, lantern, owen, deployable_vera, conduct):
    invite_and_apply(lantern, owen, "sam@lantern.example", "Samir Khan")
    mfa_login(client, wendy, enrol_totp(wendy))
    body = html.unescape(client.get("/welfare/?q=  deploy ").content.decode())
    assert "Vera Deploy" in body and "Samir Khan" not in body
    assert AuditEvent.objects.filter(action="welfare.consult_list", detail__search="deploy").exists()
    empty = html.unescape(client.get("/welfare/?q=nobody-like-this").content.decode())
    assert "No one whose name or e-mail contains “nobody-like-this”" in empty
