"""Audit rows about welfare name whom they are about, and show their detail, only to welfare staff: a scheme
administrator reading the audit log learns that welfare staff consulted or recorded something, and when,
but not about whom."""

import html

import pytest

from portal import roles
from portal.models import AuditEvent
from tests.conftest import enrol_totp, make_person, mfa_login, screen

WITHHELD = "Withheld: welfare record"


@pytest.fixture
def welfare_history(client, wendy, deployable_vera, conduct):
    """Wendy screens Vera and reads the welfare console, which lists Vera."""
    record = screen(deployable_vera.user, wendy, notes="Disclosed a bereavement.")
    mfa_login(client, wendy, enrol_totp(wendy))
    assert client.get("/welfare/?show=all").status_code == 200
    client.logout()
    consult = AuditEvent.objects.filter(action="welfare.consult_list").latest("id")
    assert deployable_vera.user.pk in consult.detail["people"]
    screening = AuditEvent.objects.filter(action="welfare.screening_record", object_id=str(record.pk)).get()
    return consult, screening


def _page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return html.unescape(response.content.decode())


def test_the_administrator_sees_that_welfare_acted_but_not_on_whom(client, ada, welfare_history, deployable_vera):
    consult, screening = welfare_history
    mfa_login(client, ada, enrol_totp(ada))
    listing = _page(client, "/admin/portal/auditevent/?action__exact=welfare.screening_record")
    assert "welfare.screening_record" in listing and WITHHELD in listing
    for event, detail in ((consult, '"people"'), (screening, "pre_deployment")):
        page = _page(client, f"/admin/portal/auditevent/{event.pk}/change/")
        assert event.action in page and WITHHELD in page
        assert detail not in page


def test_searching_the_audit_log_by_object_id_does_not_find_welfare_rows(client, ada, welfare_history):
    _, screening = welfare_history
    mfa_login(client, ada, enrol_totp(ada))
    listing = _page(client, f"/admin/portal/auditevent/?q={screening.object_id}")
    assert f'href="/admin/portal/auditevent/{screening.pk}/change/' not in listing


def test_other_audit_rows_keep_their_detail_for_the_administrator(client, ada, owen, assigned_vera, tasking):
    mfa_login(client, ada, enrol_totp(ada))
    event = AuditEvent.objects.filter(action="evidence.assign").latest("id")
    page = _page(client, f"/admin/portal/auditevent/{event.pk}/change/")
    assert WITHHELD not in page and f'"volunteer": {assigned_vera.user.pk}' in page
    assert page.count("Detail:") == 1 and page.count("Object ID:") == 1


def test_a_welfare_officer_who_may_read_the_audit_log_sees_the_detail(client, lantern, welfare_history):
    consult, screening = welfare_history
    both = make_person("walt@lantern.example", roles.SCHEME_ADMIN, lantern)
    from portal.accounts import user_set_roles

    user_set_roles(user=both, role_codes=[roles.SCHEME_ADMIN.code, roles.WELFARE.code], by=None)
    mfa_login(client, both, enrol_totp(both))
    page = _page(client, f"/admin/portal/auditevent/{consult.pk}/change/")
    assert WITHHELD not in page and '"people"' in page
    listing = _page(client, f"/admin/portal/auditevent/?q={screening.object_id}")
    assert f"/admin/portal/auditevent/{screening.pk}/change/" in listing
