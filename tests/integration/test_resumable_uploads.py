"""Resumable exhibit uploads (tus 1.0): pieces in any number of requests, resumed from what the server holds,
one SHA-256 over the whole file, the one rule asked at every step, and nothing of anyone else's reachable."""

from __future__ import annotations

import base64
import hashlib
import http.client
import itertools
import json
import os
import signal
import time
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone

from evidence.models import Authorisation, CustodyEvent, Exhibit, ResumableUpload
from evidence.resumable import CHECKPOINT_BYTES, part_path, resumable_expire
from evidence.tasks import expire_resumable_uploads_task
from tests.conftest import PASSWORD, wait_for

MiB = 1024 * 1024
DETAILS = {
    "description": "Chat with dave_77, evening of 1 December",
    "platform": "WhatsApp",
    "other_party": "dave_77",
    "captured_at": "2026-12-01 19:00",
    "capture_method": "Exported from the app",
}
TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}


def chat(size: int) -> bytes:
    line = b"[01/12/2026, 19:02] dave_77: are you still there?\n"
    return (line * (size // len(line) + 1))[:size]


def metadata(name: str = "chat.txt", details: dict | None = None) -> str:
    pairs = {"filename": name, "filetype": "text/plain", "exhibit": json.dumps(details or DETAILS)}
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in pairs.items())


@pytest.fixture
def spool(settings, tmp_path):
    path = tmp_path / "spool"
    path.mkdir()
    settings.PORTAL_UPLOAD_TEMP_DIR = str(path)
    return path


@pytest.fixture
def vera_client(assigned_vera, spool):
    client = Client(enforce_csrf_checks=False)
    client.post("/accounts/login/", {"login": assigned_vera.user.email, "password": PASSWORD})
    return client


def create(client, tasking, length: int, **extra):
    return client.post(
        f"/taskings/{tasking.pk}/uploads/",
        HTTP_UPLOAD_LENGTH=str(length),
        HTTP_UPLOAD_METADATA=extra.pop("meta", metadata()),
        **TUS,
        **extra,
    )


def patch(client, url: str, offset: int, body: bytes):
    return client.generic(
        "PATCH",
        url,
        data=body,
        content_type="application/offset+octet-stream",
        HTTP_UPLOAD_OFFSET=str(offset),
        **TUS,
    )


def test_an_upload_in_pieces_becomes_one_exhibit_hashed_once_over_the_whole_file(vera_client, tasking, spool):
    content = chat(20 * MiB + 12345)
    created = create(vera_client, tasking, len(content))
    assert created.status_code == 201 and created["Tus-Resumable"] == "1.0.0"
    url = created["Location"]
    assert vera_client.head(url, **TUS)["Upload-Offset"] == "0"

    cuts = [0, 3 * MiB, 11 * MiB, len(content)]
    for start, end in itertools.pairwise(cuts):
        # A piece sent twice (the client did not see the answer) is refused with where to continue.
        if start:
            again = patch(vera_client, url, start - 1000, content[start - 1000 : end])
            assert again.status_code == 409 and again["Upload-Offset"] == str(start)
        response = patch(vera_client, url, start, content[start:end])
        if end < len(content):
            assert response.status_code == 204 and response["Upload-Offset"] == str(end)
            assert vera_client.head(url, **TUS)["Upload-Offset"] == str(end)
    assert response.status_code == 200, response.content
    body = response.json()
    exhibit = Exhibit.objects.get()
    assert body == {"reference": exhibit.reference, "sha256": hashlib.sha256(content).hexdigest(), "size": len(content)}
    assert exhibit.sha256 == hashlib.sha256(content).hexdigest() and exhibit.original_name == "chat.txt"
    assert exhibit.description == DETAILS["description"]
    with default_storage.open(exhibit.stored_name, "rb") as fh:
        assert fh.read() == content  # every byte exactly once
    assert CustodyEvent.objects.filter(exhibit=exhibit, action=CustodyEvent.Action.UPLOADED).count() == 1
    assert os.listdir(spool) == []

    # The answer to the last piece was lost: asking again names the same exhibit, and nothing is stored twice.
    head = vera_client.head(url, **TUS)
    assert head.status_code == 200 and head["Upload-Offset"] == str(len(content))
    assert json.loads(head["X-Exhibit"]) == body
    again = patch(vera_client, url, len(content) - MiB, content[-MiB:])
    assert again.status_code == 200 and again.json() == body
    assert Exhibit.objects.count() == 1
    assert vera_client.delete(url, **TUS).status_code == 204  # forgetting the upload keeps the exhibit
    assert Exhibit.objects.count() == 1 and not ResumableUpload.objects.exists()


def test_a_server_killed_mid_request_resumes_from_its_last_durable_byte(vera_client, tasking, spool):
    """A request cut short leaves bytes past the recorded offset: they are cut back, then resumed."""
    content = chat(5 * MiB)
    url = create(vera_client, tasking, len(content))["Location"]
    assert patch(vera_client, url, 0, content[: 2 * MiB]).status_code == 204
    upload = ResumableUpload.objects.get()
    with open(part_path(upload), "ab") as fh:
        fh.write(b"half-written garbage of a request the server never finished")
    assert vera_client.head(url, **TUS)["Upload-Offset"] == str(2 * MiB)
    assert patch(vera_client, url, 2 * MiB, content[2 * MiB :]).status_code == 200
    assert Exhibit.objects.get().sha256 == hashlib.sha256(content).hexdigest()


def test_a_volunteer_whose_permission_lapses_meanwhile_is_refused_with_the_reasons_and_the_part_removed(
    vera_client, tasking, spool
):
    content = chat(3 * MiB)
    url = create(vera_client, tasking, len(content))["Location"]
    assert patch(vera_client, url, 0, content[:MiB]).status_code == 204
    Authorisation.objects.filter(pk=tasking.authorisation_id).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = patch(vera_client, url, MiB, content[MiB:])  # the piece that would complete it
    assert response.status_code == 403
    (reason,) = response.json()["errors"]["__all__"]
    assert reason.startswith("Nothing was stored: ") and "authorisation" in reason.lower()
    assert not Exhibit.objects.exists()
    assert not ResumableUpload.objects.exists() and os.listdir(spool) == []
    assert vera_client.head(url, **TUS).status_code == 404


def test_an_undeployable_volunteer_is_refused_before_a_byte_is_sent(vera_client, tasking, assigned_vera, wendy, spool):
    from volunteers.services import stand_down_place

    stand_down_place(person=assigned_vera.user, detail="Rest after a distressing chat.", by=wendy)
    response = create(vera_client, tasking, 1000)
    assert response.status_code == 403 and response.json()["errors"]["__all__"]
    assert not ResumableUpload.objects.exists() and os.listdir(spool) == []


def test_details_are_checked_at_creation_and_size_against_the_limit(vera_client, tasking, settings, spool):
    missing = create(vera_client, tasking, 100, meta=metadata(details={**DETAILS, "description": ""}))
    assert missing.status_code == 400 and "description" in missing.json()["errors"]
    settings.PORTAL_MAX_UPLOAD_BYTES = 10 * MiB
    too_big = create(vera_client, tasking, 10 * MiB + 1)
    assert too_big.status_code == 413
    assert "larger than the 10.0\xa0MB limit" in too_big.json()["errors"]["__all__"][0]
    garbled = create(vera_client, tasking, 100, meta="exhibit not-base64!")
    assert garbled.status_code == 400
    assert not ResumableUpload.objects.exists()


def test_nobody_else_can_see_continue_or_cancel_her_upload(vera_client, tasking, assigned_vera, lantern, owen, spool):
    from evidence.services import tasking_assign
    from tests.conftest import clear_vetting, invite_and_apply

    url = create(vera_client, tasking, 2 * MiB)["Location"]
    assert patch(vera_client, url, 0, chat(MiB)).status_code == 204

    colleague = invite_and_apply(lantern, owen, "cleo@lantern.example", "Cleo Colleague")
    clear_vetting(colleague, owen)
    tasking_assign(tasking=tasking, volunteer=colleague.user, by=owen)
    other = Client()
    other.force_login(colleague.user)
    assert other.head(url, **TUS).status_code == 404
    assert patch(other, url, MiB, chat(MiB)).status_code == 404
    assert other.delete(url, **TUS).status_code == 404
    anonymous = Client()
    assert anonymous.head(url, **TUS).status_code == 401
    assert vera_client.head(url, **TUS)["Upload-Offset"] == str(MiB)  # untouched

    assert vera_client.delete(url, **TUS).status_code == 204  # she cancels: gone
    assert not ResumableUpload.objects.exists() and os.listdir(spool) == []


def test_an_upload_nobody_continues_expires_and_is_removed(vera_client, tasking, spool, settings):
    url = create(vera_client, tasking, 2 * MiB)["Location"]
    patch(vera_client, url, 0, chat(MiB))
    done = create(vera_client, tasking, MiB)["Location"]
    assert patch(vera_client, done, 0, chat(MiB)).status_code == 200
    assert resumable_expire() == 0
    ResumableUpload.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    assert expire_resumable_uploads_task.apply().get() == 1  # the unfinished one; the finished one's record goes too
    assert not ResumableUpload.objects.exists() and os.listdir(spool) == []
    assert Exhibit.objects.count() == 1
    assert "evidence.expire_resumable_uploads" in {e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()}


def test_the_protocol_is_announced(client, tasking, db):
    response = client.options(f"/taskings/{tasking.pk}/uploads/")
    assert response.status_code == 204
    assert response["Tus-Version"] == "1.0.0"
    assert set(response["Tus-Extension"].split(",")) == {"creation", "termination", "expiration"}


# --- over a real server: killed mid-upload and started again; its database connection cut mid-upload ----


class LiveTus:
    """Vera's resumable uploads against gunicorn (web_server), as tus-js-client sends them."""

    def __init__(self, web_server, volunteer, tasking) -> None:
        client = Client()
        client.post("/accounts/login/", {"login": volunteer.user.email, "password": PASSWORD})
        client.get(f"/taskings/{tasking.pk}/")
        csrf = client.cookies["csrftoken"].value
        self.headers = {
            "Cookie": f"sessionid={client.cookies['sessionid'].value}; csrftoken={csrf}",
            "X-CSRFToken": csrf,
            "Tus-Resumable": "1.0.0",
        }
        self.server = web_server
        self.tasking = tasking

    def request(self, method: str, path: str, extra: dict | None = None, body: bytes = b""):
        connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers={**self.headers, **(extra or {})})
            response = connection.getresponse()
            response.read()
            return response
        finally:
            connection.close()

    def create(self, length: int) -> str:
        created = self.request(
            "POST",
            f"/taskings/{self.tasking.pk}/uploads/",
            {"Upload-Length": str(length), "Upload-Metadata": metadata()},
        )
        assert created.status == 201, self.server.output()
        return "/" + created.getheader("Location").split("/", 3)[3]

    def send_until(self, path: str, content: bytes, held: int):
        """Send the whole file in one request, slowly, until the portal has recorded `held` bytes; return the
        connection, still open, with the rest unsent."""
        connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)
        connection.putrequest("PATCH", path)
        for name, value in {
            **self.headers,
            "Content-Type": "application/offset+octet-stream",
            "Upload-Offset": "0",
            "Content-Length": str(len(content)),
        }.items():
            connection.putheader(name, value)
        connection.endheaders()
        sent = 0
        while ResumableUpload.objects.get().offset < held:
            assert sent < len(content), self.server.output()
            connection.send(content[sent : sent + 256 * 1024])
            sent += 256 * 1024
            time.sleep(0.01)
        return connection, sent

    def offset(self, path: str) -> int | None:
        try:
            response = self.request("HEAD", path)
        except OSError:  # still starting
            return None
        return int(response.getheader("Upload-Offset")) if response.status == 200 else None

    def finish(self, path: str, content: bytes, offset: int) -> None:
        done = self.request(
            "PATCH",
            path,
            {"Content-Type": "application/offset+octet-stream", "Upload-Offset": str(offset)},
            content[offset:],
        )
        assert done.status == 200, (done.status, self.server.output())
        exhibit = Exhibit.objects.get()
        assert exhibit.sha256 == hashlib.sha256(content).hexdigest() and exhibit.size == len(content)
        with default_storage.open(exhibit.stored_name, "rb") as fh:
            assert hashlib.sha256(fh.read()).hexdigest() == exhibit.sha256  # each byte once, none lost


@pytest.fixture
def live_tus(transactional_db, web_server, assigned_vera, tasking, spool):
    web_server.start()
    return LiveTus(web_server, assigned_vera, tasking)


def test_a_killed_and_restarted_server_costs_only_the_bytes_after_its_last_checkpoint(live_tus, spool):
    content = chat(3 * CHECKPOINT_BYTES + 4321)
    path = live_tus.create(len(content))
    connection, _ = live_tus.send_until(path, content, CHECKPOINT_BYTES)
    live_tus.server.stop(signal.SIGKILL)  # killed mid-request, as by the out-of-memory killer
    connection.close()
    held = ResumableUpload.objects.get().offset
    assert CHECKPOINT_BYTES <= held < len(content)

    live_tus.server.start()  # the operator (or systemd) starts it again
    assert wait_for(lambda: live_tus.offset(path) is not None, timeout=30), live_tus.server.output()
    assert live_tus.offset(path) == held  # resumed from the last durable byte, not from zero
    live_tus.finish(path, content, held)
    assert os.listdir(spool) == []


@pytest.mark.postgres
def test_a_database_restart_mid_upload_costs_only_the_bytes_after_the_last_checkpoint(live_tus, spool):
    """The database drops the web worker's connection mid-upload, as a restart does: that request fails at
    its next checkpoint, the next one reconnects, and the upload continues from the last recorded byte."""
    from django.db import connection as ours

    content = chat(4 * CHECKPOINT_BYTES + 99)
    path = live_tus.create(len(content))
    connection, sent = live_tus.send_until(path, content, CHECKPOINT_BYTES)
    with ours.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        assert cursor.fetchone()[0] >= 1  # the web worker's connection
    try:
        connection.send(content[sent:])
        failed = connection.getresponse()
        failed.read()
        assert failed.status >= 500  # this request could not record its bytes
    except OSError:
        pass  # or the server gave up on the request before it was all sent
    finally:
        connection.close()
    held = ResumableUpload.objects.get().offset
    assert CHECKPOINT_BYTES <= held < len(content)
    assert live_tus.offset(path) == held  # the next request has a new connection: nothing more is lost
    live_tus.finish(path, content, held)
