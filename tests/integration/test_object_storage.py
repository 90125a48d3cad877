"""Private storage on an S3-compatible bucket, as when workers run on several machines: evidence goes in,
bundles are built from it and into it, downloads come out of it, and nothing is left on local disk."""

import hashlib
import io
import os
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.urls import reverse

from evidence import bundles
from evidence.models import HandoverBundle
from evidence.uploads import promote
from evidence.verify import verify, verify_package
from portal.models import AuditEvent, Job
from portal.storage import is_folder
from tests.integration.bundle_helpers import sign_schedules
from tests.integration.test_bundle_build import many  # noqa: F401 (fixture)
from tests.integration.test_bundles import signing_key  # noqa: F401 (fixture)


def _files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_a_bundle_is_built_from_and_into_the_bucket_and_leaves_nothing_behind(
    object_storage,
    many,  # noqa: F811
    owen,
    signing_key,  # noqa: F811
    tmp_path,
    django_capture_on_commit_callbacks,
    monkeypatch,
):
    import tempfile

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where this "machine" keeps temporary copies
    assert not is_folder()
    exhibits = list(many.exhibits.order_by("sequence"))
    assert all(object_storage.read(e.stored_name) for e in exhibits)  # the evidence itself is in the bucket
    local_before = _files_under(tmp_path)

    with django_capture_on_commit_callbacks(execute=True):
        sign_schedules(many, owen)
        bundle = bundles.bundle_build(bundles.bundle_request(tasking=many, by=owen))

    assert bundle.state == "ready"
    pdf = object_storage.read(bundle.pdf_name)
    assert hashlib.sha256(pdf).hexdigest() == bundle.pdf_sha256
    report = verify(pdf, signing_key)
    assert report.ok, report.failure
    for exhibit in exhibits:  # each native embedded from the bucket, byte for byte
        assert f"{bundles.native_name(exhibit)}: SHA-256 and size match the manifest" in report.checks
    assert object_storage.keys("bundle-work/") == []  # the chunks are cleared once the bundle is committed
    assert _files_under(tmp_path) == local_before  # nothing left on the local disk, no temporary copy either
    assert AuditEvent.objects.filter(action="evidence.bundle_built").count() == 1


def test_a_rerun_against_the_bucket_renders_only_what_is_missing(
    object_storage,
    many,  # noqa: F811
    owen,
    signing_key,  # noqa: F811
):
    client = object_storage.server.client()
    client.put_bucket_versioning(Bucket=object_storage.bucket, VersioningConfiguration={"Status": "Enabled"})
    sign_schedules(many, owen)
    bundle = bundles.bundle_request(tasking=many, by=owen)
    bundles.bundle_start(bundle)
    first = bundles.bundle_render_chunk(bundle, 3)  # one worker rendered a part, then the build stopped
    work = bundles.WorkArea(bundle)
    assert work.done() == {3} and f"{work.prefix}/chunk-0003.pdf" in object_storage.keys(work.prefix)

    built = bundles.bundle_build(HandoverBundle.objects.get(pk=bundle.pk))

    versions = client.list_object_versions(Bucket=object_storage.bucket, Prefix=work.name("chunk-0"))["Versions"]
    written = Counter(version["Key"].rsplit("/", 1)[1] for version in versions)
    assert written["chunk-0003.pdf"] == 1 and written["chunk-0003.json"] == 1  # not rendered a second time
    assert all(count == 1 for count in written.values()), written  # and no other part twice either
    assert bundles.bundle_render_chunk(bundle, 3) == first
    assert verify(object_storage.read(built.pdf_name), signing_key).ok


def test_a_package_of_natives_too_large_to_embed_is_built_in_the_bucket_and_downloads_whole(
    object_storage,
    many,  # noqa: F811
    owen,
    signing_key,  # noqa: F811
    settings,
    client,
    tmp_path,
):
    from tests.conftest import enrol_totp, mfa_login

    settings.PORTAL_BUNDLE_EMBED_MAX_BYTES = 2500
    sign_schedules(many, owen)
    bundle = bundles.bundle_build(bundles.bundle_request(tasking=many, by=owen))
    package = object_storage.read(bundle.package_name)
    assert hashlib.sha256(package).hexdigest() == bundle.package_sha256
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        assert sorted(archive.namelist())[1:] == [
            "natives/VD_1.png",
            "natives/VD_2.txt",
            "natives/VD_4.mp4",
            "natives/VD_5.txt",
        ]

    mfa_login(client, owen, enrol_totp(owen))
    response = client.get(reverse("bundle_download", args=[bundle.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    downloaded = tmp_path / "download.zip"
    downloaded.write_bytes(b"".join(response.streaming_content))
    assert downloaded.read_bytes() == package
    report = verify_package(downloaded, signing_key)
    assert report.ok, report.failure
    call_command("verify_bundle", str(downloaded))  # and the portal's own record agrees


def test_an_exhibit_in_the_bucket_is_never_replaced_by_another_of_the_same_name(object_storage, tmp_path):
    from django.core.files.base import ContentFile

    from tests.integration.test_upload_handler import received

    original = default_storage.save("exhibits/1/1/abc", ContentFile(b"the original capture"))
    stored = promote(received(tmp_path, b"something else"), storage=default_storage, name="exhibits/1/1/abc")
    assert stored != original
    assert object_storage.read(original) == b"the original capture"
    assert object_storage.read(stored) == b"something else"


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_workers_that_share_only_the_bucket_build_one_bundle_between_them(
    object_storage,
    assigned_vera,
    tasking,
    owen,
    signing_key,  # noqa: F811
    tmp_path,
    throwaway_redis,
    use_broker,
    start_worker,
    settings,
):
    """Two workers as on two machines: each with its own local disk (its own private folder and temporary
    folder, neither of which the other can see), sharing only the database, the broker and the bucket."""
    from tests.conftest import wait_for
    from tests.integration.bundle_helpers import make_chats

    make_chats(tasking, assigned_vera.user, owen, tmp_path, count=6, repeat=300)

    throwaway_redis.start()
    use_broker(throwaway_redis.url)
    machines = []
    for name in ("one", "two"):
        disk = tmp_path / f"machine-{name}"
        (disk / "tmp").mkdir(parents=True)
        machines.append(disk)
        start_worker(
            throwaway_redis.url,
            **object_storage.env,
            PORTAL_PRIVATE_STORAGE=str(disk / "private"),  # unused with a bucket: it must stay empty
            PORTAL_VAR_DIR=str(disk / "var"),
            TMPDIR=str(disk / "tmp"),
            PORTAL_SIGNING_KEY_PATH=settings.PORTAL_SIGNING_KEY_PATH,
            PORTAL_SIGNING_CERT_PATH=settings.PORTAL_SIGNING_CERT_PATH,
            PORTAL_BUNDLE_CHUNK_EXHIBITS="1",
        )
    sign_schedules(tasking, owen)
    bundle = bundles.bundle_request(tasking=tasking, by=owen)
    job = Job.objects.get(kind="evidence.bundle_build", object_id=str(bundle.pk))
    logs = [tmp_path / "worker-0.log", tmp_path / "worker-1.log"]
    assert wait_for(lambda: Job.objects.get(pk=job.pk).state == "succeeded", timeout=180), "\n".join(
        log.read_text(errors="replace")[-2000:] for log in logs
    )

    bundle.refresh_from_db()
    assert bundle.state == "ready"
    report = verify(object_storage.read(bundle.pdf_name), settings.PORTAL_SIGNING_CERT_PATH)
    assert report.ok, report.failure
    rendered = [log.read_text(errors="replace").count("bundle part rendered") for log in logs]
    assert all(rendered) and sum(rendered) >= 10, rendered  # both machines rendered parts
    assert object_storage.keys("bundle-work/") == []
    for disk in machines:
        assert not (disk / "private").exists() or _files_under(disk / "private") == []
        assert _files_under(disk / "tmp") == [], os.listdir(disk / "tmp")  # every temporary copy removed


@pytest.mark.parametrize("where", ["folder", "bucket"])
def test_a_file_is_stored_whole_or_not_at_all(where, request, tmp_path, monkeypatch):
    """A write that fails half-way leaves neither a partial file nor a temporary one, and what was
    stored before under that name is still there; one that succeeds replaces it."""
    import tempfile

    from portal.storage import local_copy, write_file

    if where == "bucket":
        request.getfixturevalue("object_storage")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    before = _files_under(tmp_path)
    write_file("bundle-work/1/chunk-0000.pdf", lambda path: path.write_bytes(b"first"))

    def half_then_fail(path: Path) -> None:
        path.write_bytes(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        write_file("bundle-work/1/chunk-0000.pdf", half_then_fail)
    with local_copy("bundle-work/1/chunk-0000.pdf") as path:
        assert path.read_bytes() == b"first"
    write_file("bundle-work/1/chunk-0000.pdf", lambda path: path.write_bytes(b"second"))
    with default_storage.open("bundle-work/1/chunk-0000.pdf", "rb") as handle:
        assert handle.read() == b"second"
    stored = {"folder": ["bundle-work/1/chunk-0000.pdf"], "bucket": []}[where]
    assert _files_under(tmp_path) == sorted(before + stored)  # no temporary file left anywhere


def test_a_file_put_in_place_from_another_filesystem_is_copied_then_renamed(tmp_path, monkeypatch, settings):
    """On a plain folder storage (one that does not encrypt: the encrypting one writes its own temporary file
    beside the target)."""
    import errno

    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }

    from portal import storage

    real_replace, calls = os.replace, []

    def across_devices(source, target):
        calls.append(Path(source).name)
        if len(calls) == 1:  # the first move is from another filesystem
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_replace(source, target)

    monkeypatch.setattr(storage.os, "replace", across_devices)
    elsewhere = tmp_path / "elsewhere.pdf"
    elsewhere.write_bytes(b"signed bundle")
    storage.put_file(elsewhere, "bundles/1/1/OP-1-v1.pdf")
    with default_storage.open("bundles/1/1/OP-1-v1.pdf", "rb") as handle:
        assert handle.read() == b"signed bundle"
    assert not elsewhere.exists() and len(calls) == 2 and calls[1].endswith(".tmp")
