"""Backup and restore, proven: a populated portal is backed up while it runs, restored elsewhere (a new
database and new storage, in another process as an operator would run it), and there the audit log, every
custody chain and every bundle still verify and an exhibit downloads byte-identical."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import connection

from evidence.models import Exhibit, HandoverBundle
from portal.audit import audit_record
from tests.conftest import on_postgres, shared_database_url
from tests.integration.bundle_helpers import make_ready, signing_key  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def elsewhere(tmp_path):
    """A new, empty database and a new storage folder, as on a replacement machine."""
    if on_postgres():
        import psycopg

        name = f"restore_{uuid.uuid4().hex[:12]}"
        base = shared_database_url().rsplit("/", 1)[0]
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        url = f"{base}/{name}"
    else:
        url = f"sqlite:///{tmp_path / 'restored.sqlite3'}"
    place = tmp_path / "elsewhere"
    env = {k: v for k, v in os.environ.items() if not v.startswith("memory://")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DATABASE_URL": url,
            "PORTAL_VAR_DIR": str(place / "var"),
            "PORTAL_PRIVATE_STORAGE": str(place / "storage"),
            "PORTAL_SIGNING_KEY_PATH": str(place / "signing" / "key.pem"),
            "PORTAL_SIGNING_CERT_PATH": str(place / "signing" / "cert.pem"),
            "PORTAL_SIGNING_EARLIER_DIR": str(place / "signing" / "earlier"),
        }
    )
    yield place, env
    if on_postgres():
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.fixture
def backup_dir(tmp_path_factory) -> Path:
    """Where the operator keeps backups: not inside storage (the test's storage is its tmp_path)."""
    return tmp_path_factory.mktemp("backups") / "backup"


@pytest.fixture
def exhibits(assigned_vera, tasking, owen, tmp_path, signing_key):  # noqa: F811
    """Two exhibits, a signed MG11 and the signed schedules: enough for every test but the full one."""
    make_ready(tasking, assigned_vera.user, owen, tmp_path)
    return tasking


@pytest.fixture
def populated(exhibits, owen):
    """And a handover bundle built from them (its two signed parts)."""
    from evidence import bundles

    bundle = bundles.bundle_build(bundles.bundle_request(tasking=exhibits, by=owen))
    assert bundle.state == HandoverBundle.State.READY
    return bundle


def test_a_backup_taken_while_the_portal_runs_restores_elsewhere_and_everything_still_verifies(
    populated, owen, backup_dir, elsewhere
):
    place, env = elsewhere
    # The portal keeps working during the backup: people sign in, look at pages, record things.
    stop = threading.Event()
    written: list[int] = []

    def keep_writing() -> None:
        try:
            while not stop.is_set():
                audit_record(action="portal.backup_drill", actor=owen, detail={"n": len(written)})
                written.append(1)
        finally:
            connection.close()

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        call_command("backup_portal", str(backup_dir))
    finally:
        stop.set()
        writer.join()
    assert written  # the portal wrote while the backup ran

    manifest = json.loads((backup_dir / "manifest.json").read_text())
    stored = {entry["name"] for entry in manifest["files"]}
    exhibits = list(Exhibit.objects.all())
    assert {e.stored_name for e in exhibits} | {populated.pdf_name, populated.sensitive_pdf_name} <= stored
    assert not any("key" in entry["name"] for entry in manifest["signing"])  # never the private key

    restored = manage(env, "restore_portal", str(backup_dir))
    assert restored.returncode == 0, restored.stderr + restored.stdout
    assert "Audit chain self-consistent" in restored.stdout and "Custody self-consistent: 2 exhibits" in restored.stdout

    # The backup holds the files as stored, encrypted; restored, an exhibit decrypts byte-identical.
    for exhibit in exhibits:
        with default_storage.open(exhibit.stored_name, "rb") as original:
            plain = original.read()
        assert plain not in (backup_dir / "files" / exhibit.stored_name).read_bytes()
        assert _decrypted(place / "storage" / exhibit.stored_name) == plain
    # Every bundle part still verifies there, as a court would, against the restored records.
    for name in (populated.pdf_name, populated.sensitive_pdf_name):
        downloaded = backup_dir.parent / Path(name).name
        downloaded.write_bytes(_decrypted(place / "storage" / name))
        checked = manage(env, "verify_bundle", str(downloaded))
        assert checked.returncode == 0, checked.stderr + checked.stdout
        assert "the portal issued this file" in checked.stdout


def _decrypted(path: Path) -> bytes:
    from portal.encrypted_storage import file_keys
    from portal.filecrypt import DecryptingReader

    with path.open("rb") as raw:
        return DecryptingReader(raw, file_keys()).read()


def test_a_damaged_backup_is_refused_before_anything_is_restored(exhibits, backup_dir, elsewhere):
    place, env = elsewhere
    call_command("backup_portal", str(backup_dir))
    exhibit = Exhibit.objects.first()
    copy = backup_dir / "files" / exhibit.stored_name
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 1
    copy.write_bytes(bytes(data))
    refused = manage(env, "restore_portal", str(backup_dir))
    assert refused.returncode != 0
    assert f"The backup is damaged: the file {exhibit.stored_name} does not match its SHA-256" in refused.stderr
    assert not (place / "storage").exists() or not any((place / "storage").rglob("*"))


def test_restore_refuses_a_database_in_use(exhibits, backup_dir, tmp_path):
    call_command("backup_portal", str(backup_dir))
    with pytest.raises(CommandError, match="The database already has tables: restore into a new, empty database"):
        call_command("restore_portal", str(backup_dir))
    with pytest.raises(CommandError, match="already exists: give a new folder"):
        call_command("backup_portal", str(backup_dir))
    with pytest.raises(CommandError, match=r"is inside the storage folder .*: put backups somewhere else"):
        call_command("backup_portal", str(tmp_path / "in-storage"))


def test_the_backup_names_the_engine_and_what_it_leaves_out(exhibits, backup_dir, tmp_path, capsys):
    call_command("backup_portal", str(backup_dir))
    said = capsys.readouterr().out
    assert f"Backed up the {connection.vendor} database" in said
    assert "Not included: the private signing key, DJANGO_SECRET_KEY, PORTAL_FIELD_KEYS and PORTAL_FILE_KEYS" in said
    assert settings.PORTAL_SIGNING_CERT_PATH  # the public certificate is carried for verifying bundles
