"""A bundle names its case: the URN on every page, the officer in the case on the cover, and every
verifier (the standalone CLI, `manage.py verify_bundle`, the "Verify a bundle" page) names the case first,
refuses a genuine bundle of another case when told which case to expect, and says when a newer version
supersedes the one in hand. Continuity prints every hash in full and records the bundle on each chain."""

from __future__ import annotations

import hashlib
import html
import io
import re
import subprocess
import sys
from datetime import datetime

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from pypdf import PdfReader

from evidence import bundles
from evidence.models import CustodyEvent
from evidence.urn import display_urn, normalise_urn, validate_urn
from evidence.verify import certificate_fingerprint
from tests.integration import bundle_helpers
from tests.integration.bundle_helpers import sign_schedules, stored_bytes
from tests.integration.test_bundle_verify_page import _login, _verify

signing_key, ready_tasking, built = bundle_helpers.signing_key, bundle_helpers.ready_tasking, bundle_helpers.built

URN = "42 AB 12345 26"  # the tasking fixture's, as people read it


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "evidence.verify", *args], capture_output=True, text=True, timeout=120, check=False
    )


def _pages(pdf: bytes) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages]


@pytest.mark.parametrize(
    ("typed", "kept"),
    [("42 ab 12345 26", "42AB1234526"), ("42/AB/12345/26", "42AB1234526"), ("01XY0000126", "01XY0000126")],
)
def test_a_urn_is_kept_compact_however_it_is_typed(typed, kept):
    validate_urn(typed)
    assert normalise_urn(typed) == kept
    assert display_urn(kept) == f"{kept[:2]} {kept[2:4]} {kept[4:9]} {kept[9:]}"


@pytest.mark.parametrize("typed", ["", "42AB123456", "42AB12345267", "4XAB1234526", "42A11234526", "00AB1234526"])
def test_a_malformed_urn_is_refused_with_what_a_urn_looks_like(typed):
    with pytest.raises(ValidationError) as refused:
        validate_urn(typed)
    assert "force" in str(refused.value)


def test_no_bundle_without_a_urn(ready_tasking, owen):
    ready_tasking.urn = ""
    ready_tasking.save()
    with pytest.raises(bundles.BundleRefused) as refused:
        bundles.bundle_request(tasking=ready_tasking, by=owen)
    assert "The tasking has no URN (the case's Unique Reference Number)" in str(refused.value.missing)


def test_every_page_shows_the_urn_and_the_cover_the_officer_in_the_case(built):
    pages = _pages(stored_bytes(built.pdf_name))
    assert all(f"URN {URN}" in text for text in pages), [n for n, t in enumerate(pages, 1) if f"URN {URN}" not in t]
    assert "Officer in the case DC 4521 Owen Officer" in pages[0]
    assert built.manifest["urn"] == "42AB1234526"


def test_continuity_prints_every_hash_in_full_and_each_chain_records_the_bundle(built):
    text = re.sub(r"\s+", "", "".join(_pages(stored_bytes(built.pdf_name))))
    exhibits = [f["exhibit"] for f in built.plan["files"] if f.get("exhibit")]
    planned = datetime.fromisoformat(built.plan["generated_at"])  # continuity shows the chains as they were then
    printed = CustodyEvent.objects.filter(exhibit_id__in=exhibits, at__lte=planned)
    assert printed.count() >= 4
    for event in printed:
        assert event.hash in text, f"custody event {event.pk}'s hash is not printed in full"
    for exhibit in exhibits:
        last = CustodyEvent.objects.filter(exhibit_id=exhibit).order_by("-id").first()
        assert last.action == CustodyEvent.Action.INCLUDED_IN_BUNDLE
        assert last.detail == {"bundle": built.pk, "version": 1, "pdf_sha256": built.pdf_sha256}
    call_command("verify_custody", stdout=io.StringIO())  # the chains, with the new events, still hold


def test_the_cli_names_the_case_first_and_refuses_a_bundle_of_another_case(built, signing_key, tmp_path):
    path = tmp_path / "bundle.pdf"
    path.write_bytes(stored_bytes(built.pdf_name))
    result = _cli(str(path), "--cert", signing_key, "--expect-urn", "42ab1234526")
    assert result.returncode == 0, result.stdout
    first = result.stdout.splitlines()[0]
    assert re.fullmatch(
        rf"Bundle: URN {URN}; operation OP-LANTERN-1; version 1; built \d+ \w+ \d{{4}} \d\d:\d\d UTC; part served",
        first,
    )
    assert f"ok: the bundle is for URN {URN}, as expected" in result.stdout

    wrong = _cli(str(path), "--cert", signing_key, "--expect-urn", "01 XY 00001 26")
    assert wrong.returncode == 1 and wrong.stderr == ""
    assert wrong.stdout.splitlines()[0] == first  # still names the case it is for
    assert wrong.stdout.splitlines()[-1] == f"FAILED: the bundle is for URN {URN}, not URN 01 XY 00001 26 as expected"
    with pytest.raises(CommandError, match="not URN 01 XY 00001 26 as expected"):
        call_command("verify_bundle", str(path), "--expect-urn", "01XY0000126", stdout=io.StringIO())


def test_a_superseded_version_is_named_as_such_by_verify_bundle_and_the_page(
    built, ready_tasking, owen, tmp_path, client, settings
):
    sign_schedules(ready_tasking, owen)
    newer = bundles.bundle_build(bundles.bundle_request(tasking=ready_tasking, by=owen))
    assert newer.version == 2
    path = tmp_path / "v1.pdf"
    path.write_bytes(stored_bytes(built.pdf_name))
    out = io.StringIO()
    call_command("verify_bundle", str(path), stdout=out)
    said = out.getvalue()
    assert said.splitlines()[0].startswith(f"Bundle: URN {URN}; operation OP-LANTERN-1; version 1; built ")
    assert "Superseded: version 2 of OP-LANTERN-1 was built on " in said

    settings.PORTAL_UPLOAD_TEMP_DIR = str(tmp_path)
    _login(client, owen)
    page = html.unescape(_verify(client, path.read_bytes()).content.decode())
    assert "This bundle passed every check" in page
    case = page[page.index('id="bundle-case"') : page.index("This bundle passed every check")]
    assert re.search(r"URN</dt>\s*<dd[^>]*>42 AB 12345 26<", case) and re.search(r"Version</dt>\s*<dd[^>]*>1<", case)
    assert "This is not the latest bundle for OP-LANTERN-1: version 2 was built on" in page

    out = io.StringIO()
    path.write_bytes(stored_bytes(newer.pdf_name))
    call_command("verify_bundle", str(path), stdout=out)
    assert "Superseded" not in out.getvalue()


def test_how_to_verify_gives_the_fingerprint_and_standard_tools_that_work(built, signing_key, tmp_path, settings):
    pdf = stored_bytes(built.pdf_name)
    pages = _pages(pdf)
    how = next(text for text in pages if "How to verify this bundle" in text and "pyhanko sign validate" in text)
    fingerprint = certificate_fingerprint(signing_key)
    assert fingerprint in re.sub(r"\s+", "", how)
    assert "sha256sum" in how and "signature panel" in how
    assert "--expect-urn 42AB1234526" in how  # the command as the reader can type it for this case

    path = tmp_path / "OP-LANTERN-1-v1.pdf"
    path.write_bytes(pdf)
    command = re.search(
        r"pyhanko sign validate (.*?) SCHEME-CERT\.pem OP- ?LANTERN-1-v1\.pdf", how
    )  # the line may wrap at a hyphen
    assert command, "the page gives the pyHanko command for this file"

    def pyhanko(cert: str) -> subprocess.CompletedProcess:  # exactly the options the page prints
        options = command.group(1).split()
        return subprocess.run(
            [sys.executable, "-m", "pyhanko", "sign", "validate", *options, cert, str(path)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    trusted = pyhanko(signing_key)
    assert trusted.returncode == 0, trusted.stdout + trusted.stderr
    assert trusted.stdout.strip().endswith(":INTACT:TRUSTED,UNTOUCHED"), trusted.stdout
    other = tmp_path / "other-cert.pem"  # a certificate that did not sign it: pyHanko must not trust it
    settings.PORTAL_SIGNING_KEY_PATH, settings.PORTAL_SIGNING_CERT_PATH = str(tmp_path / "k2.pem"), str(other)
    call_command("create_signing_key", "--force", stdout=io.StringIO())
    untrusted = pyhanko(str(other))
    assert untrusted.returncode != 0 and ":INTACT:UNTRUSTED" in untrusted.stdout, untrusted.stdout
    native = subprocess.run(
        ["qpdf", "--show-attachment=VD_2.txt", str(path)], capture_output=True, timeout=60, check=True
    ).stdout
    listed = next(f for f in built.manifest["files"] if f["name"] == "VD_2.txt")
    assert hashlib.sha256(native).hexdigest() == listed["sha256"]
