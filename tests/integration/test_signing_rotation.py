"""After the documented key rotation (`create_signing_key --force`), bundles signed before it are still
genuine: every verifier says so and names the certificate that signed them. A certificate the scheme
revokes is reported as revoked, and no bundle is signed with it again."""

from __future__ import annotations

import html
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from evidence import bundles
from evidence.bundles.plan import signing_pair
from evidence.verify import certificate_fingerprint
from tests.integration import bundle_helpers
from tests.integration.bundle_helpers import sign_schedules, stored_bytes
from tests.integration.test_bundle_verify_page import _login, _verify

signing_key, ready_tasking, built = bundle_helpers.signing_key, bundle_helpers.ready_tasking, bundle_helpers.built


@pytest.fixture
def rotated(built, signing_key, tmp_path):
    """Bundle v1 signed with the first key; then the key is replaced as the README says."""
    old = tmp_path / "old-cert.pem"
    old.write_bytes(Path(signing_key).read_bytes())
    out = io.StringIO()
    call_command("create_signing_key", "--force", stdout=out)
    assert f"The previous certificate (SHA-256 {certificate_fingerprint(old)}) is kept" in out.getvalue()
    assert certificate_fingerprint(old) != certificate_fingerprint(signing_key)
    return old


@pytest.fixture
def signed_in(client, owen, tmp_path, settings):
    settings.PORTAL_UPLOAD_TEMP_DIR = str(tmp_path)
    _login(client, owen)
    return client


def _page(client, pdf: bytes) -> str:
    """The page's text as read (tags dropped: the fingerprint is set in an element of its own to wrap)."""
    return html.unescape(re.sub(r"<[^>]+>", "", _verify(client, pdf).content.decode()))


def test_a_bundle_signed_before_a_rotation_still_verifies_and_names_its_certificate(
    rotated, built, ready_tasking, owen, signing_key, tmp_path, signed_in
):
    pdf = stored_bytes(built.pdf_name)
    old = certificate_fingerprint(rotated)
    page = _page(signed_in, pdf)
    assert "This bundle passed every check" in page
    assert "Signed with an earlier certificate of the scheme, replaced on " in page and old in page

    path = tmp_path / "v1.pdf"
    path.write_bytes(pdf)
    out = io.StringIO()
    call_command("verify_bundle", str(path), stdout=out)
    assert f"(SHA-256 fingerprint {old})" in out.getvalue() and "an earlier certificate" in out.getvalue()

    cli = [sys.executable, "-m", "evidence.verify", str(path), "--cert", signing_key]
    alone = subprocess.run(cli, capture_output=True, text=True, timeout=120, check=False)
    assert alone.returncode == 1  # the new certificate alone did not sign it
    both = subprocess.run([*cli, "--cert", str(rotated)], capture_output=True, text=True, timeout=120, check=False)
    assert both.returncode == 0, both.stdout
    assert f"Signed with the certificate whose SHA-256 fingerprint is {old}" in both.stdout

    sign_schedules(ready_tasking, owen)
    newer = bundles.bundle_build(bundles.bundle_request(tasking=ready_tasking, by=owen))
    page = _page(signed_in, stored_bytes(newer.pdf_name))
    assert (
        f"Signed with the scheme's current certificate (SHA-256 fingerprint {certificate_fingerprint(signing_key)})"
        in page
    )


def test_a_revoked_certificate_is_reported_by_every_verifier_and_never_signs_again(
    rotated, built, signing_key, tmp_path, signed_in
):
    old = certificate_fingerprint(rotated)
    call_command("revoke_signing_certificate", old.lower(), "--reason", "key compromised", stdout=io.StringIO())
    path = tmp_path / "v1.pdf"
    path.write_bytes(stored_bytes(built.pdf_name))
    sentence = "the bundle was signed with a certificate the scheme revoked on "
    with pytest.raises(CommandError, match=sentence + r".*\(key compromised\)"):
        call_command("verify_bundle", str(path), stdout=io.StringIO())
    page = _page(signed_in, path.read_bytes())
    assert "This bundle passed every check" not in page
    assert "(key compromised), SHA-256 fingerprint " + old in page

    with pytest.raises(CommandError, match="no certificate with the SHA-256 fingerprint"):
        call_command("revoke_signing_certificate", "AB:CD", "--reason", "typo", stdout=io.StringIO())
    call_command(
        "revoke_signing_certificate", certificate_fingerprint(signing_key), "--reason", "lost", stdout=io.StringIO()
    )
    with pytest.raises(ValidationError, match="signing certificate has been revoked"):
        signing_pair()


@pytest.mark.parametrize("damage", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_an_unreadable_certificate_record_is_the_portals_fault_said_plainly(
    rotated, built, signing_key, tmp_path, signed_in, settings, damage
):
    """Not "the file is damaged": the court's file may be fine; the operator is told which file to restore."""
    record = Path(settings.PORTAL_SIGNING_EARLIER_DIR) / "certificates.json"
    record.write_bytes(damage)
    path = tmp_path / "v1.pdf"
    path.write_bytes(stored_bytes(built.pdf_name))
    with pytest.raises(CommandError, match=r"cannot read its record|is not the list it keeps") as refused:
        call_command("verify_bundle", str(path), stdout=io.StringIO())
    assert str(record) in str(refused.value) and "Restore it from the backup" in str(refused.value)
    page = _page(signed_in, path.read_bytes())
    assert "The portal could not check this file" in page and "damaged" not in page
    with pytest.raises(ValidationError, match="Restore it"):
        signing_pair()  # no bundle is signed while the record of revocations cannot be read
