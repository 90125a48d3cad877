"""What every signed-in page asks about its person (roles, second factor, scheme, unread notices) is read with
the person in one query (portal.signed_in), and a change to any of it is seen at once: at the next request,
or later in the same request when the request itself made the change."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portal import roles
from portal.notifications import notify
from tests.conftest import enrol_totp, mfa_login

pytestmark = pytest.mark.django_db


def _queries(client, path: str) -> tuple[object, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    return response, [query["sql"] for query in captured.captured_queries]


def _text(response) -> str:
    """What a person reads: the page's words without markup (hidden words for screen readers included)."""
    return " ".join(re.sub(r"<[^>]+>", "", response.content.decode()).split())


def test_a_signed_in_page_reads_its_person_in_one_query(client, vera, owen):
    notify(user=vera, subject="Welcome", text="Hello.")
    client.force_login(vera)
    client.get("/accessibility/")
    response, queries = _queries(client, "/accessibility/")
    assert response.status_code == 200
    # The session's row, then the user's with her roles, factors and unread notices beside it.
    assert len(queries) == 2, "\n".join(queries)
    assert "django_session" in queries[0]
    assert "portal_user" in queries[1] and "auth_group" in queries[1] and "portal_notice" in queries[1]
    assert "Notices (1 unread)" in _text(response)

    client.logout()
    secret = enrol_totp(owen)
    mfa_login(client, owen, secret)
    client.get("/accessibility/")
    response, queries = _queries(client, "/accessibility/")
    assert response.status_code == 200
    assert len(queries) == 2, "\n".join(queries)  # MFA enforcement asked nothing more of the database


def test_a_role_removed_takes_effect_at_the_next_request(client, owen):
    from django.contrib.auth.models import Group

    mfa_login(client, owen, enrol_totp(owen))
    assert client.get("/admin/").status_code == 200
    owen.groups.remove(Group.objects.get(name=roles.OFFICER.code))
    page = client.get("/", follow=True)
    assert "Supervising officer" not in page.content.decode()
    assert client.get("/admin/evidence/exhibit/").status_code in {302, 403}


def test_only_a_role_s_own_group_grants_the_role(client, vera):
    """Roles are read from the person's group names joined into one text; a group an administrator named
    with a comma, or a role's name inside a longer one, must not read as that role."""
    from django.contrib.auth.models import Group

    for name in (f"former,{roles.WELFARE.code}", f"{roles.OFFICER.code} (acting)", f"{roles.WELFARE.code},"):
        vera.groups.add(Group.objects.create(name=name))
    client.force_login(vera)
    page = client.get("/")
    assert page.status_code == 200
    assert 'href="/welfare/"' not in page.content.decode()
    assert client.get("/welfare/").status_code == 403
    assert client.get("/admin/evidence/exhibit/").status_code in {302, 403}


def test_a_second_factor_removed_elsewhere_takes_effect_at_the_next_request(client, owen):
    from allauth.mfa.models import Authenticator

    mfa_login(client, owen, enrol_totp(owen))
    assert client.get("/admin/").status_code == 200
    Authenticator.objects.filter(user=owen).delete()
    assert client.get("/admin/")["Location"] == reverse("mfa_index")


def test_a_deactivated_person_is_signed_out_at_the_next_request(client, vera):
    client.force_login(vera)
    assert client.get("/").status_code == 200
    vera.is_active = False
    vera.save(update_fields=["is_active"])
    assert client.get("/")["Location"].startswith(reverse("account_login"))


def test_notices_read_on_the_notices_page_are_no_longer_counted_in_its_own_header(client, vera):
    for number in range(2):
        notify(user=vera, subject=f"Notice {number}", text="Something happened.")
    client.force_login(vera)
    assert "Notices (2 unread)" in _text(client.get("/accessibility/"))
    page = _text(client.get(reverse("notices")))
    assert "Notice 0" in page and "Notice 1" in page
    assert "unread)" not in page, "the header still counts the notices the page has just shown"
    assert "unread)" not in _text(client.get("/accessibility/"))
