"""The scheme's signing certificates over time: the current one (PORTAL_SIGNING_CERT_PATH), every earlier
one kept when the key is replaced, and the ones the scheme has revoked.

A bundle signed before a key rotation stays genuine: the verify page and `verify_bundle` check it against
every certificate the scheme has used and say which one signed it. A revoked certificate (a key that was
lost or compromised) is reported as such, and no new bundle is signed with it. The earlier certificates
and an index (`certificates.json`: when each was replaced, whether and why it was revoked) live in
PORTAL_SIGNING_EARLIER_DIR, beside the key; back that folder up with it.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from evidence.verify import Report, certificate_fingerprint, verify_path

INDEX = "certificates.json"


def _folder() -> Path:
    return Path(settings.PORTAL_SIGNING_EARLIER_DIR)


class RecordUnreadable(ValidationError):
    """The record of the scheme's earlier certificates cannot be read: a fault for the portal's operator,
    not a verdict on any bundle."""


def _index() -> dict:
    path = _folder() / INDEX
    if not path.is_file():
        return {}
    try:
        index = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RecordUnreadable(
            f"The portal cannot read its record of the scheme's signing certificates, {path} ({exc}). Restore it "
            "from the backup of that folder; until then no bundle can be signed or checked against earlier "
            "certificates."
        ) from exc
    if not isinstance(index, dict):
        raise RecordUnreadable(
            f"The portal's record of the scheme's signing certificates, {path}, is not the list it keeps. Restore "
            "it from the backup of that folder."
        )
    return index


def _write_index(index: dict) -> None:
    folder = _folder()
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{INDEX}.{os.getpid()}"
    temporary.write_text(json.dumps(index, indent=2, sort_keys=True))
    temporary.replace(folder / INDEX)  # whole or not at all


def keep_earlier(cert_path: str | Path) -> str:
    """Keep the certificate being replaced, so bundles it signed still verify; returns its fingerprint."""
    fingerprint = certificate_fingerprint(cert_path)
    name = fingerprint.replace(":", "").lower() + ".pem"
    _folder().mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cert_path, _folder() / name)
    index = _index()
    index.setdefault(fingerprint, {}).update({"file": name, "replaced_at": timezone.now().isoformat()})
    _write_index(index)
    return fingerprint


def scheme_certificates() -> list[str]:
    """The current certificate first, then every earlier one."""
    paths = [settings.PORTAL_SIGNING_CERT_PATH]
    for entry in _index().values():
        if entry.get("file") and (_folder() / entry["file"]).is_file():
            paths.append(str(_folder() / entry["file"]))
    return paths


def revoke(fingerprint: str, *, reason: str) -> dict:
    """Record that the scheme revoked a certificate (current or earlier): bundles it signed are then
    reported as signed with a revoked certificate, and none is signed with it again."""
    fingerprint = fingerprint.strip().upper()
    known = {certificate_fingerprint(path) for path in scheme_certificates() if Path(path).is_file()}
    if fingerprint not in known:
        raise ValidationError(f"The scheme has no certificate with the SHA-256 fingerprint {fingerprint}.")
    index = _index()
    entry = index.setdefault(fingerprint, {})
    entry.update({"revoked_at": timezone.now().isoformat(), "reason": reason})
    _write_index(index)
    return entry


def standing(fingerprint: str) -> dict:
    """What the scheme's records say of a certificate: current or earlier (replaced when), revoked (when, why)."""
    entry = dict(_index().get(fingerprint, {}))
    current = Path(settings.PORTAL_SIGNING_CERT_PATH)
    entry["current"] = current.is_file() and certificate_fingerprint(current) == fingerprint
    return entry


def describe_signer(report: Report, *, fingerprint: bool = True) -> str:
    """Which of the scheme's certificates signed the bundle, in a sentence (with its fingerprint, or ending
    where a page puts the fingerprint in an element of its own)."""
    if not report.signed_by:
        return ""
    entry = standing(report.signed_by)
    if entry["current"]:
        which = "the scheme's current certificate"
    else:
        replaced = parse_datetime(entry.get("replaced_at", "") or "")
        which = "an earlier certificate of the scheme" + (
            f", replaced on {timezone.localtime(replaced):%-d %B %Y}" if replaced else ""
        )
    return f"Signed with {which}" + (f" (SHA-256 fingerprint {report.signed_by})." if fingerprint else "")


def revocation_problem(report: Report) -> str | None:
    """A sentence if the certificate that signed the bundle has been revoked by the scheme."""
    if not report.signed_by:
        return None
    entry = standing(report.signed_by)
    revoked = parse_datetime(entry.get("revoked_at", "") or "")
    if revoked is None:
        return None
    return (
        f"the bundle was signed with a certificate the scheme revoked on {timezone.localtime(revoked):%-d %B %Y} "
        f"({entry.get('reason') or 'no reason recorded'}), SHA-256 fingerprint {report.signed_by}"
    )


def check_not_revoked(cert_path: str | Path) -> None:
    """No new bundle is signed with a revoked certificate, or with one outside its validity period."""
    from datetime import UTC, datetime

    from cryptography import x509

    certificate = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
    now = datetime.now(UTC)
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise ValidationError(
            f"The scheme's signing certificate is valid from {certificate.not_valid_before_utc:%-d %B %Y} to "
            f"{certificate.not_valid_after_utc:%-d %B %Y}, not today: install a new key and certificate (or run "
            "`python manage.py create_signing_key --force` in development) before building bundles."
        )
    entry = standing(certificate_fingerprint(cert_path))
    if entry.get("revoked_at"):
        raise ValidationError(
            "The scheme's signing certificate has been revoked: install a new key and certificate (or run "
            "`python manage.py create_signing_key --force` in development) before building bundles."
        )


def verify_for_scheme(path: Path, cert: str | None = None) -> Report:
    """The standalone verifier run as the portal runs it (the verify page, `verify_bundle`): against every
    certificate the scheme has used (or `cert` alone), with the time-stamping authority's certificate, and
    failing a bundle signed with a certificate the scheme has revoked."""
    report = verify_path(Path(path), cert or scheme_certificates(), settings.PORTAL_TSA_CERT_PATH or None)
    problem = revocation_problem(report) if report.ok else None
    return report.fail(problem) if problem else report
