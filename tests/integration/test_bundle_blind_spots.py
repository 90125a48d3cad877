"""Every byte of a bundle is accounted for, by each of the three verifiers (the standalone CLI that a
defence expert runs, `manage.py verify_bundle`, and the "Verify a bundle" page): bytes hidden in the
signature's padding, and a package hiding a second copy of a file where only some unzip tools look.
The verifier never prints a traceback, and the signed file is consistent PDF/A-3b."""

from __future__ import annotations

import html
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pikepdf
import pytest
from django.core.management import CommandError, call_command

from evidence.verify import verify, verify_package
from tests.integration import test_bundle_verify_page as page
from tests.integration.test_bundle_verify_page import _login, _verify

# The verify page's fixtures (a bundle built, signed and shared with Carla, a court user), made visible here.
built, pdf, shared, signing_key, upload_dir = page.built, page.pdf, page.shared, page.signing_key, page.upload_dir

PADDING = "bytes after the signature, in its unused padding, have been changed (they must all be zero)"


def _cli(path: Path, cert: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "evidence.verify", str(path), "--cert", cert],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _in_padding(pdf: bytes) -> bytes:
    """One hex digit of the signature's zero padding changed: outside the signed byte range."""
    with pikepdf.open(io.BytesIO(pdf)) as document:
        byte_range = [int(n) for n in document.Root.AcroForm.Fields[0].V.ByteRange]
    end = byte_range[2] - 2  # the last hex digit before the closing ">"
    assert pdf[end : end + 1] == b"0"
    return pdf[:end] + b"7" + pdf[end + 1 :]


def _three_verifiers_refuse(tmp_path, client, carla, cert: str, content: bytes, name: str, sentence: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    result = _cli(path, cert)
    assert result.returncode == 1
    assert result.stdout.strip().splitlines()[-1] == f"FAILED: {sentence}"
    assert result.stderr == ""  # no traceback, no library's log: the verdict is the last word
    with pytest.raises(CommandError) as refused:
        call_command("verify_bundle", str(path), stdout=io.StringIO())
    assert str(refused.value) == f"Verification failed: {sentence}"
    _login(client, carla)
    page = html.unescape(_verify(client, content, name).content.decode())
    assert "This bundle passed every check" not in page
    assert sentence[:1].upper() + sentence[1:] in page or sentence in page, page[-3000:]


def test_bytes_changed_in_the_signatures_padding_are_caught_by_every_verifier(
    tmp_path, client, pdf, shared, carla, signing_key, upload_dir
):
    assert verify(pdf, signing_key).ok
    tampered = _in_padding(pdf)
    report = verify(tampered, signing_key)
    assert not report.ok and report.failure == PADDING
    _three_verifiers_refuse(tmp_path, client, carla, signing_key, tampered, "bundle.pdf", PADDING)


def _package(pdf: bytes, *, hidden: bytes | None = None, before: bytes = b"", after: bytes = b"") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("OP-LANTERN-1-v1.pdf", pdf)
        if hidden is not None:  # a local entry that the central directory will not list
            archive.writestr("natives/VD_1.png", hidden)
            info = archive.getinfo("natives/VD_1.png")
            archive.filelist.remove(info)
            del archive.NameToInfo[info.filename]
    return before + out.getvalue() + after


@pytest.mark.parametrize(
    ("case", "sentence"),
    [
        ("hidden", "the package has bytes between its last file and its directory (a hidden entry, perhaps)"),
        ("before", "the package has bytes before or between its files that its directory does not list"),
        ("after", "the package has bytes after the end of its directory"),
    ],
)
def test_a_package_is_exactly_its_listed_files_for_every_verifier(
    tmp_path, client, pdf, shared, carla, signing_key, upload_dir, case, sentence
):
    genuine = tmp_path / "genuine.zip"
    genuine.write_bytes(_package(pdf))
    assert verify_package(genuine, signing_key).ok
    tampered = {
        "hidden": lambda: _package(pdf, hidden=b"a different picture"),
        "before": lambda: _package(pdf, before=b"PK\x03\x04 junk that some readers would take for a file"),
        "after": lambda: _package(pdf, after=b"\x00" * 64),
    }[case]()
    path = tmp_path / "tampered.zip"
    path.write_bytes(tampered)
    with zipfile.ZipFile(path) as archive:  # Python's own reader still opens it and sees only the PDF
        assert archive.namelist() == ["OP-LANTERN-1-v1.pdf"]
    report = verify_package(path, signing_key)
    assert not report.ok and report.failure == sentence
    _three_verifiers_refuse(tmp_path, client, carla, signing_key, tampered, "bundle.zip", sentence)


def test_a_verifier_failure_is_one_sentence_and_no_traceback(tmp_path, pdf, signing_key):
    """Damage that makes pyHanko log an error (a signature's bytes changed) still gives one line."""
    with pikepdf.open(io.BytesIO(pdf)) as document:
        byte_range = [int(n) for n in document.Root.AcroForm.Fields[0].V.ByteRange]
    inside = byte_range[1] + 200  # a hex digit of the DER signature itself
    digit = pdf[inside : inside + 1]
    changed = pdf[:inside] + (b"1" if digit != b"1" else b"2") + pdf[inside + 1 :]
    path = tmp_path / "bad.pdf"
    path.write_bytes(changed)
    result = _cli(path, signing_key)
    assert result.returncode == 1 and result.stderr == ""
    assert "Traceback" not in result.stdout
    assert result.stdout.strip().splitlines()[-1].startswith("FAILED: ")


def test_the_signed_file_is_consistent_pdf_a_3b(pdf):
    """PDF/A-3 is based on PDF 1.7: the header and the catalog must not declare 2.0, and the Info
    dictionary and the XMP metadata must say the same."""
    assert pdf.startswith(b"%PDF-1.7\n")
    with pikepdf.open(io.BytesIO(pdf)) as document:
        assert str(document.Root.get("/Version", "/1.7")) <= "/1.7"
        for extension in (document.Root.get("/Extensions") or {}).values():
            for entry in extension if isinstance(extension, pikepdf.Array) else [extension]:
                assert str(entry.BaseVersion) <= "/1.7", entry
        meta = document.open_metadata()
        info = document.docinfo
        assert (meta["pdfaid:part"], meta["pdfaid:conformance"]) == ("3", "B")
        assert str(info["/Producer"]) == meta["pdf:Producer"]
        assert str(info.get("/Creator", "")) == (meta.get("xmp:CreatorTool") or "")
        assert str(info["/Title"]) == meta["dc:title"]
