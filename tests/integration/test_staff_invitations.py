"""Every staff account starts from an e-mailed, single-use, expiring link: adding a person in the admin sends
it; choosing a password through it proves the address, signs them in and leads straight into MFA set-up.

Ada administers Lantern; Hana administers Harbour; Root is a platform superuser; Owen is an officer (who may
not invite); Vera is a volunteer whose address is taken.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.contrib.messages import get_messages
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal import roles
from portal.models import AuditEvent, StaffInvitation, User
from tests.conftest import PASSWORD, enrol_totp, make_person, mfa_login, totp_code

NEW_PASSWORD = "a-long-and-unusual-passphrase"
LINK = re.compile(r"https?://[^\s]+/staff-invitations/[^\s/]+/")


@pytest.fixture
def hana(harbour):
    return make_person("hana@harbour.example", roles.SCHEME_ADMIN, harbour)


def _signed_in(client, user):
    mfa_login(client, user, enrol_totp(user))
    return client


def _add_person(client, captured, **fields):
    """Add a person in the admin as whoever `client` is signed in as; returns the response."""
    data = {"email": "nina@lantern.example", "full_name": "Nina Newcomer", "roles": ["supervising_officer"]}
    data.update(fields)
    mail.outbox.clear()
    with captured(execute=True):
        return client.post("/admin/portal/user/add/", data)


def _link_from_outbox(address: str) -> str:
    sent = [message for message in mail.outbox if message.to == [address]]
    assert len(sent) == 1, [m.subject for m in mail.outbox]
    return LINK.search(sent[0].body).group(0)


def _path(link: str) -> str:
    return "/" + link.split("/", 3)[3]


@pytest.fixture
def invited(client, ada, django_capture_on_commit_callbacks):
    """Ada adds Nina, an officer of Lantern, and stays signed in (`client`): Nina's link."""
    response = _add_person(_signed_in(client, ada), django_capture_on_commit_callbacks, scheme=ada.scheme_id)
    assert response.status_code == 302, response.content[:2000]
    return _path(_link_from_outbox("nina@lantern.example"))


@pytest.fixture
def newcomer():
    """Nina's own browser."""
    return Client()


def test_adding_an_officer_creates_the_account_without_a_password_and_emails_a_single_use_link(
    client, ada, django_capture_on_commit_callbacks
):
    response = _add_person(_signed_in(client, ada), django_capture_on_commit_callbacks, scheme=ada.scheme_id)
    assert response.status_code == 302
    nina = User.objects.get(email="nina@lantern.example")
    assert not nina.has_usable_password() and nina.is_active and nina.scheme_id == ada.scheme_id
    assert roles.roles_of(nina) == [roles.OFFICER]

    message = mail.outbox[-1]
    assert message.to == ["nina@lantern.example"]
    assert "works once" in message.body and "authenticator app" in message.body
    assert "Supervising officer, Lantern Partnership" in message.body
    token = _link_from_outbox("nina@lantern.example").rstrip("/").rsplit("/", 1)[1]
    invitation = StaffInvitation.objects.get(user=nina)
    assert token not in invitation.token_hash  # only the hash is kept
    assert invitation.expires_at - invitation.created_at == timedelta(days=7)

    sent = AuditEvent.objects.get(action="staff_invitation.send", detail__user=nina.pk)
    assert sent.actor_email == ada.email and sent.scheme_id == ada.scheme_id
    banner = [str(m) for m in get_messages(response.wsgi_request)]
    assert banner == [
        "Added Nina Newcomer. We have emailed nina@lantern.example a link to choose a password; it works once, "
        f"until {timezone.localtime(invitation.expires_at):%-d %B %Y, %H:%M}."
    ]


def test_the_link_shows_who_invited_them_and_for_what(newcomer, invited, ada):
    page = newcomer.get(invited).content.decode()
    assert "Set up your account" in page
    assert "nina@lantern.example" in page and "Supervising officer" in page and "Lantern Partnership" in page
    assert ada.email in page


def test_choosing_a_password_proves_the_address_signs_them_in_and_leads_to_mfa_set_up(newcomer, invited):
    response = newcomer.post(invited, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("mfa_index")
    nina = User.objects.get(email="nina@lantern.example")
    assert nina.check_password(NEW_PASSWORD)
    address = EmailAddress.objects.get(user=nina)
    assert address.verified and address.primary and address.email == nina.email
    assert StaffInvitation.objects.get(user=nina).used_at is not None
    assert AuditEvent.objects.filter(action="staff_invitation.accept", actor_email=nina.email).exists()
    assert AuditEvent.objects.filter(action="auth.login", actor_email=nina.email).exists()

    # One banner on the set-up page: what happened and what to do next.
    page = newcomer.get(reverse("mfa_index"))
    assert [str(m) for m in page.context["messages"]] == [
        "Your password is set and your email address is confirmed. Now set up a second way to sign in: choose "
        "an authenticator app or a security key below."
    ]


def test_mfa_set_up_follows_with_no_second_password_prompt_and_no_second_code(newcomer, invited):
    newcomer.post(invited, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    newcomer.get(reverse("mfa_index"))

    page = newcomer.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200, page.get("Location")  # not "Confirm it's you", not "verify your email"
    secret = newcomer.session["mfa.totp.secret"]
    response = newcomer.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})
    assert response.status_code == 302 and response["Location"] == reverse("mfa_view_recovery_codes")
    nina = User.objects.get(email="nina@lantern.example")
    assert Authenticator.objects.filter(user=nina, type="totp").exists()

    assert newcomer.get(reverse("mfa_view_recovery_codes")).status_code == 200
    # The code just given at set-up proved the second factor: their work opens without another prompt.
    assert newcomer.get("/admin/portal/user/").status_code == 200


def test_the_security_key_page_opens_too(newcomer, invited):
    newcomer.post(invited, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    page = newcomer.get(reverse("mfa_add_webauthn"))
    assert page.status_code == 200
    assert b"verified your email" not in page.content


def test_a_used_link_no_longer_works(newcomer, invited):
    newcomer.post(invited, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    newcomer.post(reverse("account_logout"))
    for response in (newcomer.get(invited), newcomer.post(invited, {"password1": "x" * 20, "password2": "x" * 20})):
        assert response.status_code == 410
        assert b"already been used" in response.content
    assert User.objects.get(email="nina@lantern.example").check_password(NEW_PASSWORD)


def test_an_expired_link_no_longer_works(newcomer, invited):
    with time_machine.travel(timezone.now() + timedelta(days=7, minutes=1)):
        response = newcomer.get(invited)
        assert response.status_code == 410 and b"has expired" in response.content
        response = newcomer.post(invited, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
        assert response.status_code == 410
    assert not User.objects.get(email="nina@lantern.example").has_usable_password()


def test_an_unknown_or_altered_link_is_not_found(newcomer, invited):
    assert newcomer.get(invited[:-5] + "xxxx/").status_code == 404
    assert newcomer.get("/staff-invitations/%E2%80%AE/").status_code == 404


def test_a_weak_or_mismatched_password_is_refused_in_plain_words_and_the_link_still_works(newcomer, invited):
    response = newcomer.post(invited, {"password1": "short", "password2": "short"})
    assert response.status_code == 200
    assert "This password is too short" in response.content.decode()
    response = newcomer.post(invited, {"password1": "nina@lantern.example", "password2": "nina@lantern.example"})
    assert "too similar" in response.content.decode()
    response = newcomer.post(invited, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD + "!"})
    assert "The passwords do not match" in response.content.decode()
    response = newcomer.post(invited, {"password1": "", "password2": ""})
    assert "Create a password" in response.content.decode()
    assert "This field is required" not in response.content.decode()
    assert not User.objects.get(email="nina@lantern.example").has_usable_password()
    assert newcomer.post(invited, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}).status_code == 302


def test_a_resent_link_replaces_the_old_one(client, newcomer, invited, django_capture_on_commit_callbacks):
    nina = User.objects.get(email="nina@lantern.example")
    url = reverse("admin:portal_user_invitation_send", args=[nina.pk])
    assert b"The link sent before will stop working at once" in client.get(url).content
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url)
    assert response.status_code == 302
    new_link = _path(_link_from_outbox(nina.email))
    assert new_link != invited

    response = newcomer.get(invited)
    assert response.status_code == 410 and b"no longer works" in response.content
    assert newcomer.post(new_link, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}).status_code == 302
    first = StaffInvitation.objects.filter(user=nina).order_by("id").first()
    sends = AuditEvent.objects.filter(action="staff_invitation.send", detail__user=nina.pk).order_by("id")
    assert sends.count() == 2 and sends.last().detail["replaces"] == [first.pk]


def test_a_withdrawn_invitation_stops_the_link_and_the_account(
    client, newcomer, ada, invited, django_capture_on_commit_callbacks
):
    nina = User.objects.get(email="nina@lantern.example")
    url = reverse("admin:portal_user_invitation_revoke", args=[nina.pk])
    assert b"will stop working" in client.get(url).content
    assert client.post(url).status_code == 302
    nina.refresh_from_db()
    assert not nina.is_active
    revoked = AuditEvent.objects.get(action="staff_invitation.revoke", object_id=str(nina.pk))
    assert revoked.actor_email == ada.email

    assert newcomer.get(invited).status_code == 410
    # Nor can "Forgot your password?" open the withdrawn account.
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        newcomer.post(reverse("account_reset_password"), {"email": nina.email})
    assert all("password/reset/key" not in m.body for m in mail.outbox)

    # Inviting again gives the account back, with a new link.
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:portal_user_invitation_send", args=[nina.pk]))
    nina.refresh_from_db()
    assert nina.is_active and len(mail.outbox) == 1


def test_changing_the_address_after_sending_stops_the_old_link(newcomer, invited):
    User.objects.filter(email="nina@lantern.example").update(email="nina.n@lantern.example")
    assert newcomer.get(invited).status_code == 410


def test_resending_is_refused_once_they_have_a_password(client, newcomer, invited):
    newcomer.post(invited, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    nina = User.objects.get(email="nina@lantern.example")
    response = client.post(reverse("admin:portal_user_invitation_send", args=[nina.pk]))
    assert response.status_code == 302
    assert StaffInvitation.objects.filter(user=nina).count() == 1
    change = client.get(reverse("admin:portal_user_change", args=[nina.pk])).content.decode()
    assert "Accepted on" in change and "Send a new invitation link" not in change


def test_a_scheme_administrator_cannot_invite_into_another_scheme(
    client, ada, harbour, django_capture_on_commit_callbacks
):
    response = _add_person(_signed_in(client, ada), django_capture_on_commit_callbacks, scheme=harbour.pk)
    assert response.status_code == 200
    assert not User.objects.filter(email="nina@lantern.example").exists()
    assert mail.outbox == []


def test_the_service_refuses_a_scheme_administrator_another_schemes_person(ada, otto):
    from portal.accounts import staff_invitation_send

    otto.set_unusable_password()
    otto.save()
    with pytest.raises(PermissionDenied, match="your own scheme"):
        staff_invitation_send(user=otto, by=ada)


def test_a_scheme_administrator_cannot_invite_a_court_user(client, ada, django_capture_on_commit_callbacks):
    response = _add_person(
        _signed_in(client, ada), django_capture_on_commit_callbacks, scheme=ada.scheme_id, roles=["court_recipient"]
    )
    assert response.status_code == 200
    assert not User.objects.filter(email="nina@lantern.example").exists() and mail.outbox == []


def test_the_service_refuses_a_scheme_administrator_a_court_user(ada, carla):
    from portal.accounts import staff_invitation_send

    carla.set_unusable_password()
    carla.save()
    with pytest.raises(PermissionDenied, match="court or CPS"):
        staff_invitation_send(user=carla, by=ada)


def test_volunteers_are_not_added_here_but_pointed_to_the_volunteer_invitation(
    client, ada, django_capture_on_commit_callbacks
):
    page = _signed_in(client, ada).get("/admin/portal/user/add/").content.decode()
    assert 'value="volunteer"' not in page
    assert "To add a volunteer, send a volunteer invitation instead" in page
    response = _add_person(client, django_capture_on_commit_callbacks, scheme=ada.scheme_id, roles=["volunteer"])
    assert response.status_code == 200
    assert not User.objects.filter(email="nina@lantern.example").exists() and mail.outbox == []


def test_a_volunteers_address_cannot_be_invited_as_staff(client, ada, vera, django_capture_on_commit_callbacks):
    response = _add_person(
        _signed_in(client, ada), django_capture_on_commit_callbacks, scheme=ada.scheme_id, email=vera.email.upper()
    )
    assert response.status_code == 200
    assert "Another account already uses this e-mail address" in response.content.decode()
    vera.refresh_from_db()
    assert vera.check_password(PASSWORD) and roles.roles_of(vera) == [roles.VOLUNTEER]
    assert not StaffInvitation.objects.exists() and mail.outbox == []


def test_a_volunteers_account_cannot_be_sent_a_staff_invitation(ada, vera):
    from portal.accounts import staff_invitation_send

    with pytest.raises(PermissionDenied, match="volunteer invitation"):
        staff_invitation_send(user=vera, by=ada)


def test_an_officer_cannot_send_or_withdraw_invitations(owen, invited):
    nina = User.objects.get(email="nina@lantern.example")
    client = _signed_in(Client(), owen)
    page = client.get(reverse("admin:portal_user_change", args=[nina.pk]))  # officers may read people
    assert page.status_code == 200 and b"Send a new invitation link" not in page.content
    for action in ("send", "revoke"):
        url = reverse(f"admin:portal_user_invitation_{action}", args=[nina.pk])
        assert client.get(url).status_code == 403
        assert client.post(url).status_code == 403
    assert StaffInvitation.objects.filter(user=nina).count() == 1


def test_another_schemes_administrator_cannot_find_the_person(hana, invited):
    nina = User.objects.get(email="nina@lantern.example")
    client = _signed_in(Client(), hana)
    for action in ("send", "revoke"):
        assert client.post(reverse(f"admin:portal_user_invitation_{action}", args=[nina.pk])).status_code == 404
    assert StaffInvitation.objects.get(user=nina).revoked_at is None


def test_a_platform_superuser_invites_a_court_recipient_who_lands_in_their_inbox(
    client, root, django_capture_on_commit_callbacks
):
    signed_in = _signed_in(client, root)
    fields = {"email": "cara@cps.example", "full_name": "Cara Crown", "roles": ["court_recipient"]}
    response = _add_person(signed_in, django_capture_on_commit_callbacks, **fields)
    # A court / CPS recipient is recorded as receiving bundles for a court, the defence or the CPS.
    assert "Choose whether they receive bundles for a court, the defence or the CPS" in response.content.decode()
    assert not User.objects.filter(email="cara@cps.example").exists()
    response = _add_person(signed_in, django_capture_on_commit_callbacks, **fields, recipient_kind="cps")
    assert response.status_code == 302
    assert User.objects.get(email="cara@cps.example").recipient_kind == "cps"
    link = _path(_link_from_outbox("cara@cps.example"))
    client = Client()
    assert client.post(link, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})["Location"] == reverse("mfa_index")
    client.get(reverse("mfa_activate_totp"))
    client.post(reverse("mfa_activate_totp"), {"code": totp_code(client.session["mfa.totp.secret"])})
    assert client.get("/", follow=True).redirect_chain[-1][0] == reverse("bundle_inbox")


def test_the_link_asks_someone_signed_in_as_another_person_to_sign_out_first(vera, invited):
    client = Client()
    client.post("/accounts/login/", {"login": vera.email, "password": PASSWORD})
    page = client.get(invited)
    assert page.status_code == 200 and b"Sign out to use this invitation" in page.content
    client.post(invited, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert not User.objects.get(email="nina@lantern.example").has_usable_password()
    response = client.post(reverse("account_logout"), {"next": invited})
    assert response["Location"] == invited


def test_forgot_your_password_proves_the_address_so_mfa_can_be_set_up(client, ada, django_capture_on_commit_callbacks):
    """An account whose address was never proved (made before invitations, or by a reset request) is not
    stuck: completing a password reset proves the address."""
    stuck = User.objects.create_user(email="sam@lantern.example", scheme=ada.scheme)
    from portal.accounts import user_set_roles

    user_set_roles(user=stuck, role_codes=[roles.OFFICER.code])
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("account_reset_password"), {"email": stuck.email})
    assert not EmailAddress.objects.get(user=stuck).verified  # allauth's record of the request, unproved
    key_link = re.search(r"http://testserver(/accounts/password/reset/key/\S+/)", mail.outbox[-1].body).group(1)
    form_url = client.get(key_link)["Location"]
    client.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    address = EmailAddress.objects.get(user=stuck)
    assert address.verified and address.primary

    response = client.post("/accounts/login/", {"login": stuck.email, "password": NEW_PASSWORD})
    assert response.status_code == 302
    # Setting up MFA seconds after signing in asks for no password again, and is not refused.
    assert client.get(reverse("mfa_activate_totp")).status_code == 200
    assert client.get(reverse("mfa_add_webauthn")).status_code == 200


def test_a_reset_uses_up_a_waiting_invitation(newcomer, invited, django_capture_on_commit_callbacks):
    client = newcomer
    nina = User.objects.get(email="nina@lantern.example")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("account_reset_password"), {"email": nina.email})
    key_link = re.search(r"http://testserver(/accounts/password/reset/key/\S+/)", mail.outbox[-1].body).group(1)
    client.post(client.get(key_link)["Location"], {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    response = client.get(invited)
    assert response.status_code == 410 and b"already been used" in response.content


def test_adding_another_mfa_factor_later_still_asks_for_the_password(client, owen):
    """Only the first factor, straight after signing in, skips the prompt."""
    secret = enrol_totp(owen)
    mfa_login(client, owen, secret)
    response = client.get(reverse("mfa_add_webauthn"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_reauthenticate"))


def test_the_first_factor_long_after_signing_in_still_asks_for_the_password(client, owen):
    client.post("/accounts/login/", {"login": owen.email, "password": PASSWORD})
    with time_machine.travel(timezone.now() + timedelta(minutes=10)):
        response = client.get(reverse("mfa_activate_totp"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_reauthenticate"))


def test_a_privileged_person_signing_in_without_mfa_sees_one_banner(client, owen):
    client.post("/accounts/login/", {"login": owen.email, "password": PASSWORD})
    for path in ("/", "/admin/", "/welfare/"):
        client.get(path)
    page = client.get(reverse("mfa_index"))
    assert [str(m) for m in page.context["messages"]] == [
        "Your role requires multi-factor authentication. Set up an authenticator app or a security key before you "
        "continue."
    ]


def test_the_person_page_shows_the_invitation_and_its_actions(client, invited):
    nina = User.objects.get(email="nina@lantern.example")
    page = client.get(reverse("admin:portal_user_change", args=[nina.pk])).content.decode()
    assert "Sent to nina@lantern.example on" in page
    assert "Send a new invitation link" in page and "Withdraw the invitation" in page
    listing = client.get("/admin/portal/user/").content.decode()
    assert "Invited" in listing


def test_an_unproved_old_address_does_not_block_mfa_once_the_current_one_is_proved(newcomer, invited):
    nina = User.objects.get(email="nina@lantern.example")
    EmailAddress.objects.create(user=nina, email="nina.old@lantern.example", verified=False, primary=False)
    newcomer.post(invited, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert list(EmailAddress.objects.filter(user=nina).values_list("email", "verified", "primary")) == [
        ("nina@lantern.example", True, True)
    ]
    assert newcomer.get(reverse("mfa_activate_totp")).status_code == 200


def test_a_completed_reset_says_so_once(client, vera, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("account_reset_password"), {"email": vera.email})
    key_link = re.search(r"http://testserver(/accounts/password/reset/key/\S+/)", mail.outbox[-1].body).group(1)
    response = client.post(client.get(key_link)["Location"], {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    done = client.get(response["Location"])
    assert b"Your password has been changed" in done.content
    assert b"govuk-notification-banner" not in done.content
    assert list(client.get(reverse("account_login")).context["messages"]) == []  # not carried to the next page
