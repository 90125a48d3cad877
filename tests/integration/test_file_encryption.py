"""Evidence encrypted at rest by the portal itself: what lies on the disk (or in the bucket) is ciphertext,
what the portal serves is the original, the evidential SHA-256 is the original's, and the key-encryption
key rotates without re-encrypting a file."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from evidence.models import Exhibit
from portal import filecrypt
from tests.conftest import PASSWORD
from tests.integration.bundle_helpers import submit_exhibit
from tests.integration.test_exhibits import _stream

# A capture whose every 16-byte run is distinctive: none of it may be found on disk.
CAPTURE = b"\x89PNG\r\n\x1a\n" + b"".join(hashlib.sha256(str(i).encode()).digest() for i in range(70_000))


def _all_stored_bytes(root: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file())


def _new_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


@pytest.fixture
def exhibit(assigned_vera, tasking, tmp_path):
    elsewhere = tmp_path.parent / f"{tmp_path.name}-in"  # not inside the storage folder (tmp_path)
    elsewhere.mkdir()
    return submit_exhibit(assigned_vera.user, tasking, elsewhere, "capture.png", CAPTURE, "image/png")


def test_a_stolen_disk_holds_no_evidence_and_the_portal_serves_the_original(client, assigned_vera, tasking, tmp_path):
    client.post("/accounts/login/", {"login": assigned_vera.user.email, "password": PASSWORD})
    digest = hashlib.sha256(CAPTURE).hexdigest()
    response = _stream(client, tasking, CAPTURE, browser_sha256=digest)
    assert response.status_code == 201, response.content
    exhibit = Exhibit.objects.get()
    assert exhibit.sha256 == digest and exhibit.size == len(CAPTURE)  # the evidential hash: the original's
    on_disk = Path(default_storage.raw_path(exhibit.stored_name)).read_bytes()
    assert on_disk.startswith(filecrypt.MAGIC) and len(on_disk) > len(CAPTURE)
    everything = _all_stored_bytes(Path(default_storage.location))
    for at in range(0, len(CAPTURE) - 16, 4096):
        assert CAPTURE[at : at + 16] not in everything, f"plaintext at offset {at} found in storage"
    assert default_storage.size(exhibit.stored_name) == len(CAPTURE)
    download = client.get(f"/exhibits/{exhibit.pk}/download/")
    assert download.status_code == 200
    assert hashlib.sha256(b"".join(download.streaming_content)).hexdigest() == digest


def test_the_key_rotates_without_re_encrypting_any_file(exhibit, settings):
    name = exhibit.stored_name
    before = Path(default_storage.raw_path(name)).read_bytes()
    old = settings.PORTAL_FILE_KEYS[0]
    settings.PORTAL_FILE_KEYS = [_new_key(), old]
    assert default_storage.open(name).read() == CAPTURE  # the old key still reads it
    out = _call("rotate_file_keys")
    assert "1 files re-wrapped" in out
    after = Path(default_storage.raw_path(name)).read_bytes()
    assert after[filecrypt.HEADER :] == before[filecrypt.HEADER :]  # every chunk as it was
    assert after[: filecrypt.HEADER] != before[: filecrypt.HEADER]
    settings.PORTAL_FILE_KEYS = settings.PORTAL_FILE_KEYS[:1]  # the old key is gone now
    assert default_storage.open(name).read() == CAPTURE
    assert "0 files re-wrapped" in _call("rotate_file_keys")  # safe to run again
    assert "Custody self-consistent: 1 exhibits" in _call("verify_custody")


def test_without_its_key_a_file_cannot_be_read_and_the_message_says_which_key(exhibit, settings):
    wanted = filecrypt.key_id(base64.urlsafe_b64decode(settings.PORTAL_FILE_KEYS[0])).hex()
    settings.PORTAL_FILE_KEYS = [_new_key()]
    with pytest.raises(filecrypt.FileDecryptionError, match=f"key-encryption key {wanted}, which is not configured"):
        default_storage.open(exhibit.stored_name).read()
    with pytest.raises(CommandError, match=f"stored file cannot be read: .*{wanted}"):
        call_command("verify_custody")


def test_a_bad_key_in_the_configuration_is_refused_with_how_to_make_one(settings, exhibit):
    from django.core.exceptions import ImproperlyConfigured

    settings.PORTAL_FILE_KEYS = ["not-a-key"]
    with pytest.raises(ImproperlyConfigured, match="not a 32-byte key in URL-safe base64: generate one"):
        default_storage.open(exhibit.stored_name)


def _call(command: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command(command, stdout=out)
    return out.getvalue()


def test_files_stored_before_encryption_are_encrypted_by_the_rotation_command(exhibit):
    """An installation upgraded from a release that stored files as they came."""
    older = Path(default_storage.location) / "certificates" / "old.pdf"
    older.parent.mkdir(parents=True, exist_ok=True)
    older.write_bytes(b"%PDF-1.7 a certificate stored in plaintext")
    assert "1 stored before encryption now encrypted" in _call("rotate_file_keys")
    assert older.read_bytes().startswith(filecrypt.MAGIC)
    assert default_storage.open("certificates/old.pdf").read() == b"%PDF-1.7 a certificate stored in plaintext"


def test_an_upload_is_encrypted_as_it_arrives_and_moved_into_storage_as_it_is(tmp_path):
    """The original never reaches the disk, even in the upload's temporary file, and storing it is a link."""
    import io

    from evidence.uploads import promote, receive_stream

    spool = tmp_path.parent / f"{tmp_path.name}-spool"
    spool.mkdir()
    upload = receive_stream(
        io.BytesIO(CAPTURE), declared_length=len(CAPTURE), max_bytes=10**9, temp_dir=str(spool), seal=True
    )
    on_disk = Path(upload.temp_path).read_bytes()
    assert on_disk.startswith(filecrypt.MAGIC) and CAPTURE[4096:4128] not in on_disk
    assert upload.sha256 == hashlib.sha256(CAPTURE).hexdigest() and upload.size == len(CAPTURE)
    with upload.reader() as handle:
        assert handle.read() == CAPTURE
    inode = os.stat(upload.temp_path).st_ino
    name = promote(upload, storage=default_storage, name="exhibits/1/VD_9.png")
    assert os.stat(default_storage.raw_path(name)).st_ino == inode  # linked into place: no second pass
    assert default_storage.open(name).read() == CAPTURE and list(spool.iterdir()) == []
