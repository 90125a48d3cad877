"""A full disk: both upload paths answer 507 with the words a volunteer can act on, over a real connection
that stays whole (the rest of the body is read first), keeping nothing and losing nothing already stored.

The disk is real: a 4 MiB tmpfs mounted for the test as PORTAL_UPLOAD_TEMP_DIR (needs root or sudo); the
server is gunicorn, as in production (Django's test server reads an unread body itself, hiding the fault).
"""

from __future__ import annotations

import html
import http.client
import json
import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from evidence.models import Exhibit
from evidence.views import NO_SPACE
from tests.conftest import PASSWORD, require

MiB = 1024 * 1024
UPLOAD = 64 * MiB  # sixteen times the disk, and more than the kernel buffers between client and server
FIELDS = {
    "description": "Chat with dave_77, evening of 1 December",
    "platform": "WhatsApp",
    "other_party": "dave_77",
    "captured_at": "2026-12-01 19:00",
    "capture_method": "Exported from the app",
}


def _as_root(*command: str) -> subprocess.CompletedProcess:
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    return subprocess.run([*prefix, *command], capture_output=True, text=True)


@pytest.fixture
def full_disk(settings, tmp_path) -> Path:
    mount = tmp_path / "small-disk"
    mount.mkdir()
    require(
        os.geteuid() == 0 or shutil.which("sudo") is not None, "this test mounts a small tmpfs: run as root or sudo"
    )
    mounted = _as_root("mount", "-t", "tmpfs", "-o", "size=4m,mode=1777", "tmpfs", str(mount))
    require(mounted.returncode == 0, f"this test mounts a small tmpfs: {mounted.stderr.strip()}")
    settings.PORTAL_UPLOAD_TEMP_DIR = str(mount)
    yield mount
    _as_root("umount", "-l", str(mount))


@pytest.fixture
def vera_live(transactional_db, web_server, full_disk, assigned_vera, tasking):
    """Vera signed in, against gunicorn with its upload folder on the small disk."""
    from django.test import Client

    web_server.start()
    client = Client()
    client.post("/accounts/login/", {"login": assigned_vera.user.email, "password": PASSWORD})
    client.get(f"/taskings/{tasking.pk}/")
    csrf = client.cookies["csrftoken"].value
    return web_server.url, f"sessionid={client.cookies['sessionid'].value}; csrftoken={csrf}", csrf


def _post(base: str, path: str, headers: dict, body_parts: list[bytes]) -> tuple[int, dict, bytes]:
    """Send the body in 256 KiB writes with its Content-Length, as a browser does. A server that answers
    and closes while the body still arrives makes these writes fail (broken pipe, reset): that fails here."""
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.putrequest("POST", path)
        for name, value in {**headers, "Content-Length": str(sum(len(p) for p in body_parts))}.items():
            connection.putheader(name, value)
        connection.endheaders()
        for part in body_parts:
            view = memoryview(part)
            for start in range(0, len(view), 256 * 1024):
                connection.send(view[start : start + 256 * 1024])
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def _stream(base, cookies, csrf, tasking, content: bytes, name: str):
    return _post(
        base,
        f"/taskings/{tasking.pk}/exhibits/stream/",
        {
            "Cookie": cookies,
            "X-CSRFToken": csrf,
            "Accept": "application/json",
            "Content-Type": "text/plain",
            "X-Exhibit-Metadata": json.dumps(FIELDS),
            "X-File-Name": name,
        },
        [content],
    )


def _chat(size: int) -> bytes:
    line = b"[01/12/2026, 19:02] dave_77: are you still there?\n"
    return (line * (size // len(line) + 1))[:size]


def test_the_javascript_path_answers_507_and_keeps_what_was_stored(vera_live, tasking, full_disk, web_server):
    base, cookies, csrf = vera_live
    status, _, body = _stream(base, cookies, csrf, tasking, _chat(200_000), "before.txt")
    assert status == 201, body
    before = Exhibit.objects.get()

    status, _, body = _stream(base, cookies, csrf, tasking, _chat(UPLOAD), "too-big-for-the-disk.txt")
    assert status == 507
    assert json.loads(body) == {"errors": {"__all__": [NO_SPACE]}}
    assert NO_SPACE == (
        "The portal has no room to store this file now. Nothing was kept. "
        "Try again later or tell your supervising officer."
    )
    assert list(Exhibit.objects.all()) == [before]  # nothing new, nothing lost
    assert os.listdir(full_disk) == []  # no partial file left filling the disk
    assert "An upload was refused because the disk is full" in web_server.output()  # the operator is told

    # Nothing was left on the disk, so a file that fits goes through.
    status, _, body = _stream(base, cookies, csrf, tasking, _chat(2 * MiB), "after.txt")
    assert status == 201, body


def test_the_form_path_answers_507_on_the_page_keeping_what_she_typed(vera_live, tasking, full_disk):
    base, cookies, csrf = vera_live
    boundary = "portalboundary"
    head = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in {"csrfmiddlewaretoken": csrf, **FIELDS}.items()
    )
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="long-chat.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    )
    status, _, body = _post(
        base,
        f"/taskings/{tasking.pk}/exhibits/",
        {"Cookie": cookies, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        [head.encode(), _chat(UPLOAD), f"\r\n--{boundary}--\r\n".encode()],
    )
    assert status == 507
    page = html.unescape(body.decode())
    assert NO_SPACE in page
    assert FIELDS["description"] in page  # what she filled in is still there
    assert not Exhibit.objects.exists()
    assert os.listdir(full_disk) == []
