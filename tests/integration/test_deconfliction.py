"""Deconfliction between schemes, tried as the people involved meet it: Owen's tasking (Lantern) and
Otto's (Harbour) come to engage the same person online. Both taskings pause at once, each controller is
told whom to call and a match reference and nothing else, Vera (assigned to Owen's tasking) reads only
that it is paused, and each side resumes or ends only when its own controller records the resolution."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from evidence.deconfliction.identifiers import identify
from evidence.deconfliction.services import (
    PAUSED_FOR_VOLUNTEER,
    ResolutionRefused,
    identifiers_from_text,
    identifiers_record,
    match_resolve,
)
from evidence.models import DeconflictionMatch, Tasking, TaskingIdentifier
from portal import roles
from portal.models import AuditEvent, Notice
from tests.conftest import PASSWORD, enrol_totp, make_person, make_tasking, mfa_login
from tests.integration.bundle_helpers import CHAT, submit_exhibit

pytestmark = pytest.mark.django_db
OFFICER = TaskingIdentifier.Source.OFFICER
SECRET_PARTS = ("dave_77", "instagram", "OP-HARBOUR-1", "Harbour Partnership", "OP-LANTERN-1", "Lantern Partnership")


@pytest.fixture
def harbour_tasking(harbour, otto):
    return make_tasking(harbour, otto, reference="OP-HARBOUR-1")


def _record(tasking, text: str, by) -> list[DeconflictionMatch]:
    identifiers, unreadable = identifiers_from_text(text)
    assert not unreadable, unreadable
    return identifiers_record(tasking=tasking, identifiers=identifiers, source=OFFICER, by=by)


def _text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def test_a_match_pauses_both_taskings_and_tells_each_owner_only_whom_to_call(
    client, assigned_vera, tasking, owen, otto, harbour_tasking
):
    assert _record(tasking, "dave_77 on Instagram\n+44 7700 900123", owen) == []  # nobody else engages them yet
    assert Tasking.objects.get(pk=tasking.pk).status == Tasking.Status.ACTIVE

    found = _record(harbour_tasking, "https://www.instagram.com/Dave_77/", otto)  # the same account, written apart

    assert len(found) == 1
    reference = found[0].reference
    assert re.fullmatch(r"DX-[A-Z2-9]{8}", reference)
    sides = DeconflictionMatch.objects.filter(reference=reference)
    assert {(side.tasking_id, side.contact_id) for side in sides} == {
        (harbour_tasking.pk, owen.pk),
        (tasking.pk, otto.pk),
    }
    for paused in (tasking, harbour_tasking):
        assert Tasking.objects.get(pk=paused.pk).status == Tasking.Status.PAUSED

    # Each controller: the reference and whom to contact, nothing of the other side.
    for controller, contact, own in ((owen, otto, "OP-LANTERN-1"), (otto, owen, "OP-HARBOUR-1")):
        notice = Notice.objects.get(user=controller, subject__contains=reference)
        said = f"{notice.subject} {notice.text}"
        assert contact.email in said and contact.full_name in said and own in said
        hidden = [part for part in SECRET_PARTS if part.lower() in said.lower() and part != own]
        assert hidden == [], f"the notice to {controller.email} gives away {hidden}: {said}"

    # Vera: that it is paused, and nothing else, wherever she looks.
    vera = assigned_vera.user
    told = Notice.objects.filter(user=vera, subject__contains="paused").get()
    assert told.text == PAUSED_FOR_VOLUNTEER
    from evidence.policy import submission_decision

    decision = submission_decision(user=vera, tasking=Tasking.objects.get(pk=tasking.pk))
    assert not decision.allowed
    assert [reason.volunteer for reason in decision.reasons] == [PAUSED_FOR_VOLUNTEER]
    client.force_login(vera)
    for path in ("/", "/taskings/", f"/taskings/{tasking.pk}/", "/notices/"):
        page = _text(client.get(path))
        assert PAUSED_FOR_VOLUNTEER in page or path == "/taskings/", path
        if path in ("/", "/taskings/"):  # her list's tag says so too
            assert "Paused" in page and "Not open" not in page, path
        assert reference not in page and "deconfliction" not in page.lower(), path
        assert "otto" not in page.lower() and "dave_77" not in page.lower(), path

    # The audit log has every step, naming identifiers by their blind index only.
    actions = list(AuditEvent.objects.filter(action__startswith="evidence.").values_list("action", "detail"))
    assert sum(action == "evidence.identifier_record" for action, _ in actions) == 3
    assert sum(action == "evidence.deconfliction_match" for action, _ in actions) == 2
    assert not any("dave" in str(detail).lower() or "7700" in str(detail) for _, detail in actions)
    # And the database holds the identities encrypted, never as written.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT value FROM evidence_taskingidentifier")
        stored = [row[0] for row in cursor.fetchall()]
    assert stored and all(value.startswith("fernet:") and "dave" not in value for value in stored)


def test_each_side_resumes_or_ends_only_by_its_own_controller_s_recorded_resolution(
    assigned_vera, tasking, owen, otto, harbour_tasking, lantern
):
    _record(tasking, "dave77@example.com", owen)
    (theirs,) = _record(harbour_tasking, "Dave77@Example.com", otto)
    mine = DeconflictionMatch.objects.get(reference=theirs.reference, tasking=tasking)
    deputy = make_person("dina@lantern.example", roles.OFFICER, lantern)

    for stranger in (otto, deputy, assigned_vera.user):
        with pytest.raises(ResolutionRefused, match="Only the tasking's controller"):
            match_resolve(match=mine, outcome="proceed", reasons="Agreed.", by=stranger)
    with pytest.raises(ValidationError, match="Record the reasons"):
        match_resolve(match=mine, outcome="proceed", reasons="   ", by=owen)

    # Nobody moves a paused tasking by hand: not back to active, not into "paused" either.
    from evidence import services

    with pytest.raises(ValidationError, match="paused by a deconfliction match"):
        services.tasking_set_status(tasking=Tasking.objects.get(pk=tasking.pk), to="active", by=owen)
    other = make_tasking(lantern, owen, reference="OP-LANTERN-2")
    with pytest.raises(ValidationError, match="Only a deconfliction match pauses"):
        services.tasking_set_status(tasking=other, to="paused", by=owen)

    match_resolve(match=mine, outcome="proceed", reasons="Spoke to Otto at 14:10; Harbour withdraws.", by=owen)
    assert Tasking.objects.get(pk=tasking.pk).status == Tasking.Status.ACTIVE
    from evidence.policy import submission_decision

    assert submission_decision(user=assigned_vera.user, tasking=tasking).allowed
    with pytest.raises(ValidationError, match="already resolved"):
        match_resolve(match=mine, outcome="withdraw", reasons="Again.", by=owen)

    match_resolve(match=theirs, outcome="withdraw", reasons="Lantern's operation takes precedence.", by=otto)
    assert Tasking.objects.get(pk=harbour_tasking.pk).status == Tasking.Status.CLOSED
    resolved = AuditEvent.objects.filter(action="evidence.deconfliction_resolve").values_list("detail", flat=True)
    assert sorted((d["outcome"], d["to"]) for d in resolved) == [("proceed", "active"), ("withdraw", "closed")]


def test_a_volunteer_s_exhibit_naming_the_other_party_finds_the_match(
    client, assigned_vera, tasking, otto, harbour_tasking, tmp_path
):
    _record(harbour_tasking, "dave_77 on Instagram", otto)
    vera = assigned_vera.user
    exhibit = submit_exhibit(vera, tasking, tmp_path, "chat.txt", CHAT, "text/plain", other_party="Dave_77")
    # submit_exhibit says the platform is "Platform X": on another platform the name is another person.
    assert Tasking.objects.get(pk=tasking.pk).status == Tasking.Status.ACTIVE
    from evidence import services
    from tests.integration.bundle_helpers import Received

    services.exhibit_submit(
        user=vera,
        tasking=tasking,
        upload=Received(tmp_path, "chat2.txt", CHAT),
        sniffed_type="text/plain",
        description="The chat, continued",
        platform="Instagram",
        other_party="@Dave_77, mia_x",
        url="",
        captured_at=exhibit.captured_at,
        capture_method="Platform export",
        store=lambda upload, name: None,
    )
    assert Tasking.objects.get(pk=tasking.pk).status == Tasking.Status.PAUSED
    recorded = TaskingIdentifier.objects.filter(tasking=tasking, source=TaskingIdentifier.Source.EXHIBIT)
    assert {str(row) for row in recorded} >= {"dave_77 on Instagram", "mia_x on Instagram"}
    assert Notice.objects.filter(user=otto, subject__startswith="Deconfliction match").count() == 1


def test_no_match_within_a_scheme_on_another_platform_or_against_work_that_is_over(
    tasking, owen, otto, harbour, harbour_tasking, lantern
):
    from datetime import timedelta

    from django.utils import timezone

    _record(tasking, "dave_77 on Instagram", owen)
    second = make_tasking(lantern, owen, reference="OP-LANTERN-3")
    assert _record(second, "dave_77 on Instagram", owen) == []  # the same scheme: its officers know both
    assert _record(harbour_tasking, "dave_77 on TikTok", otto) == []
    Tasking.objects.filter(pk=tasking.pk).update(status=Tasking.Status.CLOSED)
    now = timezone.now()
    Tasking.objects.filter(pk=second.pk).update(
        window_start=now - timedelta(days=2), window_end=now - timedelta(days=1)
    )
    assert _record(harbour_tasking, "dave_77 on Instagram", otto) == []  # one closed, the other's window over
    assert Tasking.objects.get(pk=harbour_tasking.pk).status == Tasking.Status.ACTIVE


def test_the_officer_records_identities_on_the_tasking_page_and_resolves_there(
    client, tasking, owen, otto, harbour_tasking, django_capture_on_commit_callbacks
):
    mfa_login(client, owen, enrol_totp(owen))
    _record(harbour_tasking, "+44 7700 900123", otto)
    page = client.get(f"/admin/evidence/tasking/{tasking.pk}/change/")
    assert "Add online identities this tasking targets" in page.content.decode()

    # What cannot be read is refused line by line, and nothing is added.
    form = page.context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields if name not in {"assign", "identities"}}
    for name in ("window_start", "window_end"):
        value = form[name].value()
        data[f"{name}_0"], data[f"{name}_1"] = f"{value:%d/%m/%Y}", f"{value:%H:%M}"
    data.update({name: str(value) for name, value in data.items() if not isinstance(value, str)})
    for prefix in ("assignment_set", "exhibits", "notes", "statements", "bundles"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    formsets = page.context["inline_admin_formsets"]
    for inline in formsets:
        management = inline.formset.management_form
        data.update({f"{management.prefix}-{k}": v for k, v in management.initial.items()})
    refused = client.post(page.request["PATH_INFO"], {**data, "identities": "dave 77 on\n12"})
    assert refused.status_code == 200
    assert "Nothing was added" in _text(refused)
    assert not TaskingIdentifier.objects.filter(tasking=tasking).exists()

    with django_capture_on_commit_callbacks(execute=True):  # matched once the tasking is saved
        posted = client.post(page.request["PATH_INFO"], {**data, "identities": "07700 900123"})
    assert posted.status_code == 302 and posted["Location"].endswith(f"/{tasking.pk}/change/")
    saved = client.get(posted["Location"])
    said = _text(saved)
    assert "is paused" in said and otto.email in said, said[:2000]
    match = DeconflictionMatch.objects.get(tasking=tasking)
    assert Tasking.objects.get(pk=tasking.pk).status == Tasking.Status.PAUSED

    resolve_url = f"/admin/evidence/tasking/{tasking.pk}/deconfliction/{match.pk}/"
    assert resolve_url in saved.content.decode()
    shown = client.get(resolve_url)
    assert shown.status_code == 200 and match.reference in _text(shown) and "+447700900123" in _text(shown)
    # Recording it asks for the password again first.
    asked = client.post(resolve_url, {"outcome": "proceed", "reasons": ""})
    assert asked.status_code == 302 and asked["Location"].startswith(reverse("account_reauthenticate"))
    client.post(asked["Location"], {"password": PASSWORD})
    empty = client.post(resolve_url, {"outcome": "proceed", "reasons": ""})
    assert "Record the reasons" in _text(empty)
    assert Tasking.objects.get(pk=tasking.pk).status == Tasking.Status.PAUSED
    done = client.post(resolve_url, {"outcome": "proceed", "reasons": "Agreed with Otto by phone."}, follow=True)
    assert f"Match {match.reference} resolved" in _text(done)
    assert Tasking.objects.get(pk=tasking.pk).status == Tasking.Status.ACTIVE

    # Otto's scheme sees neither Lantern's tasking nor its match.
    client.logout()
    mfa_login(client, otto, enrol_totp(otto))
    assert client.get(resolve_url).status_code == 404
    assert client.get(f"/admin/evidence/tasking/{tasking.pk}/change/").status_code in {302, 404}


def test_identify_reads_what_an_exhibit_s_other_party_field_holds():
    identifiers, unreadable = identifiers_from_text("@Dave_77; mia.x@example.com, dave 77 the groomer", "Instagram")
    assert identifiers == [identify("dave_77", "instagram"), identify("mia.x@example.com")]
    assert len(unreadable) == 1 and "not an account name" in unreadable[0]


@pytest.mark.parametrize("who", ["vera", "wendy", "ada", "carla", "otto"])
def test_nobody_but_the_scheme_s_officers_reads_an_identity_or_a_match(
    client, request, who, tasking, owen, harbour_tasking, otto
):
    _record(tasking, "kestrel_9 on Kik", owen)
    (theirs,) = _record(harbour_tasking, "@Kestrel_9 on kik", otto)
    mine = DeconflictionMatch.objects.get(reference=theirs.reference, tasking=tasking)
    person = request.getfixturevalue(who)
    if who == "vera":
        client.force_login(person)
    else:
        mfa_login(client, person, enrol_totp(person))
    pages = [
        f"/admin/evidence/tasking/{tasking.pk}/change/",
        f"/admin/evidence/tasking/{tasking.pk}/deconfliction/{mine.pk}/",
        f"/taskings/{tasking.pk}/",
        "/",
        "/notices/",
    ]
    if who == "otto":  # his own side of the match: he sees his own tasking's identity, not Lantern's side
        pages.remove(f"/taskings/{tasking.pk}/")
    for path in pages:
        response = client.get(path)
        if path.startswith("/admin/evidence/tasking/"):
            assert response.status_code in {302, 403, 404}, (who, path, response.status_code)
        said = _text(response).lower()
        assert "kestrel" not in said and "kik" not in said, (who, path)
        assert mine.reference.lower() not in said or who == "otto", (who, path)
    assert client.post(
        f"/admin/evidence/tasking/{tasking.pk}/deconfliction/{mine.pk}/", {"outcome": "proceed", "reasons": "x"}
    ).status_code in {302, 403, 404}
    assert DeconflictionMatch.objects.get(pk=mine.pk).open


def test_every_sender_of_a_chat_export_but_the_persona_is_matched_by_a_job(
    assigned_vera, tasking, otto, harbour_tasking, tmp_path
):
    from portal.models import Job

    Tasking.objects.filter(pk=tasking.pk).update(persona_handles="@Mia_X")
    tasking.refresh_from_db()
    _record(harbour_tasking, "dave_77 on Platform X", otto)
    # The volunteer describes the other party in words: nothing to match in the form itself.
    exhibit = submit_exhibit(
        assigned_vera.user, tasking, tmp_path, "chat.txt", CHAT, "text/plain", other_party="the man in the chat"
    )
    assert Tasking.objects.get(pk=tasking.pk).status == Tasking.Status.ACTIVE
    job = Job.objects.get(kind="evidence.transcript_senders", object_id=str(exhibit.pk))

    from evidence.tasks import transcript_senders_job

    transcript_senders_job(job.pk)  # what the worker runs

    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED, job.last_error
    assert job.result == {"senders": 1, "not_accounts": 0, "matches": 1}
    recorded = TaskingIdentifier.objects.filter(tasking=tasking, source=TaskingIdentifier.Source.TRANSCRIPT)
    assert [str(row) for row in recorded] == ["dave_77 on platform x"]  # the persona's own account is not one
    assert Tasking.objects.get(pk=tasking.pk).status == Tasking.Status.PAUSED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_schemes_recording_one_identity_at_the_same_moment_meet_exactly_once(lantern, harbour, owen, otto):
    """Each check runs in its own transaction: without serialising them, each could miss the other's row."""
    import threading

    from django.db import connection

    taskings = [make_tasking(lantern, owen, reference="OP-L"), make_tasking(harbour, otto, reference="OP-H")]
    errors, barrier = [], threading.Barrier(len(taskings))

    def record(tasking, by):
        try:
            barrier.wait()
            _record(tasking, "+44 7700 900999", by)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=record, args=(t, t.controller)) for t in taskings]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert DeconflictionMatch.objects.count() == 2  # one match: a side for each tasking
    assert set(DeconflictionMatch.objects.values_list("tasking__reference", flat=True)) == {"OP-L", "OP-H"}
    assert set(Tasking.objects.values_list("status", flat=True)) == {Tasking.Status.PAUSED}


def test_a_new_key_is_rotated_in_without_a_match_being_missed(settings, tasking, owen, lantern, harbour, otto, capsys):
    from django.core.management import call_command

    from evidence.deconfliction.blind import keys

    old = keys()[0].id
    _record(tasking, "dave_77 on Instagram", owen)
    newer = "bmV3LWtleS1uZXcta2V5LW5ldy1rZXktbmV3LWtleS0xMjM0NTY3OA=="
    settings.PORTAL_DECONFLICTION_KEYS = [newer, *settings.PORTAL_DECONFLICTION_KEYS]
    new = keys()[0].id
    # Meanwhile: recording it again adds nothing, and another scheme still meets it under the old key.
    _record(tasking, "@Dave_77 on instagram", owen)
    assert list(TaskingIdentifier.objects.filter(tasking=tasking).values_list("key_id", flat=True)) == [old]
    first = make_tasking(harbour, otto, reference="OP-H-1")
    assert len(_record(first, "dave_77 on Instagram", otto)) == 1

    call_command("rotate_deconfliction_keys")
    # Lantern's row was under the old key; the one Harbour recorded since is under the new one already.
    assert "1 identity indexed again under the newest key" in capsys.readouterr().out
    assert set(TaskingIdentifier.objects.values_list("key_id", flat=True)) == {new}
    assert AuditEvent.objects.filter(action="evidence.deconfliction_reindex").exists()

    settings.PORTAL_DECONFLICTION_KEYS = [newer]  # the old key is gone now
    second = make_tasking(harbour, otto, reference="OP-H-2")
    assert len(_record(second, "instagram.com/dave_77", otto)) == 1
    assert Tasking.objects.get(pk=second.pk).status == Tasking.Status.PAUSED


def test_a_tasking_live_again_is_matched_again_but_a_resolved_match_is_not_raised_twice(
    tasking, owen, otto, harbour_tasking
):
    from datetime import timedelta

    from django.utils import timezone

    from evidence.deconfliction.services import tasking_recheck

    now = timezone.now()
    Tasking.objects.filter(pk=tasking.pk).update(
        window_start=now - timedelta(days=2), window_end=now - timedelta(hours=1)
    )
    ended = Tasking.objects.get(pk=tasking.pk)
    _record(ended, "kestrel_9 on Kik", owen)
    assert _record(harbour_tasking, "kestrel_9 on Kik", otto) == []  # Lantern's tasking is over

    Tasking.objects.filter(pk=tasking.pk).update(window_end=now + timedelta(days=2))  # its window is extended
    (found,) = tasking_recheck(tasking=Tasking.objects.get(pk=tasking.pk))
    assert {t.status for t in Tasking.objects.all()} == {Tasking.Status.PAUSED}

    for side in DeconflictionMatch.objects.filter(reference=found.reference):
        match_resolve(match=side, outcome="proceed", reasons="Agreed by phone.", by=side.tasking.controller)
    assert tasking_recheck(tasking=Tasking.objects.get(pk=tasking.pk)) == []  # resolved: not raised again
    assert {t.status for t in Tasking.objects.all()} == {Tasking.Status.ACTIVE}
