"""A timestamped bundle (PAdES B-LTA: the signature with its RFC 3161 timestamp, then the validation material
in a later revision, then a document timestamp over everything) has more places to hide a change than a
plainly signed one. Every one of them is named by each of the three verifiers — the standalone CLI,
`manage.py verify_bundle` and the "Verify a bundle" page: a byte of the signed revision, a byte of the
validation material that only the document timestamp covers, the document timestamp's unused padding,
and an update appended after the last timestamp. Each change here alters nothing a PDF reader would show
(one whitespace byte), so only the cryptography can catch it."""

from __future__ import annotations

import io
import re

import pikepdf
import pytest

from evidence.verify import verify
from tests.integration import test_bundle_verify_page as page
from tests.integration.bundle_helpers import stored_bytes
from tests.integration.test_bundle_blind_spots import _three_verifiers_refuse
from tests.integration.test_bundle_timestamp import tsa  # noqa: F401 — the locally served TSA, as a fixture

built, shared, signing_key, upload_dir = page.built, page.shared, page.signing_key, page.upload_dir


@pytest.fixture
def stamped(tsa, built, shared, signing_key) -> bytes:  # noqa: F811 — tsa first: the bundle is signed with it
    pdf = stored_bytes(built.pdf_name)
    assert verify(pdf, signing_key, tsa_cert=tsa.cert_path).ok
    return pdf


def _ranges(pdf: bytes) -> list[list[int]]:
    """Each signature's and document timestamp's byte range, in the order they were made."""
    with pikepdf.open(io.BytesIO(pdf)) as document:
        fields = [field for field in document.Root.AcroForm.Fields if "/V" in field]
        return sorted(([int(n) for n in field.V.ByteRange] for field in fields), key=lambda r: r[2])


def _whitespace_between(pdf: bytes, start: int, end: int) -> bytes:
    """One line break before an `endobj` in [start, end) made a space: the same PDF to any reader."""
    for match in re.finditer(rb"\nendobj", pdf[start:end]):
        at = start + match.start()
        return pdf[:at] + b" " + pdf[at + 1 :]
    raise AssertionError("no object in that part of the file")


def test_the_bundle_is_signed_then_extended_then_timestamped_to_its_last_byte(stamped):
    signature, document_stamp = _ranges(stamped)
    assert signature[2] + signature[3] < document_stamp[1]  # validation material lies between them
    assert document_stamp[2] + document_stamp[3] == len(stamped)  # nothing follows that no signature covers


def _dss_update(pdf: bytes) -> bytes:
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    dss = writer.root["/DSS"]
    dss["/Certs"] = generic.ArrayObject(list(dss.get("/Certs", [])))
    writer.update_container(dss)
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_a_byte_of_the_signed_revision_is_caught(tmp_path, client, carla, stamped, signing_key):
    signature, _stamp = _ranges(stamped)
    tampered = _whitespace_between(stamped, 0, signature[1])
    _three_verifiers_refuse(
        tmp_path,
        client,
        carla,
        signing_key,
        tampered,
        "bundle.pdf",
        "the signed bytes have been changed (signature not intact)",
    )


def test_a_byte_of_the_validation_material_is_caught(tmp_path, client, carla, stamped, signing_key):
    signature, document_stamp = _ranges(stamped)
    tampered = _whitespace_between(stamped, signature[2] + signature[3], document_stamp[1])
    _three_verifiers_refuse(
        tmp_path,
        client,
        carla,
        signing_key,
        tampered,
        "bundle.pdf",
        "a document timestamp in the file has been changed",
    )


def test_the_document_timestamps_padding_is_caught(tmp_path, client, carla, stamped, signing_key):
    _signature, document_stamp = _ranges(stamped)
    end = document_stamp[2] - 2  # the last hex digit before the closing ">" of the timestamp's /Contents
    assert stamped[end : end + 1] == b"0"
    tampered = stamped[:end] + b"7" + stamped[end + 1 :]
    _three_verifiers_refuse(
        tmp_path,
        client,
        carla,
        signing_key,
        tampered,
        "bundle.pdf",
        "bytes after the signature, in its unused padding, have been changed (they must all be zero)",
    )


@pytest.mark.parametrize(
    ("update", "sentence"),
    [
        ("content", "something was added to the file after it was signed"),
        ("validation material", "something was added to the file after its last document timestamp"),
    ],
)
def test_an_update_after_the_last_timestamp_is_caught(tmp_path, client, carla, stamped, signing_key, update, sentence):
    """Even validation material (a DSS update, which PAdES allows after a timestamp) is refused there: no
    signature covers it, so a change to it could not be told from the original."""
    from tests.integration.test_bundle_verify_page import _appended_update

    tampered = _appended_update(stamped) if update == "content" else _dss_update(stamped)
    _three_verifiers_refuse(
        tmp_path,
        client,
        carla,
        signing_key,
        tampered,
        "bundle.pdf",
        sentence,
    )
