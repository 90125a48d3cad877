"""A volunteer reads a tasking's content and opens her own exhibits only while the one rule lets her work
on it: unassigned, stood down, out of training or past the tasking's end, she sees its status and whom to
contact, nothing of the operation, and the refused attempt is audited."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from evidence.models import CustodyEvent
from portal.models import AuditEvent
from tests.conftest import PASSWORD, make_tasking, module_data, pass_module
from tests.integration.bundle_helpers import CHAT, submit_exhibit

PERSONA = "'Mia', 13, from Leeds"  # make_tasking's persona
OBJECTIVE = "Identify adults grooming."


def served(response) -> str:
    """The page as served, attributes included, less its random CSRF tokens: 64 letters and digits hold "Mia"
    about once in 4,000 pages, a chance match and not a leak (it failed a clean-clone run once)."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", response.content.decode())


@pytest.fixture
def long_tasking(lantern, owen):
    """Open for 90 days, so a month can pass without the tasking itself ending."""
    return make_tasking(lantern, owen, hours=24 * 90, reference="OP-LONG-1")


@pytest.fixture
def at_work(deployable_vera, long_tasking, owen, tmp_path):
    """Vera is assigned to OP-LONG-1 and has produced one exhibit, a note and a draft statement."""
    from evidence import services
    from evidence.statements import statement_save_draft

    services.tasking_assign(tasking=long_tasking, volunteer=deployable_vera.user, by=owen)
    exhibit = submit_exhibit(deployable_vera.user, long_tasking, tmp_path, "chat.txt", CHAT, "text/plain")
    services.note_add(tasking=long_tasking, author=deployable_vera.user, text="Started at 19:00.")
    draft = statement_save_draft(
        tasking=long_tasking, author=deployable_vera.user, body="I produce VD/1.", exhibit_ids=[exhibit.pk]
    )
    return deployable_vera, long_tasking, exhibit, draft


def _unassigned(volunteer, tasking, *, owen, wendy):
    from evidence import services

    services.tasking_unassign(assignment=tasking.assignments.get(volunteer=volunteer.user), by=owen)
    return None


def _stood_down(volunteer, tasking, *, owen, wendy):
    from volunteers.services import stand_down_place

    stand_down_place(person=volunteer.user, detail="After a distressing chat.", by=wendy)
    return None


def _training_lapsed(volunteer, tasking, *, owen, wendy):
    """A mandatory module valid one month, passed today; the test then runs 32 days later."""
    from training.services import module_publish

    version = module_publish(data={**module_data(), "validity_months": 1})
    pass_module(volunteer.user, version)
    return timezone.now() + timedelta(days=32)


def _tasking_ended(volunteer, tasking, *, owen, wendy):
    return tasking.window_end + timedelta(minutes=1)


SITUATIONS = {
    "unassigned": (_unassigned, "not_assigned"),
    "stood down": (_stood_down, "welfare_grounds"),  # the audit log never says which welfare reason
    "training lapsed": (_training_lapsed, "training_not_current"),
    "tasking ended": (_tasking_ended, "window_ended"),
}


@pytest.fixture(params=list(SITUATIONS))
def refused(request, at_work, client, owen, wendy):
    """Vera, signed in, in one of the four situations; yields (client, tasking, exhibit, draft, code)."""
    volunteer, tasking, exhibit, draft = at_work
    make_situation, code = SITUATIONS[request.param]
    later = make_situation(volunteer, tasking, owen=owen, wendy=wendy)
    with time_machine.travel(later or timezone.now(), tick=True):
        client.login(email=volunteer.user.email, password=PASSWORD)
        yield client, tasking, exhibit, draft, code


def _refusals(tasking, attempted: str):
    return AuditEvent.objects.filter(
        action="evidence.content_refused",
        outcome=AuditEvent.Outcome.DENIED,
        object_id=str(tasking.pk),
        detail__attempted=attempted,
    )


def test_while_she_may_work_she_reads_the_briefing_and_opens_her_exhibit(at_work, client):
    volunteer, tasking, exhibit, _ = at_work
    client.login(email=volunteer.user.email, password=PASSWORD)
    page = client.get(f"/taskings/{tasking.pk}/").content.decode()
    assert PERSONA.replace("'", "&#x27;") in page and OBJECTIVE in page
    response = client.get(f"/exhibits/{exhibit.pk}/download/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == CHAT


def test_she_cannot_open_her_own_exhibit_and_the_attempt_is_audited(refused):
    client, tasking, exhibit, _, code = refused
    downloads_before = CustodyEvent.objects.filter(exhibit=exhibit, action=CustodyEvent.Action.DOWNLOADED).count()
    response = client.get(f"/exhibits/{exhibit.pk}/download/")
    assert response.status_code == 403
    body = response.content.decode()
    assert "This tasking is not open to you now" in body
    assert CHAT.decode()[:10] not in body
    assert CustodyEvent.objects.filter(exhibit=exhibit, action=CustodyEvent.Action.DOWNLOADED).count() == (
        downloads_before
    )
    refusal = _refusals(tasking, "exhibit_download").get()
    assert code in refusal.detail["reasons"] and refusal.detail["exhibit"] == exhibit.pk


def test_she_sees_the_tasking_status_and_whom_to_contact_but_not_its_briefing_or_persona(refused, owen):
    client, tasking, exhibit, _, code = refused
    response = client.get(f"/taskings/{tasking.pk}/")
    assert response.status_code == 200
    body = served(response)
    assert "This tasking is not open to you now" in body
    assert owen.get_full_name() in body and owen.email in body
    for content in ("Mia", OBJECTIVE, tasking.permitted_conduct, tasking.platforms, exhibit.description, "19:00"):
        assert content not in body, content
    assert code in _refusals(tasking, "tasking_view").get().detail["reasons"]


def test_she_cannot_read_her_statements_either(refused):
    client, tasking, _, draft, _code = refused
    response = client.get(f"/taskings/{tasking.pk}/statements/{draft.pk}/")
    assert response.status_code == 403
    assert "I produce VD/1." not in response.content.decode()
    assert client.get(f"/taskings/{tasking.pk}/statements/{draft.pk}/mg11.pdf").status_code == 403
    assert _refusals(tasking, "statement").exists() and _refusals(tasking, "statement_pdf").exists()


def test_a_stood_down_volunteer_can_still_raise_a_safeguarding_concern(at_work, client, wendy):
    from evidence.models import SafeguardingAlert

    volunteer, tasking, _, _ = at_work
    _stood_down(volunteer, tasking, owen=None, wendy=wendy)
    client.login(email=volunteer.user.email, password=PASSWORD)
    assert "Alert my supervising officer now" in client.get(f"/taskings/{tasking.pk}/").content.decode()
    response = client.post(f"/taskings/{tasking.pk}/safeguarding/", {"note": "She said she is 12."})
    assert response.status_code == 302
    assert SafeguardingAlert.objects.filter(tasking=tasking, raised_by=volunteer.user).exists()


def test_an_unassigned_volunteer_is_offered_no_safeguarding_form_for_a_tasking_no_longer_hers(at_work, client, owen):
    volunteer, tasking, _, _ = at_work
    _unassigned(volunteer, tasking, owen=owen, wendy=None)
    client.login(email=volunteer.user.email, password=PASSWORD)
    body = client.get(f"/taskings/{tasking.pk}/").content.decode()
    assert "You are not assigned to this tasking." in body
    assert "Alert my supervising officer now" not in body


def test_a_volunteer_never_assigned_is_told_the_tasking_does_not_exist(at_work, client, lantern, owen, conduct):
    from tests.conftest import invite_and_apply

    other = invite_and_apply(lantern, owen, "olga@lantern.example", "Olga Other")
    _, tasking, exhibit, _ = at_work
    client.login(email=other.user.email, password=PASSWORD)
    assert client.get(f"/taskings/{tasking.pk}/").status_code == 404
    assert client.get(f"/exhibits/{exhibit.pk}/download/").status_code == 404


# Every page of a tasking, the status it answers with while the one rule refuses her, and the name its
# refusal is audited under. The overview and the pages beside it are her own tasking's pages (200); the
# statement pages refuse an action on evidence (403).
PAGES = {
    "overview": ("/taskings/{t}/", 200, "tasking_view"),
    "exhibits": ("/taskings/{t}/exhibits/", 200, "tasking_exhibits"),
    "notes": ("/taskings/{t}/notes/", 200, "tasking_notes"),
    "statements": ("/taskings/{t}/statements/", 200, "tasking_statements"),
    "new statement": ("/taskings/{t}/statements/new/", 403, "statement"),
    "draft": ("/taskings/{t}/statements/{s}/", 403, "statement"),
    "check before signing": ("/taskings/{t}/statements/{s}/check/", 403, "statement_check"),
    "discard": ("/taskings/{t}/statements/{s}/discard/", 403, "statement_discard"),
}


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_of_the_tasking_shows_its_status_and_nothing_of_the_operation(refused, name):
    client, tasking, exhibit, draft, code = refused
    path, status, attempted = PAGES[name]
    response = client.get(path.format(t=tasking.pk, s=draft.pk))
    assert response.status_code == status
    body = served(response)
    assert "This tasking is not open to you now" in body
    for content in ("Mia", OBJECTIVE, tasking.permitted_conduct, exhibit.description, exhibit.sha256, "19:00"):
        assert content not in body, content
    assert "I produce VD/1." not in body
    assert code in _refusals(tasking, attempted).get().detail["reasons"]


def test_while_she_may_work_every_page_of_the_tasking_opens(at_work, client):
    volunteer, tasking, exhibit, draft = at_work
    client.login(email=volunteer.user.email, password=PASSWORD)
    for name, (path, _, _) in PAGES.items():
        response = client.get(path.format(t=tasking.pk, s=draft.pk))
        assert response.status_code == 200, name
        assert "This tasking is not open to you now" not in response.content.decode(), name
    assert exhibit.sha256 in client.get(f"/taskings/{tasking.pk}/exhibits/").content.decode()
    assert "Started at 19:00." in client.get(f"/taskings/{tasking.pk}/notes/").content.decode()
    assert "I produce VD/1." in client.get(f"/taskings/{tasking.pk}/statements/{draft.pk}/check/").content.decode()


def test_a_refused_post_to_a_new_page_changes_nothing_and_says_why(refused):
    from evidence.models import ContemporaneousNote

    client, tasking, _, draft, _code = refused
    response = client.post(f"/taskings/{tasking.pk}/notes/", {"text": "Late note."}, follow=True)
    # Unassigned: not found. Otherwise back to the notes page, which is now the closed page.
    assert response.status_code == 404 or "This tasking is not open to you now" in response.content.decode()
    assert not ContemporaneousNote.objects.filter(text="Late note.").exists()
    assert client.post(f"/taskings/{tasking.pk}/statements/{draft.pk}/discard/").status_code == 403
    draft.refresh_from_db()
    assert draft.state == "draft"


def test_the_safeguarding_page_shows_nothing_of_the_operation_to_a_stood_down_volunteer(at_work, client, wendy):
    volunteer, tasking, exhibit, _ = at_work
    _stood_down(volunteer, tasking, owen=None, wendy=wendy)
    client.login(email=volunteer.user.email, password=PASSWORD)
    response = client.get(f"/taskings/{tasking.pk}/safeguarding/")
    assert response.status_code == 200
    body = served(response)
    assert "Alert my supervising officer now" in body and tasking.reference in body
    for content in ("Mia", OBJECTIVE, tasking.title, exhibit.description):
        assert content not in body, content


def test_a_volunteer_never_assigned_finds_none_of_the_new_pages(at_work, client, lantern, owen, conduct):
    from tests.conftest import invite_and_apply

    other = invite_and_apply(lantern, owen, "olga2@lantern.example", "Olga Other")
    _, tasking, _, draft = at_work
    client.login(email=other.user.email, password=PASSWORD)
    for path, _, _ in PAGES.values():
        assert client.get(path.format(t=tasking.pk, s=draft.pk)).status_code == 404, path
    assert client.get(f"/taskings/{tasking.pk}/safeguarding/").status_code == 404
