"""The admin shows each person their own scheme only, audits every change, and keeps guardian's
object-permission pages for platform superusers."""

import pytest
from django.core import mail

from portal import roles
from portal.models import AuditEvent, User
from tests.conftest import enrol_totp, make_person, mfa_login


@pytest.fixture
def signed_in(client):
    def sign_in(user):
        mfa_login(client, user, enrol_totp(user))
        return client

    return sign_in


def test_a_scheme_administrator_lists_only_their_schemes_people(signed_in, ada, vera, otto):
    client = signed_in(ada)
    body = client.get("/admin/portal/user/").content.decode()
    assert vera.email in body
    assert otto.email not in body


def test_another_schemes_person_is_not_found_rather_than_forbidden(signed_in, ada, otto):
    client = signed_in(ada)
    response = client.get(f"/admin/portal/user/{otto.pk}/change/")
    # The admin answers "does not exist" (a redirect with that message), never "exists but not yours".
    assert response.status_code == 302
    assert User.objects.filter(pk=otto.pk).exists()


def test_an_officer_cannot_change_roles(signed_in, owen, vera):
    client = signed_in(owen)
    response = client.post(
        f"/admin/portal/user/{vera.pk}/change/",
        {"email": vera.email, "full_name": "x", "is_active": "on", "roles": ["scheme_administrator"]},
    )
    assert response.status_code == 403
    assert roles.roles_of(User.objects.get(pk=vera.pk)) == [roles.VOLUNTEER]


def test_a_scheme_administrator_adds_a_person_to_their_own_scheme_and_it_is_audited(signed_in, ada, harbour):
    client = signed_in(ada)
    response = client.post(
        "/admin/portal/user/add/",
        {
            "email": "Newbie@Lantern.example",
            "full_name": "New Officer",
            "scheme": harbour.pk,  # tampered: not a choice she is offered
            "is_active": "on",
            "roles": ["supervising_officer"],
        },
    )
    assert response.status_code == 200
    assert b"Select a valid choice" in response.content
    assert not User.objects.filter(email="newbie@lantern.example").exists()

    response = client.post(
        "/admin/portal/user/add/",
        {
            "email": "Newbie@Lantern.example",
            "full_name": "New Officer",
            "scheme": ada.scheme_id,
            "is_active": "on",
            "roles": ["supervising_officer"],
        },
    )
    assert response.status_code == 302
    newbie = User.objects.get(email="newbie@lantern.example")
    assert newbie.scheme_id == ada.scheme_id
    assert not newbie.has_usable_password()
    assert roles.roles_of(newbie) == [roles.OFFICER]
    actions = set(AuditEvent.objects.filter(object_id=str(newbie.pk)).values_list("action", flat=True))
    assert {"admin.add", "role.grant"} <= actions
    assert AuditEvent.objects.filter(action="staff_invitation.send", detail__user=newbie.pk).exists()


def test_a_scheme_administrator_cannot_make_a_court_recipient(signed_in, ada):
    client = signed_in(ada)
    response = client.post(
        "/admin/portal/user/add/",
        {
            "email": "c@x.example",
            "full_name": "C",
            "scheme": ada.scheme_id,
            "is_active": "on",
            "roles": ["court_recipient"],
        },
    )
    assert response.status_code == 200
    assert not User.objects.filter(email="c@x.example").exists()


def test_granting_the_welfare_role_notifies_existing_welfare_officers_and_is_audited(
    signed_in, ada, wendy, vera, django_capture_on_commit_callbacks
):
    client = signed_in(ada)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/admin/portal/user/{vera.pk}/change/",
            {
                "email": vera.email,
                "full_name": vera.full_name,
                "scheme": ada.scheme_id,
                "is_active": "on",
                "roles": ["welfare_officer"],
            },
        )
    assert response.status_code == 302
    assert [m.to for m in mail.outbox] == [[wendy.email]]
    assert "welfare officer role" in mail.outbox[0].body
    grant = AuditEvent.objects.get(action="role.grant", object_id=str(vera.pk), detail__role="welfare_officer")
    assert grant.actor_email == ada.email
    assert AuditEvent.objects.filter(action="role.revoke", object_id=str(vera.pk), detail__role="volunteer").exists()


def test_people_are_never_deleted_from_the_admin(signed_in, root, vera):
    client = signed_in(root)
    response = client.post(f"/admin/portal/user/{vera.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert User.objects.filter(pk=vera.pk).exists()


def test_the_audit_log_is_read_only_and_reading_it_is_itself_audited(signed_in, ada, otto):
    client = signed_in(ada)
    response = client.get("/admin/portal/auditevent/")
    assert response.status_code == 200
    consult = AuditEvent.objects.filter(action="portal.auditevent.consult_list").latest("id")
    shown = consult.detail["ids"]
    assert shown and all(AuditEvent.objects.get(pk=pk).scheme_id == ada.scheme_id for pk in shown)
    assert client.post(f"/admin/portal/auditevent/{shown[0]}/delete/", {"post": "yes"}).status_code == 403


def test_guardians_object_permission_pages_are_for_superusers_only(signed_in, ada, root):
    response = signed_in(ada).get(f"/admin/portal/scheme/{ada.scheme_id}/permissions/")
    assert response.status_code == 403


def test_a_superuser_can_open_guardians_object_permission_pages(signed_in, root, lantern):
    response = signed_in(root).get(f"/admin/portal/scheme/{lantern.pk}/permissions/")
    assert response.status_code == 200


def test_a_court_recipient_cannot_belong_to_a_scheme(lantern):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="belongs to no scheme"):
        make_person("c2@court.example", roles.COURT, lantern)


def test_an_officer_must_belong_to_a_scheme(db):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="must belong to a scheme"):
        make_person("o2@x.example", roles.OFFICER, None)


def test_deleting_in_the_admin_is_audited(signed_in, root):
    from django.contrib.auth.models import Group

    doomed = Group.objects.create(name="temporary-group")
    client = signed_in(root)
    response = client.post(f"/admin/auth/group/{doomed.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="admin.delete", object_type="auth.group")
    assert event.object_id == str(doomed.pk) and event.actor_email == root.email


def test_object_permissions_count_only_per_object_grants_never_global_ones(ada, otto, lantern, harbour):
    from portal.models import Scheme
    from portal.permissions import grant, objects_with_perm, revoke

    # Ada's role gives her the global change_scheme permission: it must not count as an object grant.
    assert ada.has_perm("portal.change_scheme")
    assert list(objects_with_perm(ada, "portal.change_scheme", Scheme.objects.all())) == []
    grant("portal.change_scheme", otto, harbour)
    assert list(objects_with_perm(otto, "portal.change_scheme", Scheme.objects.all())) == [harbour]
    revoke("portal.change_scheme", otto, harbour)
    assert list(objects_with_perm(otto, "portal.change_scheme", Scheme.objects.all())) == []
