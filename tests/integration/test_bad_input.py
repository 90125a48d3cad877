"""Bad input gets a specific answer and loses nothing already stored: a NUL in a note, a statement or an
address, a non-numeric statement id, an upload sent in chunks — and a safeguarding alert is raised whatever
its note holds."""

import html
import http.client
import json
from urllib.parse import urlsplit

import pytest
from django.core import mail

from evidence.models import ContemporaneousNote, Exhibit, SafeguardingAlert, Statement
from tests.conftest import PASSWORD, enrol_totp, mfa_login

NUL = "\x00"


def text(response) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def vera_client(client, assigned_vera):
    client.post("/accounts/login/", {"login": assigned_vera.user.email, "password": PASSWORD})
    return client


def test_a_note_holding_a_nul_is_refused_beside_the_box_with_what_she_typed_kept(vera_client, tasking):
    typed = f"19:02 contact made{NUL} by dave_77"
    response = vera_client.post(f"/taskings/{tasking.pk}/notes/", {"text": typed})
    assert response.status_code == 400
    body = response.content.decode()
    assert "The note contains a character that cannot be stored" in body
    assert 'id="note-text-error"' in body and "19:02 contact made" in body
    assert not ContemporaneousNote.objects.exists()


def test_a_statement_holding_a_nul_is_refused_and_no_draft_is_started(vera_client, tasking):
    response = vera_client.post(f"/taskings/{tasking.pk}/statements/new/", {"body": f"I saw{NUL} it."})
    assert response.status_code == 200
    assert "The statement contains a character that cannot be stored" in response.content.decode()
    assert not Statement.objects.exists()


def test_a_safeguarding_alert_whose_note_holds_a_nul_is_still_raised_and_she_is_told_what_changed(
    vera_client, tasking, assigned_vera, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = vera_client.post(
            f"/taskings/{tasking.pk}/safeguarding/", {"note": f"She is 12{NUL}{NUL}."}, follow=True
        )
    alert = SafeguardingAlert.objects.get()
    assert alert.note == "She is 12." and alert.raised_by == assigned_vera.user
    assert len(mail.outbox) == 1 and "She is 12." in mail.outbox[0].body
    body = text(response)
    assert "have been alerted" in body
    assert "2 hidden characters that could not be stored were removed" in body


def test_a_very_long_safeguarding_note_is_kept_to_its_start_and_she_is_told(vera_client, tasking):
    response = vera_client.post(f"/taskings/{tasking.pk}/safeguarding/", {"note": "x" * 12_000}, follow=True)
    assert len(SafeguardingAlert.objects.get().note) == 10_000
    assert "only the first 10,000 of 12,000 characters were kept" in text(response)


@pytest.mark.parametrize("corrects", ["abc", "1.5", "-1", "99999999999999999999999", "\u0661"])
def test_a_further_statement_that_names_no_signed_statement_of_hers_is_not_found(vera_client, tasking, corrects):
    assert vera_client.get(f"/taskings/{tasking.pk}/statements/new/?corrects={corrects}").status_code == 404


def test_a_nul_in_an_address_is_refused_with_a_reason_on_the_volunteer_pages(vera_client, tasking):
    response = vera_client.get(f"/taskings/{tasking.pk}/?tab=%00")
    assert response.status_code == 400
    assert "hidden 'null' control character" in text(response)


def test_a_nul_in_an_admin_filter_or_search_is_refused_with_a_reason(client, owen, tasking):
    mfa_login(client, owen, enrol_totp(owen))
    for query in ("tasking__id__exact=%00", "q=OP%00", "review_state__exact=%00accepted"):
        response = client.get(f"/admin/evidence/exhibit/?{query}")
        assert response.status_code == 400, query
        assert "hidden 'null' control character" in text(response)


def test_exhibit_metadata_holding_a_lone_surrogate_is_refused_by_field(vera_client, tasking):
    meta = {
        "description": "Chat \ud83d export",  # half an emoji, as broken JSON from another tool carries it
        "platform": "Platform X",
        "other_party": "dave_77",
        "captured_at": "2026-12-01 19:00",
        "capture_method": "Export",
    }
    header = json.dumps(meta)  # ASCII escapes: \ud83d arrives as a lone surrogate after json.loads
    response = vera_client.post(
        f"/taskings/{tasking.pk}/exhibits/stream/",
        data=b"hello",
        content_type="application/octet-stream",
        HTTP_ACCEPT="application/json",
        HTTP_X_EXHIBIT_METADATA=header,
        HTTP_X_FILE_NAME="chat.txt",
    )
    assert response.status_code == 400
    assert "cannot be stored" in response.json()["errors"]["description"][0]
    assert not Exhibit.objects.exists()


# --- uploads sent with chunked transfer encoding, over a real HTTP connection ------------------------------


def _chunked_post(base_url: str, path: str, cookies: str, headers: dict, body: bytes) -> tuple[int, bytes]:
    """What curl -T or a streaming client sends: Transfer-Encoding: chunked and no Content-Length."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request(
            "POST",
            path,
            body=iter([body[: len(body) // 2], body[len(body) // 2 :]]),
            headers={"Cookie": cookies, **headers},
            encode_chunked=True,
        )
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.fixture
def vera_live(live_server, assigned_vera, tasking):
    """Vera's session cookie and CSRF token for the live server."""
    from django.test import Client

    client = Client()
    client.post("/accounts/login/", {"login": assigned_vera.user.email, "password": PASSWORD})
    client.get(f"/taskings/{tasking.pk}/")
    csrf = client.cookies["csrftoken"].value
    cookies = f"sessionid={client.cookies['sessionid'].value}; csrftoken={csrf}"
    return live_server.url, cookies, csrf


def test_a_chunked_upload_to_the_streaming_path_is_refused_as_length_required(vera_live, tasking):
    base, cookies, csrf = vera_live
    meta = json.dumps(
        {
            "description": "d",
            "platform": "p",
            "other_party": "o",
            "captured_at": "2026-12-01 19:00",
            "capture_method": "c",
        }
    )
    status, body = _chunked_post(
        base,
        f"/taskings/{tasking.pk}/exhibits/stream/",
        cookies,
        {
            "Accept": "application/json",
            "X-CSRFToken": csrf,
            "X-Exhibit-Metadata": meta,
            "Content-Type": "application/octet-stream",
        },
        b"[19:02] dave_77: hi\n" * 100,
    )
    assert status == 411
    assert "sent without it (in 'chunked' pieces). Nothing was stored." in json.loads(body)["errors"]["__all__"][0]
    assert not Exhibit.objects.exists()


def test_a_chunked_upload_through_the_form_is_refused_as_length_required(vera_live, tasking):
    base, cookies, csrf = vera_live
    boundary = "portalboundary"
    form = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n{csrf}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="chat.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n[19:02] dave_77: hi\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    status, body = _chunked_post(
        base,
        f"/taskings/{tasking.pk}/exhibits/",
        cookies,
        {"Content-Type": f"multipart/form-data; boundary={boundary}"},
        form,
    )
    assert status == 411
    page = body.decode()
    assert "Length required" in page and "Nothing was stored." in page
    assert "This type of file cannot be accepted" not in page
    assert not Exhibit.objects.exists()
