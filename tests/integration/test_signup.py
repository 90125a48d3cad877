"""Public sign-up is closed: accounts come only from invitations."""

from portal.models import User


def test_the_signup_page_says_accounts_are_by_invitation(client, db):
    response = client.get("/accounts/signup/")
    assert response.status_code == 200
    assert b"invitation" in response.content.lower()
    assert b'name="password1"' not in response.content


def test_posting_a_signup_form_creates_nobody(client, db):
    client.post(
        "/accounts/signup/",
        {"email": "mallory@example.com", "password1": "a-long-password-123", "password2": "a-long-password-123"},
    )
    assert not User.objects.filter(email="mallory@example.com").exists()


def test_the_login_page_offers_no_signup_link(client, db):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b"/accounts/signup/" not in response.content


def test_a_short_password_is_refused(db):
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    try:
        validate_password("short-pass1")
    except ValidationError as exc:
        assert any("at least 12 characters" in message for message in exc.messages)
    else:
        raise AssertionError("an 11-character password was accepted")


def test_repeated_failed_logins_are_rate_limited(client, vera):
    for _ in range(5):
        client.post("/accounts/login/", {"login": vera.email, "password": "wrong-password-x"})
    response = client.post("/accounts/login/", {"login": vera.email, "password": "wrong-password-x"})
    assert b"Too many failed login attempts. Try again later." in response.content
