"""With a time-stamping authority configured, the bundle's signature carries its RFC 3161 timestamp and the
material to check it years later (PAdES B-LTA): it still verifies after the signing certificate expires.
Without one, the bundle and every verifier say the signing time is the portal's own clock. The TSA here is
served locally over HTTP."""

from __future__ import annotations

import io
import subprocess
import sys
import time

import pikepdf
import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from pypdf import PdfReader

from evidence.bundles.assemble import sign_pdf
from evidence.verify import verify
from tests.integration import bundle_helpers
from tests.integration.bundle_helpers import stored_bytes
from tests.local_tsa import LocalTsa, self_signed

signing_key, ready_tasking, built = bundle_helpers.signing_key, bundle_helpers.ready_tasking, bundle_helpers.built


@pytest.fixture
def tsa(tmp_path, settings):
    with LocalTsa(tmp_path) as authority:
        settings.PORTAL_TSA_URL, settings.PORTAL_TSA_CERT_PATH = authority.url, str(authority.cert_path)
        yield authority


def _cli(path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "evidence.verify", str(path), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_timestamped_bundle_says_when_it_was_signed_by_the_tsas_clock(tsa, built, signing_key, tmp_path):
    pdf = stored_bytes(built.pdf_name)
    assert tsa.requests >= 2  # the signature's timestamp and the document timestamp over the validation data
    with pikepdf.open(io.BytesIO(pdf)) as document:
        assert "/DSS" in document.Root  # the certificates needed to check it later travel with it
        assert str(document.Root.get("/Version", "/1.7")) <= "/1.7"
    path = tmp_path / "bundle.pdf"
    path.write_bytes(pdf)
    checked = _cli(path, "--cert", signing_key, "--tsa-cert", str(tsa.cert_path))
    assert checked.returncode == 0, checked.stdout
    assert "as an RFC 3161 timestamp by the given time-stamping authority shows" in checked.stdout
    unchecked = _cli(path, "--cert", signing_key)
    assert unchecked.returncode == 0 and "not checked: give --tsa-cert" in unchecked.stdout
    out = io.StringIO()
    call_command("verify_bundle", str(path), stdout=out)
    assert "by the given time-stamping authority shows" in out.getvalue()
    text = " ".join(page.extract_text() for page in PdfReader(path).pages[-2:])
    assert "RFC 3161 timestamp from an independent time-stamping authority" in " ".join(text.split())


def test_without_a_tsa_the_bundle_says_its_time_is_the_portals_own(built, signing_key, tmp_path):
    pdf = stored_bytes(built.pdf_name)
    report = verify(pdf, signing_key)
    assert report.ok
    assert any(check.startswith("the signing time is the portal's own clock") for check in report.checks)
    text = " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages[-2:]).split())
    assert "The signing time is the portal's own clock." in text


def test_a_timestamped_signature_still_verifies_after_the_certificate_expires(tsa, settings, tmp_path):
    """A certificate valid for a few seconds signs; once it has expired the bundle still verifies, and its
    signing time is the TSA's, which saw the signature while the certificate was valid. (Without a timestamp
    only the portal's own clock says when it was signed, and the verifier says so.)"""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from weasyprint import HTML

    key = ec.generate_private_key(ec.SECP256R1())
    usage = x509.KeyUsage(True, True, False, False, False, False, False, False, False)  # signing, non-repudiation
    cert = self_signed(key, "Short-lived bundle signing", valid_for=datetime.timedelta(seconds=6), extension=usage)
    settings.PORTAL_SIGNING_KEY_PATH = str(tmp_path / "short-key.pem")
    settings.PORTAL_SIGNING_CERT_PATH = str(tmp_path / "short-cert.pem")
    (tmp_path / "short-key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (tmp_path / "short-cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    unsigned = HTML(string="<html lang=en><title>b</title><p>bundle</p></html>").write_pdf(pdf_variant="pdf/a-3b")
    stamped = sign_pdf(unsigned)
    settings.PORTAL_TSA_URL = ""
    plain = sign_pdf(unsigned)
    time.sleep(max(0.0, (cert.not_valid_after_utc - datetime.datetime.now(datetime.UTC)).total_seconds() + 1))

    cert_path = settings.PORTAL_SIGNING_CERT_PATH
    late = verify(stamped, cert_path, tsa_cert=str(tsa.cert_path))
    assert late.failure == "the embedded manifest.json is missing"  # the signature and its time passed
    assert late.checks[0].startswith("signature intact") and "time-stamping authority shows" in late.checks[1]
    untimed = verify(plain, cert_path)
    assert untimed.checks[1].startswith("the signing time is the portal's own clock")
    assert (
        "the signing certificate expired on" in untimed.checks[2]
        and "only by the portal's own clock" in (untimed.checks[2])
    )
    # The portal no longer signs with it; an insider who signs with the key anyway is refused by the verifier.
    with pytest.raises(ValidationError, match=r"valid from .* not today"):
        sign_pdf(unsigned)
    after = verify(_signed_with(unsigned, settings.PORTAL_SIGNING_KEY_PATH, cert_path), cert_path)
    assert after.failure == "the signature is dated after its signing certificate expired"


def _signed_with(pdf: bytes, key: str, cert: str) -> bytes:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    signer = signers.SimpleSigner.load(key, cert, key_passphrase=None)
    meta = signers.PdfSignatureMetadata(field_name="BundleSignature")
    return signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)), meta, signer=signer).getvalue()
