"""Signed blind-index sets (evidence/deconfliction/exchange.py): a set signed by installation A reads back
exactly at A's partner, which pins A's certificate; anything altered, signed by someone else, signed with a
certificate outside its validity, in a format it does not know, or under a key it does not hold, is refused
with a sentence saying which. No database: the module is pure."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import random
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from django.core.exceptions import ValidationError
from django.utils import timezone

from evidence.deconfliction import exchange
from evidence.deconfliction.exchange import Entry, SetRefused, set_read, set_sign
from evidence.verify import certificate_fingerprint

KEY = "0123456789abcdef"
OTHER_KEY = "fedcba9876543210"
NOW = datetime.datetime.now(datetime.UTC)


@dataclass(frozen=True)
class Pair:
    key_path: Path
    cert_path: Path

    @property
    def pem(self) -> bytes:
        return self.cert_path.read_bytes()

    @property
    def der(self) -> bytes:
        certificate = x509.load_pem_x509_certificate(self.pem)
        return certificate.public_bytes(serialization.Encoding.DER)

    @property
    def fingerprint(self) -> str:
        return certificate_fingerprint(self.cert_path)


def _pair(folder: Path, name: str, key, *, not_before: datetime.datetime, not_after: datetime.datetime) -> Pair:
    """A key and a self-signed certificate for it, written as the scheme's are (unencrypted PKCS#8 PEM and
    PEM). tests/local_tsa.py's self_signed starts every certificate a minute ago; these need their own
    validity, expired ones included."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = folder / f"{name}-key.pem", folder / f"{name}-cert.pem"
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return Pair(key_path, cert_path)


@dataclass(frozen=True)
class Installations:
    a: Pair  # the partner whose sets are imported (EC P-256, like create_signing_key)
    a_again: Pair  # a second key of A's, for a key that does not match its certificate
    foreign: Pair  # an installation nobody set up for import (RSA, to cover the other key type)
    expired: Pair  # valid two years ago to one year ago
    future: Pair  # valid only from next year


@pytest.fixture(scope="module")
def installations(tmp_path_factory) -> Installations:
    folder = tmp_path_factory.mktemp("installations")
    year = datetime.timedelta(days=365)
    current = {"not_before": NOW - datetime.timedelta(days=1), "not_after": NOW + year}
    return Installations(
        a=_pair(folder, "installation-a", ec.generate_private_key(ec.SECP256R1()), **current),
        a_again=_pair(folder, "installation-a-again", ec.generate_private_key(ec.SECP256R1()), **current),
        foreign=_pair(folder, "foreign", rsa.generate_private_key(public_exponent=65537, key_size=2048), **current),
        expired=_pair(
            folder,
            "expired",
            ec.generate_private_key(ec.SECP256R1()),
            not_before=NOW - 2 * year,
            not_after=NOW - year,
        ),
        future=_pair(
            folder,
            "future",
            ec.generate_private_key(ec.SECP256R1()),
            not_before=NOW + year,
            not_after=NOW + 2 * year,
        ),
    )


def _blind(n: int) -> str:
    return hashlib.sha256(f"identifier {n}".encode()).hexdigest()


def _entries(count: int = 3, *, key_id: str = KEY, expires: str | None = "2099-12-31") -> list[dict]:
    return [{"key_id": key_id, "blind_index": _blind(n), "expires": expires} for n in range(count)]


def _sign(pair: Pair, entries: list[dict] | None = None, **details) -> bytes:
    return set_sign(
        issuer=details.pop("issuer", "Lantern Watch, Northshire Police"),
        contact_name=details.pop("contact_name", "Siân O'Brien"),
        contact_email=details.pop("contact_email", "deconfliction@northshire.example"),
        entries=_entries() if entries is None else entries,
        key_path=pair.key_path,
        cert_path=pair.cert_path,
        **details,
    )


def _read(data: bytes, trusted: list[bytes], known: set[str] | None = None):
    return set_read(data, trusted_certificates=trusted, known_key_ids={KEY} if known is None else known)


def _refused(data: bytes, trusted: list[bytes], known: set[str] | None = None) -> SetRefused:
    with pytest.raises(SetRefused) as refused:
        _read(data, trusted, known)
    return refused.value


def _message(error: ValidationError) -> str:
    return " ".join(error.messages)


def _header(**changes) -> bytes:
    header = {
        "format": exchange.FORMAT,
        "version": exchange.VERSION,
        "issuer": "Lantern Watch",
        "contact_name": "Siân O'Brien",
        "contact_email": "deconfliction@northshire.example",
        "issued_at": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
        **changes,
    }
    return json.dumps({k: v for k, v in header.items() if v is not None}, separators=(",", ":")).encode() + b"\n"


def _crafted(pair: Pair, lines: list[str], *, header: bytes | None = None, issued_at=None) -> bytes:
    """A correctly signed file around a payload set_sign would not write."""
    payload = (header or _header()) + "".join(f"{line}\n" for line in lines).encode()
    moment = (issued_at or NOW).replace(microsecond=0)
    return exchange._signed(payload, pair.key_path, pair.cert_path, moment, check_validity=False)


def _payload_and_signature(data: bytes) -> tuple[bytes, bytes]:
    at = data.index(b"\n-----BEGIN CMS-----") + 1
    return data[:at], data[at:]


# --- a set that holds ----------------------------------------------------------------------------------


def test_a_signed_set_reads_back_exactly(installations):
    a = installations.a
    entries = [*_entries(2), {"key_id": OTHER_KEY, "blind_index": _blind(9), "expires": None}]
    summer_time = datetime.timezone(datetime.timedelta(hours=1))
    issued = (NOW - datetime.timedelta(hours=1)).astimezone(summer_time).replace(microsecond=999)
    read = _read(_sign(a, entries, issued_at=issued), [a.pem], {KEY, OTHER_KEY})
    assert read.issuer == "Lantern Watch, Northshire Police"
    assert read.contact_name == "Siân O'Brien"
    assert read.contact_email == "deconfliction@northshire.example"
    assert read.issued_at == issued.astimezone(datetime.UTC).replace(microsecond=0)
    assert read.issued_at.tzinfo == datetime.UTC
    assert read.signer_fingerprint == a.fingerprint
    assert read.entries == [
        Entry(KEY, _blind(0), datetime.date(2099, 12, 31)),
        Entry(KEY, _blind(1), datetime.date(2099, 12, 31)),
        Entry(OTHER_KEY, _blind(9), None),
    ]


def test_the_file_is_the_documented_text(installations):
    data = _sign(installations.a, _entries(1), issued_at=NOW)
    payload, signature = _payload_and_signature(data)
    header, entry = payload.decode().splitlines()
    assert header == (
        '{"format":"portal-deconfliction-set","version":1,"issuer":"Lantern Watch, Northshire Police",'
        '"contact_name":"Siân O\'Brien","contact_email":"deconfliction@northshire.example",'
        f'"issued_at":"{NOW:%Y-%m-%dT%H:%M:%S}Z"}}'
    )
    assert entry == f"{KEY} {_blind(0)} 2099-12-31"
    assert signature.startswith(b"-----BEGIN CMS-----\n")
    assert signature.endswith(b"\n-----END CMS-----\n")


def test_an_empty_set_reads_as_no_entries(installations):
    assert _read(_sign(installations.a, []), [installations.a.pem]).entries == []


def test_the_trusted_certificate_may_be_der_and_one_of_several(installations):
    data = _sign(installations.foreign)
    read = _read(data, [installations.a.pem, installations.foreign.der])
    assert read.signer_fingerprint == installations.foreign.fingerprint


def test_a_crlf_converted_copy_is_still_checked_and_found_altered(installations):
    data = _sign(installations.a).replace(b"\n", b"\r\n")
    assert "do not match its signature" in _message(_refused(data, [installations.a.pem]))


# --- altered after signing -----------------------------------------------------------------------------


def test_one_hex_digit_changed_is_refused(installations):
    data = _sign(installations.a)
    blind = _blind(1)
    altered = blind[:10] + ("0" if blind[10] != "0" else "1") + blind[11:]
    tampered = data.replace(blind.encode(), altered.encode())
    assert tampered != data
    refused = _refused(tampered, [installations.a.pem])
    assert "do not match its signature" in _message(refused)
    assert refused.code == "altered"


def test_an_entry_added_is_refused(installations):
    payload, signature = _payload_and_signature(_sign(installations.a))
    added = payload + f"{KEY} {_blind(99)} -\n".encode() + signature
    assert "altered or damaged since it was signed" in _message(_refused(added, [installations.a.pem]))


def test_an_entry_removed_is_refused(installations):
    payload, signature = _payload_and_signature(_sign(installations.a))
    removed = payload.replace(f"{KEY} {_blind(2)} 2099-12-31\n".encode(), b"") + signature
    assert len(removed) < len(payload) + len(signature)
    assert "do not match its signature" in _message(_refused(removed, [installations.a.pem]))


def test_a_signature_taken_from_another_set_is_refused(installations):
    payload, _ = _payload_and_signature(_sign(installations.a, _entries(3)))
    _, other_signature = _payload_and_signature(_sign(installations.a, _entries(4)))
    assert "do not match its signature" in _message(_refused(payload + other_signature, [installations.a.pem]))


# --- who signed it, and when ------------------------------------------------------------------------------


def test_a_set_signed_by_a_foreign_certificate_is_refused_with_its_fingerprint(installations):
    refused = _refused(_sign(installations.foreign), [installations.a.pem])
    message = _message(refused)
    assert "not the partner certificate set up for this import" in message
    assert installations.foreign.fingerprint in message
    assert "through a trusted channel" in message
    assert refused.code == "untrusted_signer"


def test_no_trusted_certificate_refuses_every_set(installations):
    message = _message(_refused(_sign(installations.a), []))
    assert "No partner certificate is set up for this import" in message
    assert "trusted channel" in message


def test_a_trusted_certificate_that_is_not_a_certificate_is_refused(installations):
    message = _message(_refused(_sign(installations.a), [b"not a certificate"]))
    assert "is not a certificate (PEM or DER)" in message


def test_a_set_issued_after_its_certificate_expired_is_refused(installations):
    expired = installations.expired
    data = _crafted(expired, [f"{KEY} {_blind(0)} -"])
    message = _message(_refused(data, [expired.pem]))
    assert "had expired on" in message
    assert "send you the new one through a trusted channel" in message


def test_set_sign_will_not_sign_with_an_expired_certificate(installations):
    with pytest.raises(ValidationError) as refused:
        _sign(installations.expired)
    assert "a partner would refuse the set" in _message(refused.value)


def test_a_set_issued_before_its_certificate_was_valid_is_refused(installations):
    future = installations.future
    data = _crafted(future, [f"{KEY} {_blind(0)} -"])
    assert "was not yet valid when the set says it was issued" in _message(_refused(data, [future.pem]))


def test_a_set_dated_in_the_future_is_refused(installations):
    tomorrow = NOW + datetime.timedelta(days=1)
    data = _sign(installations.a, issued_at=tomorrow)
    assert "which is still to come" in _message(_refused(data, [installations.a.pem]))


def test_set_sign_will_not_sign_with_a_key_that_is_not_the_certificates(installations):
    mismatched = Pair(installations.a_again.key_path, installations.a.cert_path)
    with pytest.raises(ValidationError) as refused:
        _sign(mismatched)
    assert "does not belong to the certificate" in _message(refused.value)


# --- not a set, or not one this portal reads ------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(random.Random(7).randbytes(4096), id="random"),
        pytest.param(b"key_id,blind_index,expires\n0123456789abcdef," + b"a" * 64 + b",\n", id="csv"),
        pytest.param(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n", id="pdf"),
        pytest.param(_header() + f"{KEY} {'a' * 64} -\n".encode(), id="unsigned"),
        pytest.param(_header() + b"-----BEGIN CMS-----\n!!!!\n-----END CMS-----\n", id="not-base64"),
        pytest.param(
            _header() + b"-----BEGIN CMS-----\n" + base64.encodebytes(b"\x30\x03\x02\x01\x01") + b"-----END CMS-----\n",
            id="not-cms",
        ),
    ],
)
def test_a_file_that_is_not_a_signed_set_is_refused(installations, data):
    refused = _refused(data, [installations.a.pem])
    assert "This file is not a signed deconfliction set" in _message(refused)
    assert refused.code == "not_a_set"


def test_a_set_with_something_after_its_signature_is_refused(installations):
    data = _sign(installations.a) + b"PS: one more\n"
    assert "is not a signed deconfliction set" in _message(_refused(data, [installations.a.pem]))


def test_an_unknown_version_is_refused(installations):
    data = _crafted(installations.a, [f"{KEY} {_blind(0)} -"], header=_header(version=2))
    message = _message(_refused(data, [installations.a.pem]))
    assert "version 2 of the deconfliction set format, which this portal does not read" in message


def test_a_signed_file_of_another_format_is_refused(installations):
    data = _crafted(installations.a, [], header=_header(format="someone-elses-list"))
    assert "is not a deconfliction set: its first line does not say" in _message(_refused(data, [installations.a.pem]))


def test_a_set_without_its_issuer_is_refused(installations):
    data = _crafted(installations.a, [], header=_header(issuer=None))
    assert "does not give its issuer" in _message(_refused(data, [installations.a.pem]))


def test_a_set_with_an_issue_time_without_a_zone_is_refused(installations):
    data = _crafted(installations.a, [], header=_header(issued_at="2025-06-01T12:00:00"))
    assert "is not a date and time in UTC" in _message(_refused(data, [installations.a.pem]))


# --- entries --------------------------------------------------------------------------------------------


def test_an_entry_under_a_key_this_installation_does_not_hold_is_refused(installations):
    data = _sign(installations.a, [*_entries(1), *_entries(1, key_id=OTHER_KEY)])
    refused = _refused(data, [installations.a.pem], {KEY})
    message = _message(refused)
    assert "Entry 2 of the set was computed with a deconfliction key this installation does not hold" in message
    assert OTHER_KEY in message
    assert "both installations must share the key" in message
    assert refused.code == "unknown_key"


@pytest.mark.parametrize(
    "blind",
    [_blind(0).upper(), _blind(0)[:63], _blind(0) + "0", "g" * 64],
    ids=["upper-case", "63-digits", "65-digits", "not-hex"],
)
def test_an_entry_whose_blind_index_is_malformed_is_refused(installations, blind):
    data = _crafted(installations.a, [f"{KEY} {_blind(1)} -", f"{KEY} {blind} -"])
    message = _message(_refused(data, [installations.a.pem]))
    assert "Entry 2 of the set has a blind index that is not 64 lower-case hexadecimal digits" in message


@pytest.mark.parametrize("key_id", [KEY.upper(), KEY[:15], KEY + "0", "z" * 16])
def test_an_entry_whose_key_id_is_malformed_is_refused(installations, key_id):
    data = _crafted(installations.a, [f"{key_id} {_blind(1)} -"])
    message = _message(_refused(data, [installations.a.pem], {KEY, key_id}))
    assert "Entry 1 of the set has a key id that is not 16 lower-case hexadecimal digits" in message


@pytest.mark.parametrize("expires", ["2099-02-30", "31/12/2099", "never", ""])
def test_an_entry_whose_expiry_is_not_a_date_is_refused(installations, expires):
    data = _crafted(installations.a, [f"{KEY} {_blind(1)} {expires}"])
    assert "has an expiry date that is not a date" in _message(_refused(data, [installations.a.pem]))


@pytest.mark.parametrize("line", [f"{KEY} {_blind(1)}", f"{KEY}  {_blind(1)} -", f"{KEY}\t{_blind(1)}\t-", ""], ids=str)
def test_an_entry_that_is_not_three_fields_is_refused(installations, line):
    data = _crafted(installations.a, [line])
    assert "separated by single spaces" in _message(_refused(data, [installations.a.pem]))


def test_set_sign_will_not_write_a_malformed_entry(installations):
    with pytest.raises(ValidationError) as refused:
        _sign(installations.a, [{"key_id": KEY, "blind_index": "abc", "expires": None}])
    assert "Entry 1 has a blind index that is not 64 lower-case hexadecimal digits" in _message(refused.value)


def test_a_repeated_entry_is_kept_once_with_its_later_expiry(installations):
    lines = [
        f"{KEY} {_blind(0)} 2090-01-01",
        f"{KEY} {_blind(1)} 2090-01-01",
        f"{KEY} {_blind(0)} 2095-01-01",
        f"{KEY} {_blind(0)} 2091-01-01",
        f"{KEY} {_blind(1)} -",
        f"{KEY} {_blind(1)} 2099-01-01",
        f"{OTHER_KEY} {_blind(0)} 2090-01-01",  # the same index under another key is another entry
    ]
    read = _read(_crafted(installations.a, lines), [installations.a.pem], {KEY, OTHER_KEY})
    assert read.entries == [
        Entry(KEY, _blind(0), datetime.date(2095, 1, 1)),
        Entry(KEY, _blind(1), None),
        Entry(OTHER_KEY, _blind(0), datetime.date(2090, 1, 1)),
    ]


def test_an_expired_entry_is_dropped(installations):
    today = timezone.localdate()
    yesterday = today - datetime.timedelta(days=1)
    entries = [
        {"key_id": KEY, "blind_index": _blind(0), "expires": yesterday.isoformat()},
        {"key_id": KEY, "blind_index": _blind(1), "expires": today.isoformat()},
        {"key_id": OTHER_KEY, "blind_index": _blind(2), "expires": "2001-01-01"},  # under a key no longer held
        {"key_id": KEY, "blind_index": _blind(0), "expires": None},  # a repeat that has not expired stays
    ]
    read = _read(_sign(installations.a, entries), [installations.a.pem], {KEY})
    assert read.entries == [Entry(KEY, _blind(1), today), Entry(KEY, _blind(0), None)]


# --- limits ---------------------------------------------------------------------------------------------


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(installations, monkeypatch):
    data = _sign(installations.a)
    monkeypatch.setattr(exchange, "MAX_FILE_BYTES", 2_000_000)
    message = _message(_refused(data + b" " * 2_000_000, [installations.a.pem]))
    assert "more than the 2 MB a deconfliction set may be" in message


def test_a_set_with_too_many_entries_is_refused(installations, monkeypatch):
    data = _sign(installations.a, _entries(3))
    monkeypatch.setattr(exchange, "MAX_ENTRIES", 2)
    assert "holds more than 2 entries" in _message(_refused(data, [installations.a.pem]))


# --- a third party can check it ---------------------------------------------------------------------------


def _openssl_verify(folder: Path, data: bytes, cert_path: Path) -> subprocess.CompletedProcess:
    """The module docstring's recipe, run as written."""
    (folder / "set.txt").write_bytes(data)
    script = (
        "set -e\n"
        "sed '/^-----BEGIN CMS-----$/,$d' set.txt > payload.txt\n"
        "sed -n '/^-----BEGIN CMS-----$/,$p' set.txt > signature.pem\n"
        "openssl cms -verify -binary -inform PEM -in signature.pem -content payload.txt "
        f"-certfile {cert_path} -nointern -noverify -out /dev/null\n"
    )
    return subprocess.run(["sh", "-c", script], cwd=folder, capture_output=True, text=True, timeout=60, check=False)


def test_openssl_verifies_a_set_by_hand(installations, tmp_path):
    if shutil.which("openssl") is None or shutil.which("sed") is None:
        pytest.skip("this test needs the openssl and sed binaries")
    data = _sign(installations.a)
    good = _openssl_verify(tmp_path, data, installations.a.cert_path)
    assert good.returncode == 0, good.stderr
    assert "Verification successful" in good.stderr
    assert (tmp_path / "payload.txt").read_bytes() == _payload_and_signature(data)[0]

    foreign = _openssl_verify(tmp_path, _sign(installations.foreign), installations.a.cert_path)
    assert foreign.returncode != 0
    blind = _blind(0)
    tampered = _openssl_verify(tmp_path, data.replace(blind.encode(), blind[::-1].encode()), installations.a.cert_path)
    assert tampered.returncode != 0
