"""People hear of what concerns them, in the portal and by e-mail, once the change is committed; no e-mail
carries evidence content, only what happened, the tasking's reference and a link.

Vera is a deployable volunteer of Lantern; Owen supervises Operation Lantern and asks for its bundles; Carla
is a court recipient; Otto supervises Harbour and hears nothing of Lantern.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from portal.models import Notice
from portal.notifications import notify
from tests.conftest import PASSWORD, make_tasking
from tests.integration import bundle_helpers
from tests.integration.bundle_helpers import make_ready, sign_schedules

# Fixtures from bundle_helpers, made visible to pytest in this module.
signing_key, ready_tasking = bundle_helpers.signing_key, bundle_helpers.ready_tasking

BASE = "https://portal.example.police.uk"


@pytest.fixture(autouse=True)
def _portal_address(settings):
    settings.PORTAL_BASE_URL = BASE


def _bodies() -> str:
    return "\n".join(f"{m.subject}\n{m.body}" for m in mail.outbox)


def test_assigning_a_volunteer_tells_her_in_the_portal_and_by_email(
    deployable_vera, tasking, owen, django_capture_on_commit_callbacks
):
    from evidence.services import tasking_assign

    vera = deployable_vera.user
    with django_capture_on_commit_callbacks(execute=True):
        tasking_assign(tasking=tasking, volunteer=vera, by=owen)
    assert [m.to for m in mail.outbox] == [[vera.email]]
    message = mail.outbox[0]
    assert message.subject == "You have a new tasking: OP-LANTERN-1"
    assert f"{BASE}/taskings/{tasking.pk}/" in message.body
    notice = Notice.objects.get(user=vera)
    assert notice.subject == message.subject and notice.url == reverse("tasking_detail", args=[tasking.pk])
    assert notice.read_at is None


def test_removing_a_volunteer_tells_her(assigned_vera, tasking, owen, django_capture_on_commit_callbacks):
    from evidence.models import Assignment
    from evidence.services import tasking_unassign

    mail.outbox.clear()
    assignment = Assignment.objects.get(tasking=tasking, volunteer=assigned_vera.user, ended_at__isnull=True)
    with django_capture_on_commit_callbacks(execute=True):
        tasking_unassign(assignment=assignment, by=owen)
    assert [m.subject for m in mail.outbox] == ["You are no longer on tasking OP-LANTERN-1"]
    assert "can no longer add evidence" in mail.outbox[0].body
    assert Notice.objects.filter(user=assigned_vera.user).count() == 2  # assigned, then removed


def test_nothing_is_sent_when_the_change_is_rolled_back(deployable_vera, tasking, owen):
    from evidence.services import tasking_assign

    class Undo(Exception):
        pass

    with pytest.raises(Undo), transaction.atomic():
        tasking_assign(tasking=tasking, volunteer=deployable_vera.user, by=owen)
        raise Undo
    assert mail.outbox == [] and not Notice.objects.exists()


def test_a_mail_server_that_is_down_does_not_undo_the_assignment(
    deployable_vera, tasking, owen, settings, django_capture_on_commit_callbacks
):
    from evidence.models import Assignment
    from evidence.services import tasking_assign

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 1  # nothing listens there
    with django_capture_on_commit_callbacks(execute=True):
        tasking_assign(tasking=tasking, volunteer=deployable_vera.user, by=owen)
    assert Assignment.objects.filter(tasking=tasking, volunteer=deployable_vera.user).exists()
    assert Notice.objects.filter(user=deployable_vera.user).exists()  # she still sees it in the portal


def test_a_ready_bundle_tells_the_officer_who_asked_and_a_share_tells_the_court_user(
    assigned_vera,
    tasking,
    owen,
    carla,
    otto,
    tmp_path,
    signing_key,
    django_capture_on_commit_callbacks,
):
    from evidence import bundles
    from evidence.services import bundle_share, note_add

    note_add(tasking=tasking, author=assigned_vera.user, text="Suspect says he drives a red van.")
    make_ready(tasking, assigned_vera.user, owen, tmp_path)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        sign_schedules(tasking, owen)
        bundle = bundles.bundle_build(bundles.bundle_request(tasking=tasking, by=owen))
    assert [(m.to, m.subject) for m in mail.outbox] == [([owen.email], "Bundle ready: OP-LANTERN-1 version 1")]
    assert f"{BASE}/bundles/{bundle.pk}/" in mail.outbox[0].body  # built by a job: the portal's own address

    with django_capture_on_commit_callbacks(execute=True):
        bundle_share(bundle=bundle, recipient=carla, until=timezone.now() + timedelta(days=30), by=owen)
    message = mail.outbox[-1]
    assert message.to == [carla.email]
    assert message.subject == "A handover bundle has been shared with you: OP-LANTERN-1"
    assert "Lantern Partnership has shared version 1" in message.body and f"{BASE}/bundles/" in message.body
    assert Notice.objects.filter(user=carla, url=reverse("bundle_inbox")).exists()
    assert not Notice.objects.filter(user=otto).exists()

    # Nothing in any of these e-mails is evidence: no persona, objective, conduct, exhibit, note or statement.
    sent = _bodies()
    for secret in [
        tasking.persona,
        tasking.objective,
        tasking.permitted_conduct,
        tasking.title,
        "shot.png from the chat",
        "how old are you",
        "red van",
        "I produce VD/1",
        "VD/1",
    ]:
        assert secret not in sent, secret


def test_a_failed_bundle_tells_the_officer_once_per_build(ready_tasking, owen, django_capture_on_commit_callbacks):
    from evidence import bundles

    sign_schedules(ready_tasking, owen)
    bundle = bundles.bundle_request(tasking=ready_tasking, by=owen)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        bundles.bundle_fail(bundle, "Rendering part 1 failed: MemoryError")
        bundles.bundle_fail(bundle, "Rendering part 2 failed: MemoryError")  # a second part of the same build
    assert [m.subject for m in mail.outbox] == ["Bundle not built: OP-LANTERN-1 version 1"]
    assert "MemoryError" not in mail.outbox[0].body
    assert Notice.objects.filter(user=owen, subject__startswith="Bundle not built").count() == 1


def test_a_bundle_that_is_ready_is_never_reported_as_failed(ready_tasking, owen, signing_key):
    from evidence import bundles

    sign_schedules(ready_tasking, owen)
    bundle = bundles.bundle_build(bundles.bundle_request(tasking=ready_tasking, by=owen))
    bundles.bundle_fail(bundle, "a late part failed after assembly")
    assert not Notice.objects.filter(subject__startswith="Bundle not built").exists()


def test_the_notices_page_lists_only_her_own_and_marks_them_read(client, assigned_vera, tasking, owen, otto):
    vera = assigned_vera.user
    notify(user=otto, subject="For Otto only", text="Not for Vera.")
    client.post("/accounts/login/", {"login": vera.email, "password": PASSWORD})
    page = client.get(reverse("notices"))
    body = page.content.decode()
    assert page.status_code == 200
    assert "You have a new tasking: OP-LANTERN-1" in body and "New" in body
    assert f'href="/taskings/{tasking.pk}/"' in body
    assert "For Otto only" not in body
    assert not Notice.objects.filter(user=vera, read_at__isnull=True).exists()
    assert Notice.objects.get(user=otto).read_at is None
    assert ">New<" not in client.get(reverse("notices")).content.decode()


def test_the_notices_page_needs_a_signed_in_person(client):
    response = client.get(reverse("notices"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_deactivated_person_is_not_told(vera, django_capture_on_commit_callbacks):
    vera.is_active = False
    vera.save()
    with django_capture_on_commit_callbacks(execute=True):
        assert notify(user=vera, subject="Hello", text="Anything") is None
    assert mail.outbox == [] and not Notice.objects.exists()


def test_a_notice_links_only_inside_the_portal(vera):
    with pytest.raises(ValueError):
        notify(user=vera, subject="Hello", text="Anything", url="https://elsewhere.example/")
    with pytest.raises(ValueError):
        notify(user=vera, subject="Hello", text="Anything", url="javascript:alert(1)")


def test_another_schemes_officer_hears_nothing_of_lantern(
    deployable_vera, owen, otto, lantern, django_capture_on_commit_callbacks
):
    from evidence.services import tasking_assign

    other = make_tasking(lantern, owen, reference="OP-LANTERN-2")
    with django_capture_on_commit_callbacks(execute=True):
        tasking_assign(tasking=other, volunteer=deployable_vera.user, by=owen)
    assert otto.email not in [address for message in mail.outbox for address in message.to]
    assert not Notice.objects.filter(user=otto).exists()


def test_granting_the_welfare_role_leaves_a_notice_for_existing_welfare_officers(
    wendy, vera, ada, django_capture_on_commit_callbacks
):
    from portal.accounts import user_set_roles

    with django_capture_on_commit_callbacks(execute=True):
        user_set_roles(user=vera, role_codes=["welfare_officer"], by=ada)
    assert [m.to for m in mail.outbox] == [[wendy.email]]
    assert Notice.objects.get(user=wendy).subject == "A welfare officer role was granted in your scheme"
