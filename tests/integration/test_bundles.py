"""Handover bundles, first slice: request rules, a signed PDF/A-3 with its manifest, and the standalone verifier."""

import io
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command

from evidence import bundles, services
from evidence.models import Exhibit, HandoverBundle
from evidence.statements import statement_save_draft, statement_sign
from evidence.verify import verify
from portal.models import Job
from tests.integration.bundle_helpers import sign_schedules

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 8
CHAT = b"[14:01] dave_77: hi\n[14:02] mia_x: hello\n[14:03] dave_77: how old are you\n"


class Received:
    """What evidence/uploads.py hands the service: a file already on disk, hashed."""

    def __init__(self, tmp_path: Path, name: str, content: bytes):
        import hashlib

        self.name, self.size, self.sha256 = name, len(content), hashlib.sha256(content).hexdigest()
        self.temp_path = str(tmp_path / name)
        Path(self.temp_path).write_bytes(content)
        self.content = content


def _store(upload, name):
    from django.core.files.base import ContentFile

    default_storage.save(name, ContentFile(upload.content))


def _exhibit(user, tasking, tmp_path, name, content, mime):
    from django.utils import timezone

    return services.exhibit_submit(
        user=user,
        tasking=tasking,
        upload=Received(tmp_path, name, content),
        sniffed_type=mime,
        description=f"{name} from the chat",
        platform="Platform X",
        other_party="dave_77",
        url="",
        captured_at=timezone.now(),
        capture_method="Platform export",
        store=_store,
    )


@pytest.fixture
def signing_key(settings, tmp_path):
    settings.PORTAL_SIGNING_KEY_PATH = str(tmp_path / "key.pem")
    settings.PORTAL_SIGNING_CERT_PATH = str(tmp_path / "cert.pem")
    call_command("create_signing_key", "--force")  # tests run with DEBUG off
    return settings.PORTAL_SIGNING_CERT_PATH


@pytest.fixture
def ready_tasking(assigned_vera, tasking, owen, tmp_path):
    user = assigned_vera.user
    png = _exhibit(user, tasking, tmp_path, "shot.png", PNG, "image/png")
    chat = _exhibit(user, tasking, tmp_path, "chat.txt", CHAT, "text/plain")
    statement = statement_save_draft(
        tasking=tasking, author=user, body="I produce VD/1 and VD/2.", exhibit_ids=[png.pk, chat.pk]
    )
    statement_sign(statement=statement, by=user)
    for exhibit in (png, chat):
        services.exhibit_review(exhibit=exhibit, decision="accepted", reason="", by=owen)
    sign_schedules(tasking, owen)
    return tasking


def test_a_request_is_refused_with_the_list_of_what_is_missing(assigned_vera, tasking, owen, tmp_path):
    _exhibit(assigned_vera.user, tasking, tmp_path, "shot.png", PNG, "image/png")
    statement_save_draft(tasking=tasking, author=assigned_vera.user, body="Draft.", exhibit_ids=[])
    with pytest.raises(bundles.BundleRefused) as refused:
        bundles.bundle_request(tasking=tasking, by=owen)
    assert refused.value.missing == [
        "Exhibit VD/1 is awaiting review.",
        "A statement by Vera Deploy is not signed.",
        "No signed witness statement (MG11) produces the exhibits.",
        "The MG6C schedule has not been signed by the disclosure officer: sign it under Disclosure schedules on "
        "the tasking's page.",
        "The MG6D schedule has not been signed by the disclosure officer: sign it under Disclosure schedules on "
        "the tasking's page.",
    ]
    assert not HandoverBundle.objects.exists()


def test_a_second_request_while_building_returns_the_same_bundle(ready_tasking, owen):
    first = bundles.bundle_request(tasking=ready_tasking, by=owen)
    second = bundles.bundle_request(tasking=ready_tasking, by=owen)
    assert first.pk == second.pk and first.version == 1
    assert Job.objects.filter(kind="evidence.bundle_build", object_id=str(first.pk)).count() == 1


def test_the_built_bundle_is_signed_and_verifies_without_the_portal(ready_tasking, owen, signing_key, tmp_path):
    bundle = bundles.bundle_build(bundles.bundle_request(tasking=ready_tasking, by=owen))
    assert bundle.state == "ready" and len(bundle.pdf_sha256) == 64
    with default_storage.open(bundle.pdf_name, "rb") as handle:
        pdf = handle.read()
    report = verify(pdf, signing_key)
    assert report.ok, report.failure
    names = {entry["name"] for entry in bundle.manifest["files"]}
    assert {"VD_1.png", "VD_2.txt"} <= names and any(name.startswith("MG11-") for name in names)

    from pypdf import PdfReader

    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    for expected in [
        "OFFICIAL-SENSITIVE",
        "Exhibit list (MG12)",
        "MG6D",
        "How to verify this bundle",
        "dave_77",
        "Page 1 of",
    ]:
        assert expected in text, expected

    # The verifier is standalone: run it as a separate process with no Django settings at all.
    path = tmp_path / "bundle.pdf"
    path.write_bytes(pdf)
    env = {"PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "evidence.verify", str(path), "--cert", signing_key],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "every file matches its manifest" in result.stdout


def test_the_verifier_names_tampering(ready_tasking, owen, signing_key):
    bundle = bundles.bundle_build(bundles.bundle_request(tasking=ready_tasking, by=owen))
    with default_storage.open(bundle.pdf_name, "rb") as handle:
        pdf = handle.read()
    # An incremental update appended after signing: pyHanko still calls the signature intact and
    # trusted; only its coverage drops, and the verifier must catch exactly that.
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    writer.root["/PortalNote"] = generic.TextStringObject("added after signing")
    writer.update_root()
    updated = io.BytesIO()
    writer.write(updated)
    report = verify(updated.getvalue(), signing_key)
    assert report.failure == "something was added to the file after it was signed"
    index = pdf.index(b"OFFICIAL") if b"OFFICIAL" in pdf else len(pdf) // 2
    flipped = pdf[:index] + bytes([pdf[index] ^ 0x01]) + pdf[index + 1 :]
    report = verify(flipped, signing_key)
    assert not report.ok and report.failure  # a changed signed byte is named, never a crash


def test_quarantined_material_is_never_rendered_or_embedded(assigned_vera, tasking, owen, signing_key, tmp_path):
    from django.utils import timezone

    user = assigned_vera.user
    secret = b"\x89PNG\r\n\x1a\n" + b"QUARANTINED-BYTES" * 50
    upload = Received(tmp_path, "q.png", secret)
    exhibit = services.exhibit_submit(
        user=user,
        tasking=tasking,
        upload=upload,
        sniffed_type="image/png",
        description="flagged image",
        platform="X",
        other_party="d",
        url="",
        captured_at=timezone.now(),
        capture_method="m",
        quarantined=True,
        store=_store,
    )
    statement = statement_save_draft(tasking=tasking, author=user, body="s", exhibit_ids=[exhibit.pk])
    statement_sign(statement=statement, by=user)
    services.exhibit_review(exhibit=Exhibit.objects.get(pk=exhibit.pk), decision="accepted", reason="", by=owen)
    sign_schedules(tasking, owen)
    bundle = bundles.bundle_build(bundles.bundle_request(tasking=tasking, by=owen))
    with default_storage.open(bundle.pdf_name, "rb") as handle:
        pdf = handle.read()
    assert b"QUARANTINED-BYTES" not in pdf
    entry = (
        next(e for e in bundle.manifest["files"] if e["reference"] == exhibit.reference)
        if any("reference" in e for e in bundle.manifest["files"])
        else None
    )
    assert entry is not None and entry["embedded"] is False
    assert verify(pdf, signing_key).ok


def test_verify_bundle_wraps_the_verifier_and_compares_with_the_database(
    ready_tasking, owen, signing_key, tmp_path, capsys
):
    from django.core.management import CommandError

    bundle = bundles.bundle_build(bundles.bundle_request(tasking=ready_tasking, by=owen))
    path = tmp_path / "b.pdf"
    with default_storage.open(bundle.pdf_name, "rb") as handle:
        path.write_bytes(handle.read())
    call_command("verify_bundle", str(path))
    assert "matches the portal's records" in capsys.readouterr().out
    path.write_bytes(path.read_bytes() + b"%%EOF\n")
    with pytest.raises(CommandError, match="Verification failed"):
        call_command("verify_bundle", str(path))


def test_an_officer_requests_a_bundle_from_the_admin_and_sees_why_not(client, assigned_vera, tasking, owen, tmp_path):
    from tests.conftest import enrol_totp, mfa_login

    _exhibit(assigned_vera.user, tasking, tmp_path, "shot.png", PNG, "image/png")
    mfa_login(client, owen, enrol_totp(owen))
    response = client.post(
        "/admin/evidence/tasking/", {"action": "request_bundle", "_selected_action": [tasking.pk]}, follow=True
    )
    assert b"Exhibit VD/1 is awaiting review." in response.content
    assert not HandoverBundle.objects.exists()


# --- sharing with court / CPS recipients ----------------------------------------------------------------


@pytest.fixture
def built(ready_tasking, owen, signing_key):
    return bundles.bundle_build(bundles.bundle_request(tasking=ready_tasking, by=owen))


def _login_court(client, carla):
    from tests.conftest import enrol_totp, mfa_login

    mfa_login(client, carla, enrol_totp(carla))


def test_a_court_recipient_sees_and_downloads_only_what_is_shared_and_every_download_is_recorded(
    client, built, carla, owen
):
    from datetime import timedelta

    from django.utils import timezone

    from evidence.models import BundleAccess

    _login_court(client, carla)
    assert b"No bundles have been shared with you yet." in client.get("/", follow=True).content
    assert client.get(f"/bundles/{built.pk}/download/").status_code == 404
    services.bundle_share(bundle=built, recipient=carla, until=timezone.now() + timedelta(days=30), by=owen)
    body = client.get("/bundles/").content.decode()
    assert built.tasking.reference in body
    response = client.get(f"/bundles/{built.pk}/download/")
    assert response.status_code == 200 and b"".join(response.streaming_content).startswith(b"%PDF")
    assert BundleAccess.objects.filter(bundle=built, user=carla).count() == 1


def test_an_expired_or_revoked_share_closes_at_once(client, built, carla, owen):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    from evidence.models import BundleShare

    # A share's end date never changes (the database refuses), so the clock moves past it instead.
    share = services.bundle_share(bundle=built, recipient=carla, until=timezone.now() + timedelta(hours=1), by=owen)
    _login_court(client, carla)
    assert client.get(f"/bundles/{built.pk}/download/").status_code == 200
    with time_machine.travel(share.until + timedelta(seconds=1)):
        assert client.get(f"/bundles/{built.pk}/download/").status_code == 404
    assert client.get(f"/bundles/{built.pk}/download/").status_code == 200
    services.bundle_share_revoke(share=BundleShare.objects.get(pk=share.pk), by=owen)
    assert client.get(f"/bundles/{built.pk}/download/").status_code == 404


def test_bundles_are_shared_only_with_court_recipients(built, vera, owen):
    from datetime import timedelta

    from django.core.exceptions import ValidationError
    from django.utils import timezone

    with pytest.raises(ValidationError, match="only with court or CPS recipients"):
        services.bundle_share(bundle=built, recipient=vera, until=timezone.now() + timedelta(days=1), by=owen)


def test_another_schemes_officer_cannot_download_a_bundle(client, built, otto):
    from tests.conftest import enrol_totp, mfa_login

    mfa_login(client, otto, enrol_totp(otto))
    assert client.get(f"/bundles/{built.pk}/download/").status_code == 404


def test_the_officer_follows_progress_and_a_failure_offers_a_retry(client, ready_tasking, owen):
    from portal.models import Job
    from tests.conftest import enrol_totp, mfa_login

    bundle = bundles.bundle_request(tasking=ready_tasking, by=owen)
    mfa_login(client, owen, enrol_totp(owen))
    page = client.get(f"/bundles/{bundle.pk}/").content.decode()
    assert '<progress class="app-progress__native" aria-label="Bundle progress" max="100" value="0">' in page
    job = Job.objects.get(kind="evidence.bundle_build", object_id=str(bundle.pk))
    Job.objects.filter(pk=job.pk).update(progress=40, stage="Rendering the bundle")
    status = client.get(f"/bundles/{bundle.pk}/", HTTP_ACCEPT="application/json").json()
    assert status["percent"] == 40 and status["stage"] == "Rendering the bundle"
    Job.objects.filter(pk=job.pk).update(state="failed", last_error="No signing key at /x: run create_signing_key")
    status = client.get(f"/bundles/{bundle.pk}/", HTTP_ACCEPT="application/json").json()
    assert status["state"] == "failed" and "signing key" in status["error"]
    client.post(f"/bundles/{bundle.pk}/retry/")
    job.refresh_from_db()
    assert job.state == "queued" and job.attempts == 0


def test_the_progress_page_is_not_found_for_another_scheme(client, ready_tasking, owen, otto):
    from tests.conftest import enrol_totp, mfa_login

    bundle = bundles.bundle_request(tasking=ready_tasking, by=owen)
    mfa_login(client, otto, enrol_totp(otto))
    assert client.get(f"/bundles/{bundle.pk}/").status_code == 404
    assert client.post(f"/bundles/{bundle.pk}/retry/").status_code == 404


@pytest.mark.redis
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_build_leaves_exactly_one_valid_bundle(
    assigned_vera, tasking, owen, signing_key, tmp_path, throwaway_redis, use_broker, start_worker, settings
):
    import os
    import signal

    from portal.jobs import jobs_sweep
    from tests.conftest import wait_for
    from tests.integration.bundle_helpers import make_chats

    make_chats(tasking, assigned_vera.user, owen, tmp_path, count=3, repeat=2000)

    throwaway_redis.start()
    use_broker(throwaway_redis.url)
    worker_env = {
        "PORTAL_PRIVATE_STORAGE": settings.STORAGES["default"]["OPTIONS"]["location"],
        "PORTAL_SIGNING_KEY_PATH": settings.PORTAL_SIGNING_KEY_PATH,
        "PORTAL_SIGNING_CERT_PATH": settings.PORTAL_SIGNING_CERT_PATH,
    }
    first = start_worker(throwaway_redis.url, **worker_env)
    bundle = bundles.bundle_request(tasking=tasking, by=owen)  # committed: the job goes to the broker
    job = Job.objects.get(kind="evidence.bundle_build", object_id=str(bundle.pk))
    assert wait_for(lambda: Job.objects.get(pk=job.pk).state == "running", timeout=60, interval=0.02), first.output()
    os.killpg(first.process.pid, signal.SIGKILL)  # the worker dies mid-build, without a word
    first.process.wait()

    settings.PORTAL_JOB_STALL_SECONDS = 0  # the sweep now treats the silent job as stalled…
    assert jobs_sweep()["stalled"] == 1
    settings.PORTAL_JOB_STALL_SECONDS = 300  # …and only that once: the next run is not stalled
    second = start_worker(throwaway_redis.url, **worker_env)
    assert wait_for(lambda: Job.objects.get(pk=job.pk).state == "succeeded", timeout=120), second.output()
    assert HandoverBundle.objects.filter(tasking=tasking).count() == 1
    bundle.refresh_from_db()
    assert bundle.state == "ready" and Job.objects.get(pk=job.pk).attempts >= 2
    with default_storage.open(bundle.pdf_name, "rb") as handle:
        assert verify(handle.read(), settings.PORTAL_SIGNING_CERT_PATH).ok


def test_a_court_download_is_a_disclosure_in_each_exhibits_custody(client, built, carla, owen):
    from datetime import timedelta

    from django.utils import timezone

    services.bundle_share(bundle=built, recipient=carla, until=timezone.now() + timedelta(days=3), by=owen)
    _login_court(client, carla)
    client.get(f"/bundles/{built.pk}/download/")
    for exhibit in built.tasking.exhibits.all():
        event = exhibit.custody.get(action="disclosed")
        assert event.actor_email == carla.email and event.detail["recipient"] == carla.email


def test_a_bundle_signed_by_another_key_fails_verification(built, signing_key, tmp_path, settings):
    other_cert = tmp_path / "other-cert.pem"
    settings.PORTAL_SIGNING_KEY_PATH = str(tmp_path / "other-key.pem")
    settings.PORTAL_SIGNING_CERT_PATH = str(other_cert)
    call_command("create_signing_key", "--force")
    with default_storage.open(built.pdf_name, "rb") as handle:
        pdf = handle.read()
    report = verify(pdf, str(other_cert))
    assert not report.ok and "not made with the given certificate" in report.failure


def unsign(pdf: bytes) -> bytes:
    """The same document with its signature field and signature dictionary taken out."""
    import pikepdf

    with pikepdf.open(io.BytesIO(pdf)) as doc:
        for page in doc.pages:
            if "/Annots" in page:
                page.Annots = pikepdf.Array([a for a in page.Annots if a.get("/FT") != "/Sig"])
        del doc.Root.AcroForm
        out = io.BytesIO()
        doc.save(out)
        return out.getvalue()


def test_a_signature_removed_fails_verification(built, signing_key):
    with default_storage.open(built.pdf_name, "rb") as handle:
        unsigned = unsign(handle.read())
    report = verify(unsigned, signing_key)
    assert not report.ok and "expected one signature, found 0" in report.failure


def test_a_missing_or_unreadable_certificate_is_named_not_a_crash(built, tmp_path):
    with default_storage.open(built.pdf_name, "rb") as handle:
        pdf = handle.read()
    report = verify(pdf, str(tmp_path / "no-such-cert.pem"))
    assert not report.ok and "could not be read as a PEM or DER certificate" in report.failure
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    path = tmp_path / "bundle.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(
        [sys.executable, "-m", "evidence.verify", str(path), "--cert", str(garbage)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"FAILED: the certificate {garbage} could not be read" in result.stdout
