"""Back up a running portal, and restore it into a fresh database and storage.

A backup is a folder:

    manifest.json      what is in it: when, from which database engine, every file with its size and SHA-256
    database.dump      PostgreSQL: pg_dump's custom format (or database.sqlite3: SQLite's online backup)
    files/...          every object of private storage (exhibits, statements, bundles, certificates), by name
    signing/...        the scheme's signing certificate(s) and the record of earlier ones: public material,
                       needed to verify bundles. The private signing key is NOT included: it belongs in the
                       force's secret store, with DJANGO_SECRET_KEY and PORTAL_FIELD_KEYS.

Consistent while the portal runs, by order: the database is dumped first, in one snapshot (pg_dump's own
transaction; SQLite's backup API), then storage is copied. Every file the snapshot refers to was stored
before its row committed (exhibit_submit stores last inside its transaction; bundles and PDFs are written
before they are recorded) and stored files are never replaced or deleted by the portal, so every file the
database names is there when storage is copied. Files stored after the snapshot are copied too, and are
simply not referred to by the restored database.

Restore refuses a database that already has tables and storage that already holds a file of the backup's:
it is for a fresh installation (a restore drill, or a lost machine), never on top of a live one. Each file
is checked against the manifest's SHA-256 before it is written, and the whole restore stops at the first
that does not match.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import Storage, default_storage
from django.db import connection
from django.utils import timezone

from portal.storage import walk_files

FORMAT = "portal-backup/1"
NOT_INCLUDED = (
    "the private signing key, DJANGO_SECRET_KEY, PORTAL_FIELD_KEYS and PORTAL_FILE_KEYS: keep them in the secret store"
)
CHUNK = 1024 * 1024


class BackupError(Exception):
    """Said to the operator as it is: what is wrong and what to do."""


@dataclass(frozen=True)
class Summary:
    folder: Path
    engine: str
    files: int
    bytes: int


def _open_as_stored(storage: Storage, name: str):
    return storage.open_raw(name) if getattr(storage, "encrypts", False) else storage.open(name, "rb")


def _copy_hashing(source, target_path: Path) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    target_path.parent.mkdir(parents=True, exist_ok=True)
    with open(target_path, "xb") as out:
        while data := source.read(CHUNK):
            digest.update(data)
            out.write(data)
            size += len(data)
        out.flush()
        os.fsync(out.fileno())
    return size, digest.hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while data := fh.read(CHUNK):
            digest.update(data)
    return digest.hexdigest()


def _engine() -> str:
    vendor = connection.vendor
    if vendor not in {"postgresql", "sqlite"}:
        raise BackupError(f"Backing up a {vendor} database is not supported: use PostgreSQL or SQLite.")
    return vendor


def _pg_args() -> tuple[list[str], dict[str, str]]:
    db = settings.DATABASES["default"]
    args = ["--host", db.get("HOST") or "127.0.0.1", "--port", str(db.get("PORT") or 5432)]
    args += ["--username", db.get("USER") or "postgres", "--dbname", db["NAME"]]
    env = {**os.environ}
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    return args, env


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise BackupError(
            f"{command[0]} is not installed: install the PostgreSQL client (apt install postgresql-client)."
        ) from exc
    if done.returncode:
        raise BackupError(f"{what} failed: {done.stderr.strip() or done.stdout.strip()}")


def _signing_files() -> list[tuple[Path, str]]:
    """(path on this machine, name in the backup) of the public signing material."""
    found: list[tuple[Path, str]] = []
    cert = Path(settings.PORTAL_SIGNING_CERT_PATH)
    if cert.is_file():
        found.append((cert, "current/" + cert.name))
    earlier = Path(settings.PORTAL_SIGNING_EARLIER_DIR)
    if earlier.is_dir():
        found += [
            (p, "earlier/" + p.name) for p in sorted(earlier.iterdir()) if p.is_file() and p.suffix in {".pem", ".json"}
        ]
    return found


def backup(folder: Path, *, storage: Storage | None = None) -> Summary:
    """Write a backup of the database and of private storage into `folder` (which must not exist yet)."""
    storage = storage or default_storage
    folder = Path(folder)
    if folder.exists():
        raise BackupError(f"{folder} already exists: give a new folder for each backup.")
    location = getattr(storage, "location", None)
    if location and folder.resolve().is_relative_to(Path(location).resolve()):
        raise BackupError(f"{folder} is inside the storage folder {location}: put backups somewhere else.")
    folder.mkdir(parents=True)
    engine = _engine()
    started = timezone.now()
    # 1. The database, in one snapshot.
    if engine == "postgresql":
        args, env = _pg_args()
        _run(
            [
                "pg_dump",
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                *args,
                "--file",
                str(folder / "database.dump"),
            ],
            env,
            "pg_dump",
        )
        database = {"file": "database.dump", "sha256": _sha256(folder / "database.dump")}
    else:
        connection.ensure_connection()
        target = sqlite3.connect(folder / "database.sqlite3")
        with target:
            connection.connection.backup(target)
        target.close()
        database = {"file": "database.sqlite3", "sha256": _sha256(folder / "database.sqlite3")}
    # 2. Storage, after the snapshot: everything the database names is already there.
    files, total = [], 0
    for name in walk_files(storage):
        # As stored: encrypted files stay encrypted in the backup (and are put back as they are).
        with _open_as_stored(storage, name) as source:
            size, digest = _copy_hashing(source, folder / "files" / name)
        files.append({"name": name, "size": size, "sha256": digest})
        total += size
    # 3. Public signing material (never the private key).
    signing = []
    for path, name in _signing_files():
        shutil.copyfile(path, _mkparent(folder / "signing" / name))
        signing.append({"name": name, "sha256": _sha256(folder / "signing" / name)})
    manifest = {
        "format": FORMAT,
        "started_at": started.isoformat(),
        "finished_at": timezone.now().isoformat(),
        "engine": engine,
        "database": database,
        "files": files,
        "signing": signing,
        "not_included": NOT_INCLUDED,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return Summary(folder=folder, engine=engine, files=len(files), bytes=total)


def _mkparent(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _read_manifest(folder: Path) -> dict:
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (FileNotFoundError, ValueError) as exc:
        raise BackupError(f"{folder} holds no readable manifest.json: is it a portal backup?") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{folder} is a backup of format {manifest.get('format')!r}; this portal reads {FORMAT}.")
    return manifest


def _check(path: Path, sha256: str, what: str) -> None:
    if not path.is_file():
        raise BackupError(f"The backup is incomplete: {what} is missing. Nothing more was restored.")
    if _sha256(path) != sha256:
        raise BackupError(
            f"The backup is damaged: {what} does not match its SHA-256 in the manifest. Nothing more was restored."
        )


def restore(folder: Path, *, storage: Storage | None = None) -> Summary:
    """Restore the backup in `folder` into this installation's (empty) database and storage."""
    storage = storage or default_storage
    folder = Path(folder)
    manifest = _read_manifest(folder)
    engine = _engine()
    if manifest["engine"] != engine:
        raise BackupError(f"This backup is of a {manifest['engine']} database; this installation uses {engine}.")
    if connection.introspection.table_names():
        raise BackupError(
            "The database already has tables: restore into a new, empty database (create it, set DATABASE_URL "
            "to it, and run this again). Nothing was restored."
        )
    for entry in manifest["files"]:
        if storage.exists(entry["name"]):
            raise BackupError(
                f"Storage already holds {entry['name']}: restore into empty storage. Nothing was restored."
            )
    database = manifest["database"]
    _check(folder / database["file"], database["sha256"], "the database dump")
    for entry in manifest["files"]:  # every file checked before anything is written
        _check(folder / "files" / entry["name"], entry["sha256"], f"the file {entry['name']}")
    if engine == "postgresql":
        args, env = _pg_args()
        _run(
            ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", *args, str(folder / database["file"])],
            env,
            "pg_restore",
        )
    else:
        connection.ensure_connection()
        source = sqlite3.connect(folder / database["file"])
        source.backup(connection.connection)
        source.close()
    total = 0
    for entry in manifest["files"]:
        with open(folder / "files" / entry["name"], "rb") as fh:
            if getattr(storage, "encrypts", False):
                stored = storage.save_raw(entry["name"], File(fh, name=entry["name"]))
            else:
                stored = storage.save(entry["name"], File(fh, name=entry["name"]))
        if stored != entry["name"]:
            raise BackupError(f"Storage renamed {entry['name']} to {stored}: restore into empty storage.")
        total += entry["size"]
    for entry in manifest.get("signing", []):
        source = folder / "signing" / entry["name"]
        _check(source, entry["sha256"], f"the signing file {entry['name']}")
        kind, name = entry["name"].split("/", 1)
        target = (
            Path(settings.PORTAL_SIGNING_CERT_PATH)
            if kind == "current"
            else Path(settings.PORTAL_SIGNING_EARLIER_DIR) / name
        )
        if target.exists() and _sha256(target) != entry["sha256"]:
            raise BackupError(f"{target} already holds another file: move it away and run this again.")
        shutil.copyfile(source, _mkparent(target))
    return Summary(folder=folder, engine=engine, files=len(manifest["files"]), bytes=total)
