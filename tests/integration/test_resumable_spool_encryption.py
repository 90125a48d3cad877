"""A resumable upload's partial file is ciphertext on disk, under a key of its own wrapped by the key-encryption
key: an upload abandoned mid-way leaves no original bytes on a stolen disk, while the exhibit it becomes is
the original (its SHA-256, its download). Uploads started before partial files were encrypted still complete,
a rotated key-encryption key still reads a partial file, and one whose key was withdrawn is removed."""

from __future__ import annotations

import base64
import hashlib
import itertools
import os
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.test import Client

import evidence.resumable_views
from evidence.models import Exhibit, ResumableUpload
from evidence.resumable import part_path
from portal import filecrypt
from portal.encrypted_storage import file_keys
from tests.conftest import PASSWORD
from tests.integration.test_resumable_uploads import TUS, chat, create, patch

MiB = 1024 * 1024
# Distinctive printable text (the file is still sniffed as a chat export): none of it may be on disk.
MARKER = b"MARKER<volunteer-capture>0123456789abcdefghijklmnopqrstuvwxyz!!\n"
assert len(MARKER) == 64


def capture(size: int) -> bytes:
    """A chat export with the marker at its start, across each piece's edge and at its end."""
    content = bytearray(chat(size))
    for at in (0, MiB - 10, 2 * MiB + 7 - 32, size // 2, size - len(MARKER)):
        content[at : at + len(MARKER)] = MARKER
    return bytes(content)


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


def _new_kek() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def _downloaded(client, exhibit: Exhibit) -> bytes:
    response = client.get(f"/exhibits/{exhibit.pk}/download/")
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def test_the_partial_file_holds_none_of_the_original_and_the_exhibit_is_the_original(
    vera_client, tasking, spool, monkeypatch
):
    content = capture(3 * MiB + 4321)
    url = create(vera_client, tasking, len(content))["Location"]
    upload = ResumableUpload.objects.get()
    wrapped = bytes(upload.spool_key)
    assert len(wrapped) == 40 and bytes(upload.spool_kek_id) == filecrypt.key_id(file_keys()[0])

    handed: list = []
    real_accept = evidence.resumable_views.accept_upload

    def accept(user, tasking, received, data):
        handed.append((received.sealed, Path(received.temp_path).read_bytes()))
        return real_accept(user, tasking, received, data)

    monkeypatch.setattr(evidence.resumable_views, "accept_upload", accept)

    cuts = [0, MiB, 2 * MiB + 7, len(content)]
    for start, end in itertools.pairwise(cuts):
        response = patch(vera_client, url, start, content[start:end])
        if end == len(content):
            break
        assert response.status_code == 204 and response["Upload-Offset"] == str(end)
        on_disk = part_path(upload).read_bytes()
        # Byte N of the file is byte N of the original, encrypted: as long as what was sent, none of it.
        assert len(on_disk) == end and MARKER not in on_disk and content[:end] != on_disk
        assert content[4096:4160] not in on_disk and wrapped not in on_disk
    assert response.status_code == 200, response.content

    exhibit = Exhibit.objects.get()
    assert exhibit.sha256 == hashlib.sha256(content).hexdigest() == response.json()["sha256"]
    assert exhibit.size == len(content)
    # What the one rule was handed had been sealed in the stored format as the partial file was decrypted.
    ((sealed, spooled),) = handed
    assert sealed and spooled.startswith(filecrypt.MAGIC) and MARKER not in spooled
    stored = Path(default_storage.raw_path(exhibit.stored_name)).read_bytes()
    assert stored == spooled and MARKER not in stored  # moved into storage as it was
    assert _downloaded(vera_client, exhibit) == content
    assert os.listdir(spool) == []  # neither the partial file nor the sealed one is left


def test_an_upload_started_before_partial_files_were_encrypted_completes_from_its_plaintext_part(
    vera_client, tasking, spool
):
    """A row with no key (created before the migration, an upload in progress during a deploy) means a
    plaintext partial file: it is continued and completed as such."""
    content = capture(3 * MiB)
    url = create(vera_client, tasking, len(content))["Location"]
    ResumableUpload.objects.update(spool_key=None, spool_kek_id=None)
    assert patch(vera_client, url, 0, content[: 2 * MiB]).status_code == 204
    assert part_path(ResumableUpload.objects.get()).read_bytes() == content[: 2 * MiB]  # as before the change
    response = patch(vera_client, url, 2 * MiB, content[2 * MiB :])
    assert response.status_code == 200, response.content
    exhibit = Exhibit.objects.get()
    assert exhibit.sha256 == hashlib.sha256(content).hexdigest()
    assert MARKER not in Path(default_storage.raw_path(exhibit.stored_name)).read_bytes()
    assert _downloaded(vera_client, exhibit) == content
    assert os.listdir(spool) == []


def test_a_partial_file_is_still_read_after_the_key_encryption_key_rotates(vera_client, tasking, spool, settings):
    content = capture(3 * MiB)
    url = create(vera_client, tasking, len(content))["Location"]
    assert patch(vera_client, url, 0, content[:MiB]).status_code == 204
    settings.PORTAL_FILE_KEYS = [_new_kek(), *settings.PORTAL_FILE_KEYS]  # newest first; the old one stays
    response = patch(vera_client, url, MiB, content[MiB:])
    assert response.status_code == 200, response.content
    exhibit = Exhibit.objects.get()
    assert exhibit.sha256 == hashlib.sha256(content).hexdigest()
    assert _downloaded(vera_client, exhibit) == content


def test_a_partial_file_whose_key_was_withdrawn_is_removed_and_she_is_told_to_upload_again(
    vera_client, tasking, spool, settings
):
    content = capture(3 * MiB)
    url = create(vera_client, tasking, len(content))["Location"]
    assert patch(vera_client, url, 0, content[:MiB]).status_code == 204
    settings.PORTAL_FILE_KEYS = [_new_kek()]  # the key that wrapped this upload's key is gone
    response = patch(vera_client, url, MiB, content[MiB:])
    assert response.status_code == 410
    (message,) = response.json()["errors"]["__all__"]
    assert "Nothing was stored" in message and "Upload the file again" in message
    assert not ResumableUpload.objects.exists() and os.listdir(spool) == []
    assert vera_client.head(url, **TUS).status_code == 404  # the client starts a new upload
    assert not Exhibit.objects.exists()
