"""Set-up common to the bundle tamper, package and broker-down tests: a tasking ready for a bundle, the
scheme's signing key, and the tools an attacker would use on a built bundle (flip a byte in place, or
rewrite the file with pikepdf and sign it again with the scheme's own key, as an insider could).

Import the fixtures into a test module by name: `from tests.integration.bundle_helpers import built, …`.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 8  # VD/1, about 2 KB
CHAT = b"[14:01] dave_77: hi\n[14:02] mia_x: hello\n[14:03] dave_77: how old are you\n"  # VD/2


class Received:
    """What evidence/uploads.py hands the service: a file already on disk, hashed."""

    def __init__(self, folder: Path, name: str, content: bytes) -> None:
        self.name, self.size, self.sha256 = name, len(content), hashlib.sha256(content).hexdigest()
        self.temp_path = str(folder / name)
        Path(self.temp_path).write_bytes(content)
        self.content = content


def submit_exhibit(user, tasking, folder: Path, name: str, content: bytes, mime: str, *, other_party: str = "dave_77"):
    from django.utils import timezone

    from evidence import services

    def store(upload, stored_name):
        default_storage.save(stored_name, ContentFile(upload.content))

    return services.exhibit_submit(
        user=user,
        tasking=tasking,
        upload=Received(folder, name, content),
        sniffed_type=mime,
        description=f"{name} from the chat",
        platform="Platform X",
        other_party=other_party,
        url="",
        captured_at=timezone.now(),
        capture_method="Platform export",
        store=store,
    )


def sign_schedules(tasking, officer):
    """The disclosure officer signs the MG6C and the MG6D as they stand (a bundle needs both signed)."""
    from evidence.disclosure import SCHEDULES, schedule_digest, schedule_items, schedule_sign

    for schedule in SCHEDULES:
        schedule_sign(
            tasking=tasking, schedule=schedule, by=officer, digest=schedule_digest(schedule_items(tasking, schedule))
        )


def make_ready(tasking, volunteer_user, officer, folder: Path):
    """Two exhibits (VD/1 the PNG, VD/2 the chat), produced by a signed MG11, both accepted."""
    from evidence import services
    from evidence.statements import statement_save_draft, statement_sign

    png = submit_exhibit(volunteer_user, tasking, folder, "shot.png", PNG, "image/png")
    chat = submit_exhibit(volunteer_user, tasking, folder, "chat.txt", CHAT, "text/plain")
    statement = statement_save_draft(
        tasking=tasking, author=volunteer_user, body="I produce VD/1 and VD/2.", exhibit_ids=[png.pk, chat.pk]
    )
    statement_sign(statement=statement, by=volunteer_user)
    for exhibit in (png, chat):
        services.exhibit_review(exhibit=exhibit, decision="accepted", reason="", by=officer)
    sign_schedules(tasking, officer)
    return tasking


def make_chats(tasking, volunteer_user, officer, folder: Path, *, count: int, repeat: int):
    """`count` chat exports of `repeat` times three lines each, and a signed MG11; all accepted."""
    from evidence import services
    from evidence.statements import statement_save_draft, statement_sign

    exhibits = [
        submit_exhibit(volunteer_user, tasking, folder, f"chat{i}.txt", CHAT * repeat, "text/plain")
        for i in range(count)
    ]
    statement = statement_save_draft(
        tasking=tasking, author=volunteer_user, body="I produce them.", exhibit_ids=[e.pk for e in exhibits]
    )
    statement_sign(statement=statement, by=volunteer_user)
    for exhibit in exhibits:
        services.exhibit_review(exhibit=exhibit, decision="accepted", reason="", by=officer)
    sign_schedules(tasking, officer)
    return exhibits


@pytest.fixture
def signing_key(settings, tmp_path):
    """A fresh scheme key and certificate; returns the certificate's path (what a court is given)."""
    settings.PORTAL_SIGNING_KEY_PATH = str(tmp_path / "key.pem")
    settings.PORTAL_SIGNING_CERT_PATH = str(tmp_path / "cert.pem")
    call_command("create_signing_key", "--force")
    return settings.PORTAL_SIGNING_CERT_PATH


@pytest.fixture
def ready_tasking(assigned_vera, tasking, owen, tmp_path):
    return make_ready(tasking, assigned_vera.user, owen, tmp_path)


@pytest.fixture
def built(ready_tasking, owen, signing_key):
    from evidence import bundles

    return bundles.bundle_build(bundles.bundle_request(tasking=ready_tasking, by=owen))


def stored_bytes(name: str) -> bytes:
    with default_storage.open(name, "rb") as handle:
        return handle.read()


def embedded_stream_span(pdf: bytes, attachment: str) -> tuple[int, int]:
    """(start, end) in the raw file of the embedded file's stream data, as written (compressed).

    Found from the cross-reference table (pypdf), then checked against the stream pikepdf reads, so a
    byte flipped in that span is certainly inside the attachment's own stream."""
    import pikepdf
    from pypdf import PdfReader

    with pikepdf.open(io.BytesIO(pdf)) as document:
        stream = document.attachments[attachment].obj.EF.F
        number, generation = stream.objgen
        raw = stream.read_raw_bytes()
    offset = PdfReader(io.BytesIO(pdf)).xref[generation][number]
    header = re.compile(rb"%d\s+%d\s+obj\b.*?\bstream(\r\n|\n)" % (number, generation), re.DOTALL)
    match = header.match(pdf, offset)
    assert match, f"object {number} {generation} not found at offset {offset}"
    start, end = match.end(), match.end() + len(raw)
    assert pdf[start:end] == raw, f"the bytes at {start}..{end} are not {attachment}'s stream"
    return start, end


def flip_byte(pdf: bytes, index: int) -> bytes:
    return pdf[:index] + bytes([pdf[index] ^ 0x01]) + pdf[index + 1 :]


def signed_ranges(pdf: bytes) -> list[tuple[int, int]]:
    """The byte ranges the signature covers (its /ByteRange), as (start, end) pairs."""
    import pikepdf

    with pikepdf.open(io.BytesIO(pdf)) as document:
        field = next(f for f in document.Root.AcroForm.Fields if f.get("/FT") == "/Sig")
        values = [int(v) for v in field.V.ByteRange]
    return [(values[i], values[i] + values[i + 1]) for i in range(0, len(values), 2)]


def _strip_signature(document) -> None:
    """Remove the signature field and its widget, as someone preparing to sign again would."""
    import pikepdf

    if "/AcroForm" in document.Root:
        del document.Root["/AcroForm"]
    for page in document.pages:
        if "/Annots" not in page.obj:
            continue
        kept = [annot for annot in page.obj.Annots if annot.get("/FT") != "/Sig"]
        if kept:
            page.obj.Annots = pikepdf.Array(kept)
        else:
            del page.obj["/Annots"]


def resign(pdf: bytes, edit: Callable) -> bytes:
    """An insider with the scheme's key: open the bundle with pikepdf, drop the signature, apply `edit`
    to the pikepdf.Pdf, save an unsigned copy and sign it with the portal's own signing function."""
    import pikepdf

    from evidence.bundles import sign_pdf

    with pikepdf.open(io.BytesIO(pdf)) as document:
        _strip_signature(document)
        edit(document)
        unsigned = io.BytesIO()
        document.save(unsigned)
    return sign_pdf(unsigned.getvalue())


def replace_attachment(name: str, content: bytes) -> Callable:
    """An edit for `resign`: the embedded file's stream gets new content (its /Size too)."""

    def edit(document) -> None:
        stream = document.attachments[name].obj.EF.F
        stream.write(content)
        if "/Params" in stream:
            stream.Params.Size = len(content)
            if "/CheckSum" in stream.Params:
                del stream.Params["/CheckSum"]

    return edit


def read_manifest(document) -> dict:
    return json.loads(document.attachments["manifest.json"].get_file().read_bytes())


def edit_manifest(change: Callable[[dict], None]) -> Callable:
    """An edit for `resign`: rewrite the embedded manifest.json after `change(manifest)`."""

    def edit(document) -> None:
        manifest = read_manifest(document)
        change(manifest)
        replace_attachment("manifest.json", json.dumps(manifest, indent=2).encode())(document)

    return edit


def file_entry(manifest: dict, name: str) -> dict:
    return next(entry for entry in manifest["files"] if entry["name"] == name)
