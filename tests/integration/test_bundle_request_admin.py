"""An officer requests a handover bundle from the button on a tasking's admin page, and sees its bundles there.

Owen supervises Lantern and its tasking OP-LANTERN-1; Otto supervises Harbour and must not reach it; Ada,
Lantern's scheme administrator, may request one too; Wendy, Lantern's welfare officer, and Vic, a welfare
officer who was also given view-only access to taskings, may not.
"""

import hashlib
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from evidence import bundles, services
from evidence.models import HandoverBundle
from evidence.statements import statement_save_draft, statement_sign
from portal import roles
from portal.models import Job
from tests.conftest import enrol_totp, make_person, mfa_login
from tests.integration.bundle_helpers import sign_schedules

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 8
BUTTON = b'value="Request handover bundle"'


class Received:
    """What evidence/uploads.py hands the service: a file already on disk, hashed."""

    def __init__(self, tmp_path: Path, name: str, content: bytes):
        self.name, self.size, self.sha256 = name, len(content), hashlib.sha256(content).hexdigest()
        self.temp_path = str(tmp_path / name)
        Path(self.temp_path).write_bytes(content)
        self.content = content


def _store(upload, name):
    default_storage.save(name, ContentFile(upload.content))


def _exhibit(user, tasking, tmp_path):
    from django.utils import timezone

    return services.exhibit_submit(
        user=user,
        tasking=tasking,
        upload=Received(tmp_path, "shot.png", PNG),
        sniffed_type="image/png",
        description="shot.png from the chat",
        platform="Platform X",
        other_party="dave_77",
        url="",
        captured_at=timezone.now(),
        capture_method="Platform export",
        store=_store,
    )


@pytest.fixture
def ready_tasking(assigned_vera, tasking, owen, tmp_path):
    """Every exhibit reviewed and an MG11 signed: a bundle may be requested."""
    user = assigned_vera.user
    exhibit = _exhibit(user, tasking, tmp_path)
    statement = statement_save_draft(tasking=tasking, author=user, body="I produce VD/1.", exhibit_ids=[exhibit.pk])
    statement_sign(statement=statement, by=user)
    services.exhibit_review(exhibit=exhibit, decision="accepted", reason="", by=owen)
    sign_schedules(tasking, owen)
    return tasking


@pytest.fixture
def vic(lantern):
    """A welfare officer who can open taskings in the admin but holds no permission to change them."""
    person = make_person("vic@lantern.example", roles.WELFARE, lantern)
    person.user_permissions.add(Permission.objects.get(content_type__app_label="evidence", codename="view_tasking"))
    return person


@pytest.fixture
def signing_key(settings, tmp_path):
    from django.core.management import call_command

    settings.PORTAL_SIGNING_KEY_PATH = str(tmp_path / "key.pem")
    settings.PORTAL_SIGNING_CERT_PATH = str(tmp_path / "cert.pem")
    call_command("create_signing_key", "--force")
    return settings.PORTAL_SIGNING_CERT_PATH


def _sign_in(client, user):
    mfa_login(client, user, enrol_totp(user))
    return client


def _change_page(tasking) -> str:
    return reverse("admin:evidence_tasking_change", args=[tasking.pk])


def _button_url(tasking) -> str:
    return reverse("admin:evidence_tasking_request_bundle", args=[tasking.pk])


def _messages(response) -> list[str]:
    """The messages the page shows, less the sign-in greeting (the admin does not show it at once)."""
    return [str(m) for m in response.context["messages"] if not str(m).startswith("Successfully signed in")]


def test_the_officer_sees_the_button_on_his_schemes_tasking(client, ready_tasking, owen):
    _sign_in(client, owen)
    body = client.get(_change_page(ready_tasking)).content
    assert BUTTON in body
    assert f'action="{_button_url(ready_tasking)}"'.encode() in body
    assert b"csrfmiddlewaretoken" in body


def test_pressing_it_queues_version_one_and_shows_its_progress(client, ready_tasking, owen):
    _sign_in(client, owen)
    response = client.post(_button_url(ready_tasking))
    bundle = HandoverBundle.objects.get(tasking=ready_tasking)
    assert bundle.version == 1 and bundle.state == "queued" and bundle.requested_by == owen
    assert Job.objects.filter(kind="evidence.bundle_build", object_id=str(bundle.pk)).count() == 1
    assert response.status_code == 302 and response["Location"] == reverse("bundle_status", args=[bundle.pk])
    page = client.get(response["Location"])
    assert "Bundle version 1 is being built for OP-LANTERN-1." in _messages(page)
    assert 'aria-label="Bundle progress"' in page.content.decode()


def test_pressing_it_again_while_queued_returns_the_same_bundle(client, ready_tasking, owen):
    _sign_in(client, owen)
    client.post(_button_url(ready_tasking), follow=True)
    response = client.post(_button_url(ready_tasking), follow=True)
    bundle = HandoverBundle.objects.get(tasking=ready_tasking)  # still exactly one
    assert response.redirect_chain[-1][0] == reverse("bundle_status", args=[bundle.pk])
    assert "Bundle version 1 is already being built for OP-LANTERN-1." in _messages(response)
    assert Job.objects.filter(kind="evidence.bundle_build", object_id=str(bundle.pk)).count() == 1


def test_a_refused_request_lists_everything_missing_and_creates_nothing(client, assigned_vera, tasking, owen, tmp_path):
    _exhibit(assigned_vera.user, tasking, tmp_path)
    statement_save_draft(tasking=tasking, author=assigned_vera.user, body="Draft.", exhibit_ids=[])
    _sign_in(client, owen)
    response = client.post(_button_url(tasking), follow=True)
    assert response.redirect_chain[-1][0] == _change_page(tasking)
    assert _messages(response) == [
        "A handover bundle for OP-LANTERN-1 cannot be requested yet. These need to be done first:",
        "Exhibit VD/1 is awaiting review.",
        "A statement by Vera Deploy is not signed.",
        "No signed witness statement (MG11) produces the exhibits.",
        "The MG6C schedule has not been signed by the disclosure officer: sign it under Disclosure schedules on "
        "the tasking's page.",
        "The MG6D schedule has not been signed by the disclosure officer: sign it under Disclosure schedules on "
        "the tasking's page.",
    ]
    body = response.content.decode()
    assert "Exhibit VD/1 is awaiting review." in body and "No signed witness statement (MG11)" in body
    assert not HandoverBundle.objects.exists()
    assert not Job.objects.filter(kind="evidence.bundle_build").exists()


def test_another_schemes_officer_is_told_it_does_not_exist(client, ready_tasking, otto):
    _sign_in(client, otto)
    assert client.post(_button_url(ready_tasking)).status_code == 404
    assert client.post("/admin/evidence/tasking/not-a-number/request-bundle/").status_code == 404
    assert not HandoverBundle.objects.exists()


def test_the_button_only_answers_a_post(client, ready_tasking, owen):
    _sign_in(client, owen)
    assert client.get(_button_url(ready_tasking)).status_code == 405
    assert not HandoverBundle.objects.exists()


def test_someone_who_may_only_view_the_tasking_sees_no_button_and_is_refused(client, ready_tasking, vic):
    _sign_in(client, vic)
    page = client.get(_change_page(ready_tasking))
    assert page.status_code == 200 and b"OP-LANTERN-1" in page.content
    assert BUTTON not in page.content
    assert client.post(_button_url(ready_tasking)).status_code == 403
    assert not HandoverBundle.objects.exists()


def test_welfare_staff_are_refused(client, ready_tasking, wendy):
    _sign_in(client, wendy)
    assert client.get(_change_page(ready_tasking)).status_code == 403
    assert client.post(_button_url(ready_tasking)).status_code == 403
    assert not HandoverBundle.objects.exists()


def test_the_list_action_is_offered_only_with_the_same_permission(client, ready_tasking, owen, vic):
    from django.test import Client

    assert b'value="request_bundle"' in _sign_in(client, owen).get("/admin/evidence/tasking/").content
    assert b'value="request_bundle"' not in _sign_in(Client(), vic).get("/admin/evidence/tasking/").content


def test_the_taskings_page_lists_its_bundles_newest_first(client, ready_tasking, owen, signing_key):
    sign_schedules(ready_tasking, owen)
    first = bundles.bundle_build(bundles.bundle_request(tasking=ready_tasking, by=owen))
    sign_schedules(ready_tasking, owen)
    second = bundles.bundle_request(tasking=ready_tasking, by=owen)
    _sign_in(client, owen)
    body = client.get(_change_page(ready_tasking)).content.decode()
    assert '<h2 id="bundles-heading" class="inline-heading">' in body
    assert body.index(f'href="{reverse("bundle_status", args=[second.pk])}">Follow progress') < body.index(
        f'href="{reverse("bundle_download", args=[first.pk])}">Download signed PDF'
    )
    assert "Queued" in body and "Ready" in body and str(owen) in body
    # Read-only: nothing to edit, no row to delete, no room for another.
    assert 'name="bundles-0-version"' not in body and 'name="bundles-0-DELETE"' not in body
    assert 'name="bundles-MAX_NUM_FORMS" value="0"' in body


def test_the_bundles_list_costs_the_same_queries_however_many_bundles(client, ready_tasking, owen):
    from django.db import connection

    _sign_in(client, owen)
    sign_schedules(ready_tasking, owen)
    bundles.bundle_request(tasking=ready_tasking, by=owen)
    with CaptureQueriesContext(connection) as one:
        assert client.get(_change_page(ready_tasking)).status_code == 200
    for _ in range(3):
        # Set aside the one in progress so the next request makes a new version (no PDF needed for a list).
        HandoverBundle.objects.filter(tasking=ready_tasking).update(state="failed")
        sign_schedules(ready_tasking, owen)
        bundles.bundle_request(tasking=ready_tasking, by=owen)
    with CaptureQueriesContext(connection) as four:
        body = client.get(_change_page(ready_tasking)).content.decode()
    assert body.count("Follow progress") == 4  # a failed build is followed to its retry button
    assert len(four.captured_queries) == len(one.captured_queries)


def test_a_scheme_administrator_may_not_request_a_bundle(client, ready_tasking, ada):
    """Administrators manage the scheme, not its evidence: no button, the URL refuses, nothing is built."""
    _sign_in(client, ada)
    assert BUTTON not in client.get(_change_page(ready_tasking)).content
    assert client.post(_button_url(ready_tasking)).status_code == 403
    assert not HandoverBundle.objects.exists()


def test_a_new_tasking_has_no_bundles_list(client, owen):
    _sign_in(client, owen)
    body = client.get(reverse("admin:evidence_tasking_add")).content.decode()
    assert 'id="bundles-group"' not in body and BUTTON.decode() not in body
