"""Tampering with a signed handover bundle: every change is caught, and the verifier says precisely what.

Two kinds of attacker: an outsider, who can change bytes but not sign (the signature breaks), and an
insider who holds the scheme's key and signs again (the signature holds, so the manifest and the
portal's records must catch the change). Each case first checks that the genuine file passes.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import tempfile
from pathlib import Path

import pikepdf
import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from evidence.models import Exhibit, Statement
from evidence.verify import verify
from tests.conftest import require
from tests.integration import bundle_helpers
from tests.integration.bundle_helpers import (
    edit_manifest,
    embedded_stream_span,
    file_entry,
    flip_byte,
    read_manifest,
    replace_attachment,
    resign,
    signed_ranges,
    stored_bytes,
)

# Fixtures from bundle_helpers, made visible to pytest in this module.
signing_key, ready_tasking, built = bundle_helpers.signing_key, bundle_helpers.ready_tasking, bundle_helpers.built

NOT_INTACT = "the signed bytes have been changed (signature not intact)"
SIGNATURE_HOLDS = "signature intact, valid, made by the given certificate, covering the entire file"
FORGED_CHAT = b"[14:01] dave_77: an innocent chat\n"


@pytest.fixture
def genuine(built, signing_key) -> bytes:
    """The bundle as the portal issued it; it must verify before any tampering means anything."""
    pdf = stored_bytes(built.pdf_name)
    report = verify(pdf, signing_key)
    assert report.ok, report.failure
    return pdf


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _replace_stored(bundle, pdf: bytes) -> Path:
    """The insider (holding the file keys too) also swaps the file the portal holds; verify_bundle is then
    run on a copy of that file."""
    from django.core.files.base import ContentFile

    default_storage.delete(bundle.pdf_name)
    assert default_storage._save(bundle.pdf_name, ContentFile(pdf)) == bundle.pdf_name
    path = Path(tempfile.mkdtemp()) / Path(bundle.pdf_name).name
    path.write_bytes(default_storage.open(bundle.pdf_name).read())
    return path


# --- an outsider changes bytes ------------------------------------------------------------------------


@pytest.mark.parametrize("attachment", ["VD_2.txt", "manifest.json"])
def test_one_byte_changed_inside_an_embedded_stream_breaks_the_signature(genuine, signing_key, attachment):
    start, end = embedded_stream_span(genuine, attachment)
    middle = (start + end) // 2
    assert any(low <= middle < high for low, high in signed_ranges(genuine)), "the byte must be a signed one"
    tampered = flip_byte(genuine, middle)
    assert len(tampered) == len(genuine) and tampered != genuine

    report = verify(tampered, signing_key)
    assert not report.ok
    assert report.failure == NOT_INTACT
    assert report.checks == []  # nothing was vouched for before the failure


# --- an insider with the scheme's key signs again ------------------------------------------------------


def test_an_embedded_file_replaced_and_resigned_is_named_by_its_hash(genuine, signing_key, built):
    forged_content = b"[14:01] dave_77: nothing to see here\n"
    forged = resign(genuine, replace_attachment("VD_2.txt", forged_content))

    report = verify(forged, signing_key)
    assert not report.ok
    assert report.checks[0] == SIGNATURE_HOLDS  # the signature itself is valid: the insider has the key
    expected = file_entry(built.manifest, "VD_2.txt")["sha256"]
    assert report.failure == f"VD_2.txt: SHA-256 {_sha(forged_content)} does not match the manifest's {expected}"


def _forge_vd2(genuine: bytes, what: str) -> bytes:
    """The insider's manifest edit, signed again. "hash": VD_2.txt's content and its manifest hash are both
    replaced (a self-consistent forgery); "size": only VD_2.txt's manifest size is changed."""
    if what == "hash":

        def change(manifest):
            entry = file_entry(manifest, "VD_2.txt")
            entry["sha256"], entry["size"] = _sha(FORGED_CHAT), len(FORGED_CHAT)

        def edit(document):
            replace_attachment("VD_2.txt", FORGED_CHAT)(document)
            edit_manifest(change)(document)

        return resign(genuine, edit)

    def grow(manifest):
        file_entry(manifest, "VD_2.txt")["size"] += 1000

    return resign(genuine, edit_manifest(grow))


def test_a_manifest_hash_edited_and_resigned_fails_on_that_file_and_in_verify_bundle(genuine, signing_key, built):
    real = file_entry(built.manifest, "VD_2.txt")["sha256"]
    edited = "0" * 64

    def change(manifest):
        file_entry(manifest, "VD_2.txt")["sha256"] = edited

    forged = resign(genuine, edit_manifest(change))
    report = verify(forged, signing_key)
    assert not report.ok and report.checks[0] == SIGNATURE_HOLDS
    assert report.failure == f"VD_2.txt: SHA-256 {real} does not match the manifest's {edited}"

    path = _replace_stored(built, forged)
    with pytest.raises(CommandError) as failed:
        call_command("verify_bundle", str(path))
    assert str(failed.value) == f"Verification failed: VD_2.txt: SHA-256 {real} does not match the manifest's {edited}"


def test_a_manifest_size_edited_and_resigned_fails_on_that_file(genuine, signing_key, built):
    """The manifest is what a court reads to know the exhibit; a size that is not the file's is a lie."""
    real = file_entry(built.manifest, "VD_2.txt")["size"]
    forged = _forge_vd2(genuine, "size")
    with pikepdf.open(io.BytesIO(forged)) as document:
        assert file_entry(read_manifest(document), "VD_2.txt")["size"] == real + 1000
    report = verify(forged, signing_key)
    assert not report.ok, f"a manifest size of {real + 1000} for a {real}-byte VD_2.txt passed: {report.checks}"
    assert "VD_2.txt" in report.failure and "size" in report.failure.lower(), report.failure


def test_a_self_consistent_forgery_passes_the_key_but_not_verify_bundle(genuine, signing_key, built):
    """Content and manifest changed together: the standalone verifier can vouch only for the key, so it
    passes; the portal never issued that file, and verify_bundle says so."""
    forged = _forge_vd2(genuine, "hash")
    assert verify(forged, signing_key).ok
    path = _replace_stored(built, forged)
    with pytest.raises(CommandError) as failed:
        call_command("verify_bundle", str(path))
    assert "the portal issued no bundle with this SHA-256" in str(failed.value)


@pytest.mark.parametrize("what", ["hash", "size"])
def test_verify_bundle_names_what_differs_when_the_bundles_record_was_doctored_too(genuine, built, what):
    """The insider also writes the forged file's SHA-256 into the bundle's row; the exhibits' rows still
    hold the truth, and verify_bundle must name the file whose manifest entry no longer matches them."""
    from evidence.models import HandoverBundle

    forged = _forge_vd2(genuine, what)
    path = _replace_stored(built, forged)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The database refuses to change a built bundle; an insider with the owner's rights turns
            # its triggers off for the session first.
            cursor.execute("SET LOCAL session_replication_role = replica")
        HandoverBundle.objects.filter(pk=built.pk).update(pdf_sha256=_sha(forged))
    with pytest.raises(CommandError) as failed:
        call_command("verify_bundle", str(path))
    message = str(failed.value)
    assert "VD/2" in message or "VD_2.txt" in message, message
    exhibit = Exhibit.objects.get(tasking=built.tasking, reference="VD/2")
    if what == "hash":
        assert exhibit.sha256 in message or _sha(FORGED_CHAT) in message, message
    else:
        assert "size" in message.lower(), message


def test_an_extra_embedded_file_resigned_is_not_listed_in_the_manifest(genuine, signing_key):
    def edit(document):
        document.attachments["planted.txt"] = pikepdf.AttachedFileSpec(
            document, b"planted after the build", mime_type="text/plain"
        )

    report = verify(resign(genuine, edit), signing_key)
    assert not report.ok and report.checks[0] == SIGNATURE_HOLDS
    assert report.failure == "embedded files not listed in the manifest: planted.txt"


def test_the_insiders_tools_leave_an_untouched_bundle_valid(genuine, signing_key):
    """Control for the cases above: stripping and re-signing with no edit verifies, so every failure
    there comes from the edit, not from the rewriting."""
    assert verify(resign(genuine, lambda document: None), signing_key).ok


# --- an incremental update after signing -----------------------------------------------------------------


def test_a_page_appended_by_an_incremental_update_is_named(genuine, signing_key):
    from pypdf import PdfWriter

    writer = PdfWriter(io.BytesIO(genuine), incremental=True)
    pages_before = len(writer.pages)
    writer.add_blank_page()
    out = io.BytesIO()
    writer.write(out)
    updated = out.getvalue()
    assert updated.startswith(genuine) and len(updated) > len(genuine)  # the signed bytes are untouched

    from pypdf import PdfReader

    assert len(PdfReader(io.BytesIO(updated)).pages) == pages_before + 1
    report = verify(updated, signing_key)
    assert not report.ok
    assert report.failure == "something was added to the file after it was signed"


# --- the file itself is sound ----------------------------------------------------------------------------


def test_the_bundle_opens_in_pikepdf_without_errors(genuine):
    with pikepdf.open(io.BytesIO(genuine)) as document:
        assert len(document.attachments) >= 4  # reading the name tree of embedded files validates it
        problems = document.check_pdf_syntax()  # errors raise; what is returned are warnings
        assert len(document.pages) > 0
    for problem in problems:
        print(f"pikepdf: {problem}")
    assert all(problem.startswith("WARNING: ") for problem in problems), problems


def test_the_embedded_files_name_tree_is_sorted(genuine):
    """ISO 32000-1 7.9.6: a name tree's keys shall be in lexical (byte) order; readers look names up by
    bisection, so an unsorted tree can hide an attachment from them."""

    def leaves(node) -> list[bytes]:
        if "/Kids" in node:
            return [key for kid in node.Kids for key in leaves(kid)]
        return [bytes(key) for key in node.Names[::2]]

    with pikepdf.open(io.BytesIO(genuine)) as document:
        keys = leaves(document.Root.Names.EmbeddedFiles)
    assert keys == sorted(keys), f"embedded files name tree, in file order: {keys}"


def test_qpdf_check_finds_no_errors(genuine, tmp_path):
    require(shutil.which("qpdf") is not None, "the qpdf binary is not installed")
    path = tmp_path / "bundle.pdf"
    path.write_bytes(genuine)
    result = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
    print(result.stdout + result.stderr)
    # qpdf exits 0 when clean, 3 when it found only warnings (printed above), 2 on errors.
    assert result.returncode in (0, 3), result.stdout + result.stderr


def test_every_embedded_file_extracts_and_hashes_as_the_manifest_and_the_records_say(genuine, built):
    manifest = built.manifest
    with pikepdf.open(io.BytesIO(genuine)) as document:
        embedded_manifest = read_manifest(document)
        attachments = {name: spec.get_file().read_bytes() for name, spec in document.attachments.items()}
    assert embedded_manifest["files"] == manifest["files"]
    assert embedded_manifest["bundle"] == built.pk and embedded_manifest["version"] == built.version

    listed = [entry for entry in manifest["files"] if entry["embedded"]]
    assert {entry["name"] for entry in listed} == set(attachments) - {"manifest.json"}
    assert {"VD_1.png", "VD_2.txt"} <= {entry["name"] for entry in listed}
    for entry in listed:
        content = attachments[entry["name"]]
        assert _sha(content) == entry["sha256"], entry["name"]
        assert len(content) == entry["size"], entry["name"]
        if "reference" in entry:
            exhibit = Exhibit.objects.get(tasking=built.tasking, reference=entry["reference"])
            assert exhibit.sha256 == entry["sha256"] and exhibit.size == entry["size"]
            assert content == stored_bytes(exhibit.stored_name)
        else:
            statement = Statement.objects.get(pk=entry["statement"])
            assert statement.pdf_sha256 == entry["sha256"]
