"""The bundle package: a ZIP of the signed PDF and, under natives/, the files too large to embed.

The package here is made by hand from a built bundle (the PDF at the top, natives/VD_1.png beside it), so
these tests check the verifier's reading of packages whatever the build itself packages.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from evidence.verify import verify, verify_package, verify_path
from tests.integration import bundle_helpers
from tests.integration.bundle_helpers import PNG, file_entry, sign_schedules, stored_bytes

# Fixtures from bundle_helpers, made visible to pytest in this module.
signing_key, ready_tasking = bundle_helpers.signing_key, bundle_helpers.ready_tasking

EMBED_MAX_BYTES = 100  # VD/1 (the PNG, about 2 KB) travels beside the PDF; VD/2 (the chat) is embedded
NOT_IN_PACKAGE = "is listed in the manifest but not in the package's natives/ folder"


@pytest.fixture
def beside_bundle(ready_tasking, owen, signing_key, settings):
    from evidence import bundles

    settings.PORTAL_BUNDLE_EMBED_MAX_BYTES = EMBED_MAX_BYTES
    sign_schedules(ready_tasking, owen)
    bundle = bundles.bundle_build(bundles.bundle_request(tasking=ready_tasking, by=owen))
    assert bundle.state == "ready"
    vd1, vd2 = file_entry(bundle.manifest, "VD_1.png"), file_entry(bundle.manifest, "VD_2.txt")
    assert vd1["embedded"] is False and vd1["size"] == len(PNG) > EMBED_MAX_BYTES
    assert vd2["embedded"] is True
    return bundle


@pytest.fixture
def pdf(beside_bundle) -> bytes:
    return stored_bytes(beside_bundle.pdf_name)


@pytest.fixture
def native(beside_bundle) -> bytes:
    from evidence.models import Exhibit

    exhibit = Exhibit.objects.get(tasking=beside_bundle.tasking, reference="VD/1")
    content = stored_bytes(exhibit.stored_name)
    assert (
        hashlib.sha256(content).hexdigest()
        == exhibit.sha256
        == file_entry(beside_bundle.manifest, "VD_1.png")["sha256"]
    )
    return content


def make_package(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return path


@pytest.fixture
def package(tmp_path, pdf, native) -> Path:
    return make_package(tmp_path / "OP-v1.zip", {"OP-v1.pdf": pdf, "natives/VD_1.png": native})


def test_the_pdf_alone_verifies_and_says_the_native_was_not_checked(pdf, signing_key):
    report = verify(pdf, signing_key)
    assert report.ok, report.failure
    assert any(check.startswith("VD_1.png: travels beside the PDF (not checked") for check in report.checks), (
        report.checks
    )
    assert "VD_2.txt: SHA-256 and size match the manifest" in report.checks
    assert "VD_1.png" not in report.embedded


def test_a_genuine_package_verifies(package, signing_key):
    report = verify_package(package, signing_key)
    assert report.ok, report.failure
    assert "VD_1.png: SHA-256 and size match the manifest" in report.checks
    assert "VD_2.txt: SHA-256 and size match the manifest" in report.checks
    assert report.checks[-1] == "the package holds nothing the manifest does not list"
    assert verify_path(package, signing_key).ok  # told apart from a PDF by its first bytes


def test_a_genuine_package_verifies_in_a_separate_process_without_the_portal(package, signing_key):
    result = subprocess.run(
        [sys.executable, "-m", "evidence.verify", str(package), "--cert", signing_key],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok: VD_1.png: SHA-256 and size match the manifest" in result.stdout
    assert "The bundle is intact and every file matches its manifest." in result.stdout


def test_a_folder_of_natives_given_on_the_command_line_is_checked(pdf, native, signing_key, tmp_path):
    folder = tmp_path / "natives"
    folder.mkdir()
    (folder / "VD_1.png").write_bytes(native)
    assert verify(pdf, signing_key, natives=folder).ok
    (folder / "VD_1.png").write_bytes(native[:-1])
    report = verify(pdf, signing_key, natives=folder)
    assert not report.ok and report.failure.startswith("VD_1.png: SHA-256 ")
    (folder / "VD_1.png").unlink()
    report = verify(pdf, signing_key, natives=folder)
    assert report.failure == f"VD_1.png is listed in the manifest but not in {folder}"


def test_a_changed_native_fails_naming_the_file_and_its_hash(tmp_path, pdf, native, signing_key, beside_bundle):
    changed = native[:100] + bytes([native[100] ^ 0x01]) + native[101:]
    path = make_package(tmp_path / "p.zip", {"OP-v1.pdf": pdf, "natives/VD_1.png": changed})
    report = verify_package(path, signing_key)
    assert not report.ok
    expected = file_entry(beside_bundle.manifest, "VD_1.png")["sha256"]
    actual = hashlib.sha256(changed).hexdigest()
    assert report.failure == f"VD_1.png: SHA-256 {actual} does not match the manifest's {expected}"

    result = subprocess.run(
        [sys.executable, "-m", "evidence.verify", str(path), "--cert", signing_key],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 1
    assert f"FAILED: VD_1.png: SHA-256 {actual} does not match the manifest's {expected}" in result.stdout


def test_a_missing_native_fails(tmp_path, pdf, signing_key):
    path = make_package(tmp_path / "p.zip", {"OP-v1.pdf": pdf})
    report = verify_package(path, signing_key)
    assert not report.ok and report.failure == f"VD_1.png {NOT_IN_PACKAGE}"


def test_a_native_at_the_wrong_place_counts_as_missing(tmp_path, pdf, native, signing_key):
    path = make_package(tmp_path / "p.zip", {"OP-v1.pdf": pdf, "VD_1.png": native})
    report = verify_package(path, signing_key)
    assert not report.ok and report.failure == f"VD_1.png {NOT_IN_PACKAGE}"


@pytest.mark.parametrize("extra", ["natives/VD_9", "cover-letter.txt", "natives/VD_2.txt"])
def test_an_extra_member_not_listed_in_the_manifest_fails(tmp_path, pdf, native, signing_key, extra):
    # natives/VD_2.txt is listed, but as embedded: a second copy beside the PDF is not part of the bundle.
    path = make_package(tmp_path / "p.zip", {"OP-v1.pdf": pdf, "natives/VD_1.png": native, extra: b"planted"})
    report = verify_package(path, signing_key)
    assert not report.ok
    assert report.failure == f"files in the package not listed in the manifest: {extra}"


def test_a_native_stored_twice_under_the_same_name_fails(tmp_path, pdf, native, signing_key):
    """Two members called natives/VD_1.png: the verifier reads one, an unzip tool may extract the other."""
    path = tmp_path / "p.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("OP-v1.pdf", pdf)
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("natives/VD_1.png", b"a different picture")
            archive.writestr("natives/VD_1.png", native)
    report = verify_package(path, signing_key)
    assert not report.ok, f"a package with two natives/VD_1.png members passed: {report.checks}"
    assert "natives/VD_1.png" in report.failure, report.failure


def test_two_pdfs_in_a_package_fail(tmp_path, pdf, native, signing_key):
    path = make_package(tmp_path / "p.zip", {"OP-v1.pdf": pdf, "OP-v2.pdf": pdf, "natives/VD_1.png": native})
    report = verify_package(path, signing_key)
    assert not report.ok
    assert report.failure == "expected one bundle PDF at the top of the package, found 2"


def test_a_package_without_a_pdf_fails(tmp_path, native, signing_key):
    path = make_package(tmp_path / "p.zip", {"natives/VD_1.png": native})
    report = verify_package(path, signing_key)
    assert report.failure == "expected one bundle PDF at the top of the package, found 0"


def test_a_file_that_is_neither_a_pdf_nor_a_zip_is_named_as_such(tmp_path, signing_key):
    path = tmp_path / "bundle.pdf"
    path.write_bytes(b"Dear court, please find the evidence attached.\n")
    report = verify_path(path, signing_key)
    assert not report.ok
    assert report.failure == "the file is neither a PDF nor a bundle package (ZIP)"


def test_a_damaged_zip_is_named_as_such(tmp_path, package, signing_key):
    path = tmp_path / "damaged.zip"
    path.write_bytes(package.read_bytes()[:200])  # starts like a ZIP, but its directory is gone
    report = verify_path(path, signing_key)
    assert not report.ok
    assert report.failure.startswith("the package is not a readable ZIP file (")
