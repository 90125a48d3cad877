"""Privileged roles reach nothing — the admin included — until MFA is enrolled and proved."""

import pytest
from django.urls import reverse

from portal.models import AuditEvent
from tests.conftest import PASSWORD, enrol_totp, mfa_login, totp_code

PRIVILEGED = ["owen", "wendy", "carla", "ada", "root"]


def _password_login(client, user):
    return client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})


@pytest.mark.parametrize("persona", PRIVILEGED)
def test_a_privileged_user_without_mfa_is_sent_to_enrolment_from_everywhere(client, persona, request):
    user = request.getfixturevalue(persona)
    response = _password_login(client, user)
    assert response.status_code == 302
    for path in ["/", "/admin/", "/admin/portal/user/", "/accounts/password/change/"]:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == reverse("mfa_index"), path


@pytest.mark.parametrize("persona", PRIVILEGED)
def test_a_privileged_user_without_mfa_can_still_reach_enrolment_and_sign_out(client, persona, request):
    user = request.getfixturevalue(persona)
    _password_login(client, user)
    assert client.get(reverse("mfa_index")).status_code == 200
    response = client.post(reverse("account_logout"))
    assert response.status_code == 302
    assert client.get("/").status_code == 302  # signed out: back to the login page
    assert "/accounts/login/" in client.get("/")["Location"]


@pytest.mark.parametrize(
    ("persona", "landing"), [("owen", "/admin/"), ("wendy", "/welfare/"), ("ada", "/admin/"), ("root", "/admin/")]
)
def test_an_enrolled_privileged_user_signs_in_with_a_code_and_lands_where_their_work_is(
    client, persona, landing, request
):
    user = request.getfixturevalue(persona)
    secret = enrol_totp(user)
    response = _password_login(client, user)
    # The password alone opens nothing: allauth asks for the code first.
    assert response["Location"].startswith("/accounts/2fa/authenticate/")
    assert client.get("/admin/").status_code == 302
    response = client.post("/accounts/2fa/authenticate/", {"code": totp_code(secret)})
    assert response["Location"] == landing
    assert client.get(landing).status_code == 200


def test_a_wrong_code_is_refused_and_audited(client, owen):
    enrol_totp(owen)
    _password_login(client, owen)
    response = client.post("/accounts/2fa/authenticate/", {"code": "000000"})
    assert response.status_code == 200
    assert b"Incorrect code" in response.content
    assert client.get("/admin/").status_code == 302
    assert AuditEvent.objects.filter(action="mfa.failure", actor_email=owen.email, outcome="failure").exists()


def test_a_code_used_once_is_refused_the_second_time_with_what_to_do(client, owen):
    """Signing in on a second device with the code just used on the first: refused (a code works once), and
    the officer is told to wait for the next code rather than left to think they mistyped it."""
    from django.test import Client

    secret = enrol_totp(owen)
    code = totp_code(secret, margin=10)
    _password_login(client, owen)
    assert client.post("/accounts/2fa/authenticate/", {"code": code}).status_code == 302
    other = Client()
    _password_login(other, owen)
    response = other.post("/accounts/2fa/authenticate/", {"code": code})
    assert response.status_code == 200
    assert "Each code works only once: if you have just used this one, wait for the app to show the next." in (
        response.content.decode()
    )
    assert other.get("/admin/").status_code == 302


def test_an_enrolled_court_recipient_reaches_their_inbox_after_the_code(client, carla):
    secret = enrol_totp(carla)
    mfa_login(client, carla, secret)
    response = client.get("/", follow=True)
    assert response.status_code == 200
    assert b"Bundles shared with you" in response.content


def test_a_session_that_never_proved_mfa_must_confirm_it_first(client, owen):
    """E.g. signed in before enrolling, or through any path that skipped the second factor."""
    secret = enrol_totp(owen)
    client.force_login(owen)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("mfa_reauthenticate"))
    response = client.post(response["Location"], {"code": totp_code(secret)})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_the_admins_own_login_form_is_not_a_way_round_mfa(client, owen):
    enrol_totp(owen)
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    response = client.post("/admin/login/", {"username": owen.email, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 302


def test_a_volunteer_needs_no_mfa_and_sees_the_dashboard(client, vera):
    response = _password_login(client, vera)
    assert response["Location"] == "/"
    response = client.get("/")
    assert response.status_code == 200
    assert b"Your dashboard" in response.content


def test_a_volunteer_cannot_enter_the_admin(client, vera):
    _password_login(client, vera)
    response = client.get("/admin/", follow=True)
    assert response.status_code == 403
    assert b"does not give access to the officer admin" in response.content


def test_reauthentication_is_available_for_sensitive_actions(client, vera):
    _password_login(client, vera)
    response = client.get(reverse("account_reauthenticate"))
    assert response.status_code == 200
    response = client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    assert response.status_code == 302


def test_enrolling_and_removing_an_authenticator_app_is_audited_and_then_required(
    client, owen, django_capture_on_commit_callbacks
):
    from allauth.mfa.models import Authenticator

    _password_login(client, owen)
    page = client.get(reverse("mfa_activate_totp"), follow=True)
    if page.redirect_chain:  # a sensitive action: allauth asks for the password again first
        assert page.redirect_chain[-1][0].startswith(reverse("account_reauthenticate"))
        client.post(page.redirect_chain[-1][0], {"password": PASSWORD})
        page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    secret = client.session["mfa.totp.secret"]
    with django_capture_on_commit_callbacks(execute=True):  # allauth signals enrolment on commit
        response = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})
    assert response.status_code == 302
    assert Authenticator.objects.filter(user=owen, type="totp").exists()
    assert AuditEvent.objects.filter(action="mfa.enrol", actor_email=owen.email, detail__type="totp").exists()

    # Enrolling proved the code there and then: the session counts as having used it, with no second prompt.
    assert client.get("/admin/").status_code == 200

    # Removing it is sensitive: allauth asks to confirm it is you first.
    assert client.post(reverse("mfa_deactivate_totp"))["Location"].startswith(reverse("account_reauthenticate"))
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("mfa_deactivate_totp"))
    assert AuditEvent.objects.filter(action="mfa.remove", actor_email=owen.email).exists()
    # Without a factor the officer is back to enrolment.
    assert client.get("/admin/")["Location"] == reverse("mfa_index")
