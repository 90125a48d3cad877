"""Exhibits through the real upload endpoint: the one rule at the door, hashing, refusals, custody."""

import hashlib
import io
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from evidence.models import CustodyEvent, Exhibit, Tasking
from portal.models import AuditEvent
from tests.conftest import PASSWORD, enrol_totp, make_tasking, mfa_login, on_postgres

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 40


def _fields(**overrides):
    data = {
        "description": "Chat with the suspect, both sides, from first contact.",
        "platform": "Platform X",
        "other_party": "user_4471",
        "url": "https://platform.example/chat/4471",
        "captured_at": (timezone.localtime() - timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M"),
        "capture_method": "Platform export",
    }
    data.update(overrides)
    return data


def _upload(client, tasking, content=PNG, name="capture.png", **overrides):
    data = _fields(**overrides)
    data["file"] = io.BytesIO(content)
    data["file"].name = name
    return client.post(f"/taskings/{tasking.pk}/exhibits/", data)


@pytest.fixture
def vera_client(client, assigned_vera):
    client.post("/accounts/login/", {"login": assigned_vera.user.email, "password": PASSWORD})
    return client


def _stored_files() -> list[str]:
    try:
        _, files = default_storage.listdir("exhibits")
    except FileNotFoundError:
        return []
    return files


def test_an_exhibit_is_hashed_referenced_and_put_in_custody(vera_client, assigned_vera, tasking):
    response = _upload(vera_client, tasking, browser_sha256=hashlib.sha256(PNG).hexdigest())
    assert response.status_code == 302
    exhibit = Exhibit.objects.get()
    assert exhibit.reference == "VD/1" and exhibit.sha256 == hashlib.sha256(PNG).hexdigest()
    assert exhibit.sniffed_type == "image/png" and exhibit.size == len(PNG)
    assert exhibit.stored_name != "capture.png" and "capture" not in exhibit.stored_name
    with default_storage.open(exhibit.stored_name, "rb") as handle:
        assert handle.read() == PNG
    assert list(exhibit.custody.values_list("action", flat=True)) == ["uploaded", "hash_verified"]
    assert AuditEvent.objects.filter(action="evidence.exhibit_submit").exists()
    _upload(vera_client, tasking)
    assert list(Exhibit.objects.values_list("reference", flat=True).order_by("sequence")) == ["VD/1", "VD/2"]


def test_a_browser_hash_that_differs_is_refused_and_nothing_is_kept(vera_client, tasking):
    response = _upload(vera_client, tasking, browser_sha256="0" * 64)
    assert response.status_code == 400
    assert b"calculated a different SHA-256" in response.content
    assert not Exhibit.objects.exists() and _stored_files() == []


def test_a_disallowed_type_is_refused_whatever_its_name(vera_client, tasking):
    response = _upload(vera_client, tasking, content=b"MZ\x90\x00" + b"\x00" * 500, name="holiday.jpg")
    assert response.status_code == 400 and b"This type of file cannot be accepted" in response.content
    assert not Exhibit.objects.exists() and _stored_files() == []


def test_a_traversal_name_is_never_used_for_storage(vera_client, tasking):
    _upload(vera_client, tasking, name="../../../etc/passwd.png")
    exhibit = Exhibit.objects.get()
    assert ".." not in exhibit.stored_name and exhibit.stored_name.startswith("exhibits/")


def test_an_oversize_file_is_refused_with_a_clear_message(vera_client, tasking, settings):
    settings.PORTAL_MAX_UPLOAD_BYTES = 2048
    response = _upload(vera_client, tasking)
    assert response.status_code == 400
    assert b"larger than the" in response.content
    assert not Exhibit.objects.exists() and _stored_files() == []


def test_a_bad_form_keeps_what_was_typed_and_stores_nothing(vera_client, tasking):
    response = _upload(vera_client, tasking, platform="", description="Kept description")
    assert response.status_code == 400
    assert b"Enter the platform" in response.content and b"Kept description" in response.content
    assert not Exhibit.objects.exists() and _stored_files() == []


def test_an_unassigned_volunteer_gets_not_found_at_every_door(client, deployable_vera, tasking):
    client.post("/accounts/login/", {"login": deployable_vera.user.email, "password": PASSWORD})
    assert client.get(f"/taskings/{tasking.pk}/").status_code == 404
    assert _upload(client, tasking).status_code == 404
    assert not Exhibit.objects.exists()


def test_a_suspended_tasking_refuses_a_direct_post_with_the_reason(vera_client, tasking):
    Tasking.objects.filter(pk=tasking.pk).update(status="suspended")
    response = _upload(vera_client, tasking)
    assert response.status_code == 400 and b"This tasking is suspended" in response.content
    assert not Exhibit.objects.exists() and _stored_files() == []


def test_the_tasking_page_states_the_decision(vera_client, tasking):
    body = vera_client.get(f"/taskings/{tasking.pk}/").content.decode()
    assert "You can submit evidence until" in body and "Mia" in body


def test_verify_custody_passes_then_names_a_changed_file(vera_client, tasking, capsys):
    _upload(vera_client, tasking)
    call_command("verify_custody")
    assert "Custody self-consistent: 1 exhibits" in capsys.readouterr().out
    exhibit = Exhibit.objects.get()
    # Someone holding the file keys stores other bytes under the exhibit's name: the hash shows it.
    default_storage.delete(exhibit.stored_name)
    default_storage._save(exhibit.stored_name, ContentFile(PNG + b"X"))
    with pytest.raises(CommandError, match=r"Exhibit VD/1 .*stored file's SHA-256"):
        call_command("verify_custody")
    # Someone without them changes a byte of what is stored: it no longer authenticates.
    with open(default_storage.raw_path(exhibit.stored_name), "r+b") as handle:
        handle.seek(-5, 2)
        last = handle.read(1)
        handle.seek(-5, 2)
        handle.write(bytes([last[0] ^ 1]))
    with pytest.raises(
        CommandError, match=r"Exhibit VD/1 .*stored file cannot be read: chunk 1 .* does not authenticate"
    ):
        call_command("verify_custody")


def test_verify_custody_names_a_tampered_custody_event(vera_client, tasking):
    _upload(vera_client, tasking)
    event = CustodyEvent.objects.first()
    with connection.cursor() as cursor:
        if on_postgres():
            cursor.execute("SET session_replication_role = replica")
        cursor.execute("UPDATE evidence_custodyevent SET actor_email = 'someone@else' WHERE id = %s", [event.pk])
        if on_postgres():
            cursor.execute("SET session_replication_role = origin")
    with pytest.raises(CommandError, match=rf"custody event {event.pk}: .*altered"):
        call_command("verify_custody")


@pytest.mark.postgres
def test_postgres_refuses_to_alter_or_delete_evidence(vera_client, tasking):
    from django.db import transaction
    from django.db.utils import DatabaseError

    _upload(vera_client, tasking)
    exhibit = Exhibit.objects.get()
    for statement in [
        "UPDATE evidence_exhibit SET sha256 = 'f' WHERE id = %s",
        "DELETE FROM evidence_exhibit WHERE id = %s",
        "UPDATE evidence_custodyevent SET action = 'viewed' WHERE exhibit_id = %s",
        "DELETE FROM evidence_custodyevent WHERE exhibit_id = %s",
    ]:
        with pytest.raises(DatabaseError, match="refused"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [exhibit.pk])
    Exhibit.objects.filter(pk=exhibit.pk).update(review_state="accepted")  # review may change
    assert Exhibit.objects.get(pk=exhibit.pk).sha256 == exhibit.sha256


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_submissions_get_unique_gap_free_references(lantern, owen, wendy, conduct):
    import threading

    from evidence import services
    from tests.conftest import clear_vetting, invite_and_apply, screen
    from volunteers.services import volunteer_transition

    volunteer = invite_and_apply(lantern, owen, "c@lantern.example", "Cara Concurrent")
    clear_vetting(volunteer, owen)
    screen(volunteer.user, wendy)
    volunteer.refresh_from_db()
    volunteer_transition(volunteer=volunteer, to="accredited", by=owen, reason="ok")
    tasking = make_tasking(lantern, owen, reference="OP-RACE")
    services.tasking_assign(tasking=tasking, volunteer=volunteer.user, by=owen)

    class Received:
        def __init__(self, i):
            self.name, self.size, self.sha256 = f"f{i}.png", 10, hashlib.sha256(str(i).encode()).hexdigest()

    errors = []
    barrier = threading.Barrier(12)

    def submit(i):
        try:
            barrier.wait()
            services.exhibit_submit(
                user=volunteer.user,
                tasking=tasking,
                upload=Received(i),
                sniffed_type="image/png",
                description="d",
                platform="p",
                other_party="o",
                url="",
                captured_at=timezone.now(),
                capture_method="m",
                store=lambda upload, name: None,
            )
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()  # close_old_connections() would keep it: connections persist (CONN_MAX_AGE)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert sorted(Exhibit.objects.values_list("sequence", flat=True)) == list(range(1, 13))


def test_officers_of_another_scheme_see_no_exhibits_in_the_admin(client, vera_client, tasking, otto):
    _upload(vera_client, tasking)
    exhibit = Exhibit.objects.get()
    vera_client.logout()
    mfa_login(client, otto, enrol_totp(otto))
    assert exhibit.reference.encode() not in client.get("/admin/evidence/exhibit/").content
    assert client.get(f"/admin/evidence/exhibit/{exhibit.pk}/change/", follow=True).status_code in {200, 404}
    assert (
        exhibit.sha256.encode() not in client.get(f"/admin/evidence/exhibit/{exhibit.pk}/change/", follow=True).content
    )


def _stream(client, tasking, content=PNG, **meta_overrides):
    import json
    from urllib.parse import quote

    meta = {**_fields(), **meta_overrides}
    return client.generic(
        "POST",
        f"/taskings/{tasking.pk}/exhibits/stream/",
        data=content,
        content_type="application/octet-stream",
        HTTP_X_EXHIBIT_METADATA=quote(json.dumps(meta)),
        HTTP_X_FILE_NAME=quote("chat export.png"),
    )


def test_the_streamed_path_records_an_exhibit_like_the_form(vera_client, tasking):
    response = _stream(vera_client, tasking, browser_sha256=hashlib.sha256(PNG).hexdigest())
    assert response.status_code == 201
    assert response.json() == {"reference": "VD/1", "sha256": hashlib.sha256(PNG).hexdigest(), "size": len(PNG)}
    assert Exhibit.objects.get().original_name == "chat export.png"


def test_the_streamed_path_refuses_bad_details_before_reading_the_file(vera_client, tasking):
    response = _stream(vera_client, tasking, platform="")
    assert response.status_code == 400 and response.json()["errors"]["platform"] == ["Enter the platform"]
    assert not Exhibit.objects.exists() and _stored_files() == []


def test_the_streamed_path_refuses_oversize_and_mismatched_hashes(vera_client, tasking, settings):
    assert _stream(vera_client, tasking, browser_sha256="1" * 64).status_code == 400
    settings.PORTAL_MAX_UPLOAD_BYTES = 1024
    response = _stream(vera_client, tasking)
    assert response.status_code == 413 and "limit for an exhibit" in response.json()["errors"]["__all__"][0]
    assert not Exhibit.objects.exists() and _stored_files() == []


def test_the_streamed_path_states_the_one_rules_reasons(vera_client, tasking):
    Tasking.objects.filter(pk=tasking.pk).update(status="closed")
    response = _stream(vera_client, tasking)
    assert response.status_code == 403 and "This tasking is closed." in response.json()["errors"]["__all__"]


# --- getting evidence out, and officer review --------------------------------------------------------------


@pytest.fixture
def exhibit(vera_client, tasking):
    _upload(vera_client, tasking)
    return Exhibit.objects.get()


def test_the_producer_downloads_their_exhibit_and_custody_records_it(vera_client, exhibit):
    response = vera_client.get(f"/exhibits/{exhibit.pk}/download/")
    assert response.status_code == 200 and b"".join(response.streaming_content) == PNG
    assert response["Content-Disposition"].startswith('attachment; filename="VD_1.png"')
    assert exhibit.custody.filter(action="downloaded").count() == 1
    assert AuditEvent.objects.filter(action="evidence.exhibit_open").exists()


def test_a_quarantined_exhibit_is_never_returned_to_the_volunteer(vera_client, tasking):
    _upload(vera_client, tasking, possible_indecent_image="on")
    exhibit = Exhibit.objects.get()
    assert exhibit.quarantined
    assert vera_client.get(f"/exhibits/{exhibit.pk}/download/").status_code == 404
    body = vera_client.get(f"/taskings/{tasking.pk}/exhibits/").content.decode()
    assert "Quarantined: not shown" in body and exhibit.description not in body
    assert f"/exhibits/{exhibit.pk}/download/" not in body


def test_only_officers_with_the_specific_permission_open_quarantined_material_and_it_counts_as_exposure(
    client, vera_client, tasking, owen
):
    from django.contrib.auth.models import Permission

    from volunteers.models import ExposureEvent

    _upload(vera_client, tasking, possible_indecent_image="on")
    exhibit = Exhibit.objects.get()
    vera_client.logout()
    mfa_login(client, owen, enrol_totp(owen))
    assert client.get(f"/exhibits/{exhibit.pk}/download/").status_code == 404
    owen.user_permissions.add(Permission.objects.get(codename="open_quarantined"))
    response = client.get(f"/exhibits/{exhibit.pk}/download/")
    assert response.status_code == 200
    assert ExposureEvent.objects.filter(person=owen, source__contains=exhibit.reference).exists()
    assert exhibit.custody.filter(action="downloaded", actor_email=owen.email).exists()


def test_another_volunteer_and_another_schemes_officer_get_not_found(client, exhibit, lantern, otto):
    from portal import roles
    from tests.conftest import make_person

    client.logout()
    mfa_login(client, otto, enrol_totp(otto))
    assert client.get(f"/exhibits/{exhibit.pk}/download/").status_code == 404
    client.logout()
    other = make_person("o@lantern.example", roles.VOLUNTEER, lantern)
    client.post("/accounts/login/", {"login": other.email, "password": PASSWORD})
    assert client.get(f"/exhibits/{exhibit.pk}/download/").status_code == 404
    assert not exhibit.custody.filter(action="downloaded").exists()


def test_an_officer_marks_an_exhibit_unused_on_mg6d_with_a_reason(client, exhibit, owen):
    from evidence.models import UnusedMaterial

    client.logout()
    mfa_login(client, owen, enrol_totp(owen))
    url = f"/admin/evidence/exhibit/{exhibit.pk}/review/"
    response = client.post(url, {"review": "1", "decision": "unused", "schedule": "MG6D", "reason": ""}, follow=True)
    assert b"MG6D needs the reason" in response.content
    client.post(url, {"review": "1", "decision": "unused", "schedule": "MG6D", "reason": "Reveals the persona."})
    exhibit.refresh_from_db()
    assert exhibit.review_state == "unused"
    assert UnusedMaterial.objects.get(exhibit=exhibit).schedule == "MG6D"
    assert exhibit.custody.filter(action="marked_unused").exists()


def test_an_officer_rejects_with_a_reason_and_cannot_review_twice(client, exhibit, owen):
    client.logout()
    mfa_login(client, owen, enrol_totp(owen))
    url = f"/admin/evidence/exhibit/{exhibit.pk}/review/"
    client.post(url, {"review": "1", "decision": "rejected", "reason": "Duplicate of VD/2."})
    response = client.post(url, {"review": "1", "decision": "accepted", "reason": ""}, follow=True)
    assert b"has already been reviewed" in response.content
    exhibit.refresh_from_db()
    assert exhibit.review_state == "rejected"


# --- safeguarding -------------------------------------------------------------------------------------


def test_a_safeguarding_alert_emails_the_officers_shows_a_banner_and_times_the_acknowledgement(
    client, vera_client, tasking, owen, django_capture_on_commit_callbacks
):
    from django.core import mail

    from evidence.models import SafeguardingAlert

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = vera_client.post(f"/taskings/{tasking.pk}/safeguarding/", {"note": "Says he is with a 12-year-old."})
    assert response.status_code == 302
    assert mail.outbox[0].to == [owen.email] and "URGENT" in mail.outbox[0].subject
    client.logout()
    mfa_login(client, owen, enrol_totp(owen))
    assert b"Safeguarding alert: a real child may be at risk" in client.get("/admin/").content
    alert = SafeguardingAlert.objects.get()
    client.post(f"/admin/evidence/safeguardingalert/{alert.pk}/acknowledge/")
    alert.refresh_from_db()
    assert alert.acknowledged_by == owen and alert.time_to_acknowledge is not None
    assert b"Safeguarding alert: a real child" not in client.get("/admin/").content


def test_an_unassigned_volunteer_cannot_raise_an_alert_on_a_tasking(client, deployable_vera, tasking):
    from evidence.models import SafeguardingAlert

    client.post("/accounts/login/", {"login": deployable_vera.user.email, "password": PASSWORD})
    assert client.post(f"/taskings/{tasking.pk}/safeguarding/").status_code == 404
    assert not SafeguardingAlert.objects.exists()


def test_the_conduct_guard_flags_decoy_lines_for_review_without_altering_the_exhibit(vera_client, tasking):
    Tasking.objects.filter(pk=tasking.pk).update(persona_handles="mia_x")
    transcript = b"[14:01] dave_77: hi\n[14:02] mia_x: want to meet up later?\n[14:03] dave_77: ok\n"
    response = _upload(vera_client, tasking, content=transcript, name="chat.txt")
    assert response.status_code == 302
    exhibit = Exhibit.objects.get()
    assert exhibit.sniffed_type == "text/plain"
    assert exhibit.conduct_flags == [
        {"line": 2, "text": "want to meet up later?", "pattern": exhibit.conduct_flags[0]["pattern"]}
    ]
    with default_storage.open(exhibit.stored_name, "rb") as handle:
        assert handle.read() == transcript


def test_another_schemes_officer_gets_nothing_by_url_tampering_in_the_admin(client, vera_client, tasking, otto):
    _upload(vera_client, tasking)
    exhibit = Exhibit.objects.get()
    client.logout()
    mfa_login(client, otto, enrol_totp(otto))
    for url in [
        f"/admin/evidence/tasking/{tasking.pk}/change/",
        f"/admin/evidence/tasking/{tasking.pk}/history/",
        f"/admin/evidence/exhibit/{exhibit.pk}/history/",
        f"/admin/evidence/exhibit/{exhibit.pk}/review/",
        f"/admin/evidence/authorisation/{tasking.authorisation_id}/change/",
    ]:
        response = client.get(url, follow=True)
        body = response.content.decode()
        assert tasking.persona not in body and exhibit.sha256 not in body, url
        assert tasking.authorisation.reference not in body or response.status_code == 404, url
    assert tasking.reference.encode() not in client.get("/admin/evidence/tasking/").content


def test_opening_distressing_material_counts_as_the_openers_exposure(vera_client, tasking, assigned_vera):
    from volunteers.models import ExposureEvent

    _upload(vera_client, tasking, distressing="on")
    exhibit = Exhibit.objects.get()
    assert exhibit.distressing and not exhibit.quarantined
    assert vera_client.get(f"/exhibits/{exhibit.pk}/download/").status_code == 200
    assert ExposureEvent.objects.filter(person=assigned_vera.user, source__contains="distressing").exists()


def test_verify_custody_reads_the_chains_in_batches_and_names_the_first_broken_one(
    assigned_vera, tasking, tmp_path, monkeypatch
):
    """Checking the whole platform costs a query per batch of exhibits, not one per exhibit; a tampered
    event in a later batch is still named."""
    from django.test.utils import CaptureQueriesContext

    from evidence import custody
    from tests.integration.bundle_helpers import CHAT, submit_exhibit

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert all(problem is None for _, problem in custody.custody_verify_all())
        return len(queries)

    for n in range(3):
        submit_exhibit(assigned_vera.user, tasking, tmp_path, f"a{n}.txt", CHAT + bytes([n]), "text/plain")
    few = count_queries()
    for n in range(12):
        submit_exhibit(assigned_vera.user, tasking, tmp_path, f"b{n}.txt", CHAT + bytes([n, 1]), "text/plain")
    assert count_queries() == few

    monkeypatch.setattr(custody, "BATCH", 4)
    late = CustodyEvent.objects.filter(exhibit__reference="VD/14").first()
    with connection.cursor() as cursor:
        if on_postgres():
            cursor.execute("SET session_replication_role = replica")
        cursor.execute("UPDATE evidence_custodyevent SET detail = '{}' WHERE id = %s", [late.pk])
        if on_postgres():
            cursor.execute("SET session_replication_role = origin")
    with pytest.raises(CommandError, match=rf"Exhibit VD/14 .*custody event {late.pk}: .*altered"):
        call_command("verify_custody")
