"""Invitations: single-use, expiring, bound to a scheme; bad links get a clear page, not an error."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from portal import roles
from portal.models import AuditEvent, User
from tests.conftest import PASSWORD
from volunteers.models import Invitation, Volunteer
from volunteers.services import InvitationUnusable, invitation_accept, invitation_create, invitation_send


def _date(name: str, iso: str) -> dict:
    """A date as the GOV.UK date input posts it: Day, Month and Year boxes, <name>_0, _1 and _2."""
    year, month, day = iso.split("-")
    return {f"{name}_0": day, f"{name}_1": month, f"{name}_2": year}


def _form(date_of_birth="1991-05-04", current_address_since="2019-02-01", **overrides):
    data = {
        "full_name": "Ina Invitee",
        **_date("date_of_birth", date_of_birth),
        "phone": "07700 900456",
        "current_address": "2 Low Road, Anytown",
        **_date("current_address_since", current_address_since),
        "previous_addresses": "9 Old Lane, Elsewhere (2014 to 2019)",
        "password1": "a-long-and-unusual-passphrase",
        "password2": "a-long-and-unusual-passphrase",
        "accept_conduct": "on",
    }
    data.update(overrides)
    return data


@pytest.fixture
def invitation(lantern, owen, conduct):
    invitation, token = invitation_create(scheme=lantern, email="Ina@Example.org", full_name="Ina", by=owen)
    return invitation, token


def test_accepting_creates_an_applicant_in_the_inviting_scheme(client, invitation, conduct):
    invite, token = invitation
    response = client.post(f"/invitations/{token}/", _form())
    assert response.status_code == 302 and response["Location"] == "/"
    user = User.objects.get(email="ina@example.org")
    assert user.scheme == invite.scheme and roles.roles_of(user) == [roles.VOLUNTEER]
    volunteer = Volunteer.objects.get(user=user)
    assert volunteer.status == "applicant"
    assert volunteer.address_history[0]["address"] == "2 Low Road, Anytown"
    assert conduct.acceptances.filter(user=user).exists()
    assert AuditEvent.objects.filter(action="invitation.accept", actor_id=user.pk).exists()


def test_a_used_link_gets_a_clear_page(client, invitation):
    _, token = invitation
    client.post(f"/invitations/{token}/", _form())
    client.logout()
    response = client.get(f"/invitations/{token}/")
    assert response.status_code == 410
    assert b"already been used" in response.content


def test_replaying_the_form_creates_nothing_more(client, invitation):
    _, token = invitation
    client.post(f"/invitations/{token}/", _form())
    client.logout()
    response = client.post(f"/invitations/{token}/", _form(full_name="Someone Else"))
    assert response.status_code == 410
    assert User.objects.filter(email="ina@example.org").count() == 1
    assert User.objects.get(email="ina@example.org").full_name == "Ina Invitee"


def test_an_expired_link_gets_a_clear_page(client, invitation):
    invite, token = invitation
    Invitation.objects.filter(pk=invite.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    response = client.get(f"/invitations/{token}/")
    assert response.status_code == 410 and b"expired" in response.content


def test_a_tampered_link_gets_a_clear_page(client, invitation):
    _, token = invitation
    response = client.get(f"/invitations/{token[:-2]}xx/")
    assert response.status_code == 404 and b"does not work" in response.content


def test_a_second_invitation_replaces_the_first(client, invitation, lantern, owen):
    _, old_token = invitation
    _, new_token = invitation_create(scheme=lantern, email="ina@example.org", by=owen)
    assert b"replaced" in client.get(f"/invitations/{old_token}/").content
    assert client.get(f"/invitations/{new_token}/").status_code == 200


def test_an_existing_account_cannot_be_invited(lantern, owen, vera):
    with pytest.raises(Exception, match="already has an account"):
        invitation_create(scheme=lantern, email=vera.email, by=owen)


def test_the_form_keeps_what_was_typed_and_says_what_is_wrong(client, invitation):
    _, token = invitation
    response = client.post(
        f"/invitations/{token}/", _form(password2="different-passphrase", date_of_birth="2015-01-01")
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "The passwords do not match." in body
    assert "Volunteers must be 18 or over." in body
    assert "2 Low Road, Anytown" in body
    assert not User.objects.filter(email="ina@example.org").exists()


def test_dates_are_day_month_and_year_boxes_and_an_incomplete_one_says_what_is_missing(client, invitation):
    _, token = invitation
    body = client.get(f"/invitations/{token}/").content.decode()
    assert '<legend class="govuk-fieldset__legend govuk-fieldset__legend--s">Date of birth</legend>' in body
    assert 'id="id_date_of_birth_0" name="date_of_birth_0" type="text" inputmode="numeric"' in body
    assert 'autocomplete="bday-day"' in body and 'autocomplete="bday-year"' in body
    assert "For example, 27 3 1990." in body
    assert 'type="date"' not in body

    data = _form()
    data["date_of_birth_1"] = ""
    response = client.post(f"/invitations/{token}/", data)
    assert response.status_code == 200
    body = response.content.decode()
    assert '<a href="#id_date_of_birth_0">Date of birth must include a month</a>' in body
    assert 'name="date_of_birth_0" type="text" inputmode="numeric" value="04"' in body
    assert 'name="date_of_birth_2" type="text" inputmode="numeric" value="1991"' in body
    assert 'govuk-input--width-2 govuk-input--error" id="id_date_of_birth_1"' in body
    assert 'govuk-input--width-2" id="id_date_of_birth_0"' in body
    assert not User.objects.filter(email="ina@example.org").exists()


def test_a_short_password_is_refused(client, invitation):
    _, token = invitation
    response = client.post(f"/invitations/{token}/", _form(password1="short", password2="short"))
    assert b"at least 12 characters" in response.content


def test_only_the_token_hash_is_stored_and_the_email_carries_the_link(
    lantern, owen, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        invite, token = invitation_create(scheme=lantern, email="new@example.org", by=owen)
        invitation_send(invitation=invite, accept_url=f"https://portal.example/invitations/{token}/")
    assert token not in invite.token_hash
    assert mail.outbox[0].to == ["new@example.org"]
    assert f"/invitations/{token}/" in mail.outbox[0].body


def test_the_service_refuses_a_used_token(invitation):
    _, token = invitation
    from datetime import date

    kwargs = dict(
        token=token,
        full_name="A",
        password=PASSWORD,
        date_of_birth=date(1990, 1, 1),
        phone="1",
        address_history=[],
        accept_conduct_version=1,
    )
    invitation_accept(**kwargs)
    with pytest.raises(InvitationUnusable):
        invitation_accept(**kwargs)


def test_an_officer_invites_from_the_admin(lantern, owen, client, django_capture_on_commit_callbacks):
    from tests.conftest import enrol_totp, mfa_login

    mfa_login(client, owen, enrol_totp(owen))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/admin/volunteers/invitation/add/", {"email": "cand@example.org", "full_name": "Cand"})
    assert response.status_code == 302
    invite = Invitation.objects.get(email="cand@example.org")
    assert invite.scheme == lantern and invite.created_by == owen
    assert "http://testserver/invitations/" in mail.outbox[0].body
