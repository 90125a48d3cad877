"""Signed blind-index sets: how two installations of the portal exchange the identifiers they deconflict on,
without any plaintext and without trusting the route the file travels by.

One installation exports its current blind indexes (evidence/deconfliction/blind.py) as a *signed set*;
the partner installation imports it with `set_read`, which refuses the file unless it is intact, signed by
the partner certificate the importer has pinned, and computed under a deconfliction key both hold.

The file (version 1)
--------------------
A UTF-8 text file in two parts: the *payload*, then a detached CMS signature over the payload's exact
bytes, PEM-armoured::

    {"format":"portal-deconfliction-set","version":1,"issuer":"…","contact_name":"…","contact_email":"…","issued_at":"2025-06-01T12:00:00Z"}
    0123456789abcdef <64 lower-case hex digits> 2026-12-31
    0123456789abcdef <64 lower-case hex digits> -
    -----BEGIN CMS-----
    <base64 of the DER CMS SignedData, detached, over every byte above this line>
    -----END CMS-----

The payload is its header line (a JSON object, keys in the order shown, no spaces, `issued_at` ISO 8601
in UTC to the second) and then one line per entry: the deconfliction key's id (16 lower-case hex digits),
the blind index (64 lower-case hex digits) and the date the entry expires (YYYY-MM-DD, or `-` for none),
separated by single spaces. Every line, the last included, ends in one line feed; the signature starts
on the next line. `format` and `version` say what the file is and how to read it: a reader refuses a
version it does not know rather than guess.

Why this shape: an entry line costs 93 bytes, so a million entries make a 93 MB file that is read in one
pass, line by line, with no copy of the payload (an embedded CMS would be copied at every level of its
ASN.1 nesting, a base64 payload twice more). The header and entries stay readable in a text editor, and
the signature is a standard one any third party can check.

The signature
-------------
A CMS (PKCS#7, RFC 5652) SignedData made by pyHanko with the scheme's signing key and certificate
(PORTAL_SIGNING_KEY_PATH / PORTAL_SIGNING_CERT_PATH): SHA-256, content type `data`, detached, with the
signer's certificate inside and the issue time as its signing-time attribute. `set_read` checks it with
pyHanko's CMS validation (`validate_sig_integrity`), then *pins* the signer: its certificate must be
byte-for-byte one of the certificates the importer trusts (the same SHA-256 fingerprint), obtained from
the partner by a trusted channel. No certificate authority is consulted; a set signed by anyone else is
refused however valid its signature. The certificate must also have been valid at the set's issue time.
That time is the signer's own claim (there is no time-stamp): a set cannot be dated into a period its
certificate does not cover, nor more than a few minutes into the future.

To check a set by hand with OpenSSL, given the partner's certificate as partner-cert.pem::

    sed '/^-----BEGIN CMS-----$/,$d' set.txt > payload.txt
    sed -n '/^-----BEGIN CMS-----$/,$p' set.txt > signature.pem
    openssl cms -verify -binary -inform PEM -in signature.pem -content payload.txt \\
        -certfile partner-cert.pem -nointern -noverify -out /dev/null

"Verification successful" means the payload is exactly what the holder of partner-cert.pem's key signed
(`-nointern` accepts no signer but that certificate; `-noverify` skips chain building, as pinning needs
none).

Reading
-------
Refusals are `SetRefused`, one plain sentence a police user can act on, with a `code`. A repeated
(key id, blind index) is kept once (with the later expiry); an entry whose expiry date has passed is
dropped, even one under a key no longer held; neither is a refusal. An unexpired entry under a key this
installation does not hold is refused: its index could never match anything here, and both installations
must share the key. The file is read whole (at most MAX_FILE_BYTES): a million entries take about 250 MB
beyond the file itself.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import NoReturn

from django.core.exceptions import ValidationError
from django.utils import timezone

from evidence.verify import _fingerprint, outside_event_loop

FORMAT = "portal-deconfliction-set"
VERSION = 1
MAX_FILE_BYTES = 160_000_000  # a million entries take at most 93 MB
MAX_ENTRIES = 1_500_000
FUTURE_TOLERANCE = timedelta(minutes=10)  # clocks differ a little between installations
DIGEST = "sha256"
ACCEPTED_DIGESTS = frozenset({"sha256", "sha384", "sha512"})

BEGIN = b"-----BEGIN CMS-----"
END = b"-----END CMS-----"
HEADER_FIELDS = ("issuer", "contact_name", "contact_email")

_KEY_ID = re.compile(r"[0-9a-f]{16}")
_BLIND_INDEX = re.compile(r"[0-9a-f]{64}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ENTRY = re.compile(rb"([0-9a-f]{16}) ([0-9a-f]{64}) ([0-9]{4}-[0-9]{2}-[0-9]{2}|-)\n")
_LINE = re.compile(rb"[^\n]*\n")

ASK_AGAIN = "Ask the partner force to export the set again from their portal and send you the file unchanged."


class SetRefused(ValidationError):
    """A signed set that is not imported: the message says why, in one sentence a police user can act on."""


@dataclass(frozen=True, slots=True)
class Entry:
    key_id: str  # 16 hex digits naming the deconfliction key the index was computed under
    blind_index: str  # 64 lower-case hex digits
    expires: date | None


@dataclass(frozen=True)
class SignedSet:
    issuer: str
    contact_name: str
    contact_email: str
    issued_at: datetime  # aware, UTC
    entries: list[Entry]
    signer_fingerprint: str  # SHA-256 of the signing certificate, colon-separated upper-case hex


# --- signing ---------------------------------------------------------------------------------------------


def set_sign(
    *,
    issuer: str,
    contact_name: str,
    contact_email: str,
    entries: Iterable[dict],
    key_path: str | Path,
    cert_path: str | Path,
    issued_at: datetime | None = None,
) -> bytes:
    """The bytes of a signed set of `entries` ({"key_id", "blind_index", "expires": "YYYY-MM-DD" | date |
    None}), signed with the key and certificate at `key_path` and `cert_path`. Raises ValidationError (not
    SetRefused) with a plain message when the details, an entry, the key or the certificate would make a
    file its partner must refuse."""
    issued_at = _issue_time(issued_at)
    header: dict[str, object] = {"format": FORMAT, "version": VERSION}
    for name, value in (("issuer", issuer), ("contact_name", contact_name), ("contact_email", contact_email)):
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(f"The set cannot be signed without its {name.replace('_', ' ')}.")
        header[name] = value.strip()
    header["issued_at"] = _iso(issued_at)
    buffer = io.BytesIO()
    buffer.write(json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n")
    for number, entry in enumerate(entries, start=1):
        if number > MAX_ENTRIES:
            raise ValidationError(f"The set holds more than the {MAX_ENTRIES:,} entries a partner imports at once.")
        buffer.write(_entry_line(number, entry))
    payload = buffer.getvalue()
    del buffer
    return _signed(payload, key_path, cert_path, issued_at)


def _signed(
    payload: bytes, key_path: str | Path, cert_path: str | Path, issued_at: datetime, *, check_validity: bool = True
) -> bytes:
    """`payload` followed by its detached CMS signature, PEM-armoured: a set file, whatever the payload
    (the tests sign payloads `set_sign` would not write, and with certificates it would not use)."""
    from pyhanko.sign import signers
    from pyhanko.sign.signers.pdf_cms import CMSSignedAttributes

    signer = signers.SimpleSigner.load(str(key_path), str(cert_path), key_passphrase=None)
    if signer is None:
        raise ValidationError(
            f"The signing key at {key_path} or the certificate at {cert_path} could not be read: install the "
            "force's key (unencrypted PEM) and certificate."
        )
    certificate = signer.signing_cert
    if check_validity and not certificate.not_valid_before <= issued_at <= certificate.not_valid_after:
        raise ValidationError(
            f"The signing certificate at {cert_path} is valid from {_when(certificate.not_valid_before)} to "
            f"{_when(certificate.not_valid_after)}, not at {_when(issued_at)}: a partner would refuse the set. "
            "Renew the force's certificate first."
        )

    async def sign():
        return await signer.async_sign_general_data(
            payload, DIGEST, detached=True, signed_attr_settings=CMSSignedAttributes(signing_time=issued_at)
        )

    der = outside_event_loop(_run, sign).dump()
    if not _intact(_only_signer(der), certificate, hashlib.sha256(payload).digest()):
        raise ValidationError(
            f"The signing key at {key_path} does not belong to the certificate at {cert_path}: install the "
            "matching pair."
        )
    armour = base64.encodebytes(der)  # lines of 76 characters, each ending in a line feed
    return payload + BEGIN + b"\n" + armour + END + b"\n"


def _run(make):
    import asyncio

    return asyncio.run(make())


def _issue_time(issued_at: datetime | None) -> datetime:
    if issued_at is None:
        issued_at = datetime.now(UTC)
    if issued_at.tzinfo is None or issued_at.utcoffset() is None:
        raise ValidationError("The set's issue time must say its time zone.")
    return issued_at.astimezone(UTC).replace(microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _when(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%-d %B %Y %H:%M} UTC"


def _entry_line(number: int, entry: dict) -> bytes:
    key_id, blind, expires = entry.get("key_id"), entry.get("blind_index"), entry.get("expires")
    if not (isinstance(key_id, str) and _KEY_ID.fullmatch(key_id)):
        raise ValidationError(f"Entry {number} has a key id that is not 16 lower-case hexadecimal digits.")
    if not (isinstance(blind, str) and _BLIND_INDEX.fullmatch(blind)):
        raise ValidationError(f"Entry {number} has a blind index that is not 64 lower-case hexadecimal digits.")
    if expires is None:
        written = "-"
    elif isinstance(expires, date) and not isinstance(expires, datetime):
        written = expires.isoformat()
    elif isinstance(expires, str) and _DATE.fullmatch(expires) and _date(expires) is not None:
        written = expires
    else:
        raise ValidationError(f"Entry {number} has an expiry date that is not a date (YYYY-MM-DD) or none.")
    return f"{key_id} {blind} {written}\n".encode("ascii")


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


# --- reading ---------------------------------------------------------------------------------------------


def set_read(data: bytes, *, trusted_certificates: list[bytes], known_key_ids: set[str]) -> SignedSet:
    """The set in `data`, once its signature is intact, made by one of `trusted_certificates` (PEM or DER,
    pinned: the signer's certificate must be one of them exactly) while that certificate was valid, and
    every entry is well formed and under one of `known_key_ids`. Raises SetRefused otherwise."""
    if not trusted_certificates:
        raise SetRefused(
            "No partner certificate is set up for this import, so no set can be trusted. Obtain the partner "
            "installation's signing certificate through a trusted channel (in person, or from a known contact "
            "by a separate route) and add it first.",
            code="no_trusted_certificate",
        )
    trusted = _fingerprints(trusted_certificates)
    if not isinstance(data, bytes | bytearray | memoryview):
        raise SetRefused(_not_a_set(), code="not_a_set")
    if len(data) > MAX_FILE_BYTES:
        raise SetRefused(
            f"This file is {len(data) / 1_000_000:,.0f} MB, more than the {MAX_FILE_BYTES // 1_000_000} MB a "
            f"deconfliction set may be, so it was not read. {ASK_AGAIN}",
            code="too_large",
        )
    data = bytes(data)
    payload_end, der = _split(data)

    signer_info, certificate = _parse_signature(der)
    digest_algorithm = signer_info["digest_algorithm"]["algorithm"].native
    if digest_algorithm not in ACCEPTED_DIGESTS:
        raise SetRefused(
            f"The set is signed with the {digest_algorithm} digest, which this portal does not accept as "
            f"secure. {ASK_AGAIN}",
            code="weak_digest",
        )
    digest = hashlib.new(digest_algorithm, memoryview(data)[:payload_end]).digest()
    if not _intact(signer_info, certificate, digest):
        raise SetRefused(
            "The set's contents do not match its signature: it has been altered or damaged since it was "
            f"signed, and none of it can be relied on. {ASK_AGAIN}",
            code="altered",
        )
    fingerprint = _fingerprint(certificate.dump())
    if fingerprint not in trusted:
        raise SetRefused(
            "The set is signed with a certificate that is not the partner certificate set up for this import "
            f"(its SHA-256 fingerprint is {fingerprint}). Do not import it: obtain the partner installation's "
            "certificate through a trusted channel, confirm its fingerprint with them, and add it first.",
            code="untrusted_signer",
        )

    header_end = data.index(b"\n") + 1  # the payload ends in a line feed, so there is one
    header = _header(data[:header_end])
    issued_at = header["issued_at"]
    if issued_at < certificate.not_valid_before:
        raise SetRefused(
            f"The certificate that signed the set was not yet valid when the set says it was issued "
            f"({_when(issued_at)}): it is valid from {_when(certificate.not_valid_before)}. {ASK_AGAIN}",
            code="certificate_not_yet_valid",
        )
    if issued_at > certificate.not_valid_after:
        raise SetRefused(
            f"The certificate that signed the set had expired on {_when(certificate.not_valid_after)}, before "
            f"the set says it was issued ({_when(issued_at)}). Ask the partner force to renew their "
            "certificate, send you the new one through a trusted channel, and export the set again.",
            code="certificate_expired",
        )
    if issued_at > timezone.now() + FUTURE_TOLERANCE:
        raise SetRefused(
            f"The set says it was issued at {_when(issued_at)}, which is still to come: the partner "
            "installation's clock is wrong. Ask the partner force to correct it and export the set again.",
            code="issued_in_future",
        )
    entries = _entries(data, header_end, payload_end, known_key_ids)
    return SignedSet(
        issuer=header["issuer"],
        contact_name=header["contact_name"],
        contact_email=header["contact_email"],
        issued_at=issued_at,
        entries=entries,
        signer_fingerprint=fingerprint,
    )


def _not_a_set() -> str:
    return (
        "This file is not a signed deconfliction set: a set is the text file a partner installation's portal "
        f"exports, its entries followed by a CMS signature. {ASK_AGAIN}"
    )


def _fingerprints(certificates: list[bytes]) -> set[str]:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    fingerprints = set()
    for data in certificates:
        try:
            data = bytes(data)
            if b"-----BEGIN" in data:
                loaded = x509.load_pem_x509_certificates(data)
            else:
                loaded = [x509.load_der_x509_certificate(data)]
        except (TypeError, ValueError):
            raise SetRefused(
                "One of the partner certificates set up for this import is not a certificate (PEM or DER), so "
                "no set can be checked against it. Obtain the partner's certificate file again through a "
                "trusted channel and add it.",
                code="bad_trusted_certificate",
            ) from None
        fingerprints.update(_fingerprint(certificate.public_bytes(Encoding.DER)) for certificate in loaded)
    return fingerprints


def _split(data: bytes) -> tuple[int, bytes]:
    """Where the payload ends (the line feed before the signature included), and the signature's DER."""
    at = data.find(b"\n" + BEGIN)
    if at < 0 or not data.startswith(b"{"):
        raise SetRefused(_not_a_set(), code="not_a_set")
    payload_end = at + 1
    armour = data[payload_end + len(BEGIN) :]
    end = armour.find(END)
    if end < 0 or armour[end + len(END) :].strip():
        raise SetRefused(_not_a_set(), code="not_a_set")
    try:
        der = base64.b64decode(b"".join(armour[:end].split()), validate=True)
    except (binascii.Error, ValueError):
        raise SetRefused(_not_a_set(), code="not_a_set") from None
    if not der:
        raise SetRefused(_not_a_set(), code="not_a_set")
    return payload_end, der


def _only_signer(der: bytes):
    from asn1crypto import cms

    info = cms.ContentInfo.load(der, strict=True)
    if info["content_type"].native != "signed_data":
        raise ValueError("not a CMS SignedData")
    (signer_info,) = info["content"]["signer_infos"]
    return signer_info


def _parse_signature(der: bytes):
    """The signature's one SignerInfo and the signer's certificate (asn1crypto objects)."""
    from asn1crypto import cms, core
    from pyhanko.sign.general import extract_certificate_info, extract_signer_info

    try:
        info = cms.ContentInfo.load(der, strict=True)
        if info["content_type"].native != "signed_data":
            raise ValueError("not a CMS SignedData")
        signed_data = info["content"]
        encapsulated = signed_data["encap_content_info"]
        if encapsulated["content_type"].native != "data" or encapsulated["content"] is not core.VOID:
            raise ValueError("not a detached signature over data")
        signer_info = extract_signer_info(signed_data)
        signer_info.native  # noqa: B018 - parse it all now: a malformed field fails here, not later
    except Exception:  # asn1crypto parses lazily and raises all sorts on bytes that are not DER
        raise SetRefused(_not_a_set(), code="not_a_set") from None
    try:
        certificate = extract_certificate_info(signed_data).signer_cert
        certificate.not_valid_before  # noqa: B018 - as above
    except Exception:
        raise SetRefused(
            f"The set's signature does not include the certificate that made it, so it cannot be checked. {ASK_AGAIN}",
            code="no_signer_certificate",
        ) from None
    return signer_info, certificate


def _intact(signer_info, certificate, digest: bytes) -> bool:
    """pyHanko's CMS integrity check: the signed attributes carry `digest` and the signature over them is
    the certificate's key's. Trust is decided apart (pinning)."""
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko.sign.validation.generic_cms import validate_sig_integrity

    try:
        intact, valid = validate_sig_integrity(signer_info, certificate, "data", digest)
    except (SignatureValidationError, ValueError, TypeError, KeyError):
        return False
    return intact and valid


def _header(line: bytes) -> dict:
    def refuse(message: str, code: str) -> SetRefused:
        return SetRefused(message, code=code)

    try:
        header = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise refuse(
            "The signed file is not a deconfliction set: its first line does not say "
            f'"format": "{FORMAT}". {ASK_AGAIN}',
            "unknown_format",
        )
    version = header.get("version")
    if version != VERSION or isinstance(version, bool):
        raise refuse(
            f"The set is in version {version} of the deconfliction set format, which this portal does not "
            f"read (it reads version {VERSION}). Upgrade this portal, or ask the partner force to export the set "
            f"in version {VERSION}.",
            "unknown_version",
        )
    for name in HEADER_FIELDS:
        value = header.get(name)
        if not isinstance(value, str) or not value.strip():
            raise refuse(
                f"The set does not give its {name.replace('_', ' ')}, so it cannot be imported. {ASK_AGAIN}",
                "incomplete_header",
            )
    issued = header.get("issued_at")
    try:
        moment = datetime.fromisoformat(issued) if isinstance(issued, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.utcoffset() is None:
        raise refuse(
            f"The set's issue time ({issued}) is not a date and time in UTC, so it cannot be imported. {ASK_AGAIN}",
            "bad_issue_time",
        )
    header["issued_at"] = moment.astimezone(UTC)
    return header


def _entries(data: bytes, start: int, end: int, known_key_ids: set[str]) -> list[Entry]:
    """The entries between `start` and `end` of `data`, read in place: well formed, under a known key,
    unexpired, each (key id, blind index) once."""
    known = {key_id: key_id for key_id in known_key_ids}  # one string per key id, shared by every entry
    dates: dict[bytes, date | None] = {b"-": None}
    today = timezone.localdate()
    entries: list[Entry] = []
    seen: dict[str, dict[str, int]] = {}  # key id -> blind index -> position in entries
    number, at, match = 0, start, _ENTRY.match
    while at < end:
        number += 1
        if number > MAX_ENTRIES:
            raise SetRefused(
                f"The set holds more than {MAX_ENTRIES:,} entries, more than this portal imports at once. "
                "Ask the partner force to contact the portal's administrators.",
                code="too_many_entries",
            )
        found = match(data, at, end)
        if found is None:
            _refuse_entry(number, data, at, end)
        at = found.end()
        key_bytes, blind_bytes, expires_bytes = found.groups()
        expires = dates.get(expires_bytes, ...)
        if expires is ...:
            expires = _date(expires_bytes.decode("ascii"))
            if expires is None:
                _refuse_entry(number, data, found.start(), end)
            dates[expires_bytes] = expires
        if expires is not None and expires < today:
            continue
        key_id = known.get(key_bytes.decode("ascii"))
        if key_id is None:
            raise SetRefused(
                f"Entry {number} of the set was computed with a deconfliction key this installation does not "
                f"hold (key id {key_bytes.decode('ascii')}): both installations must share the key before they "
                "can match. Agree the key with the partner force, add it to this installation's deconfliction "
                "keys, and import the set again.",
                code="unknown_key",
            )
        blind = blind_bytes.decode("ascii")
        positions = seen.setdefault(key_id, {})
        earlier = positions.get(blind)
        if earlier is None:
            positions[blind] = len(entries)
            entries.append(Entry(key_id, blind, expires))
        elif _later(expires, entries[earlier].expires):
            entries[earlier] = Entry(key_id, entries[earlier].blind_index, expires)
    return entries


def _later(expires: date | None, than: date | None) -> bool:
    if than is None:
        return False
    return expires is None or expires > than


def _refuse_entry(number: int, data: bytes, at: int, end: int) -> NoReturn:
    """Say exactly what is wrong with the entry line starting at `at`."""
    line = _LINE.match(data, at, end)
    text = data[at : line.end() - 1 if line else end].decode("utf-8", errors="replace")
    fields = text.split(" ")
    if len(fields) != 3:
        message = (
            f"Entry {number} of the set is not a key id, a blind index and an expiry date separated by single "
            "spaces, so the set cannot be read."
        )
        code = "bad_entry"
    elif not _KEY_ID.fullmatch(fields[0]):
        message = f"Entry {number} of the set has a key id that is not 16 lower-case hexadecimal digits."
        code = "bad_key_id"
    elif not _BLIND_INDEX.fullmatch(fields[1]):
        message = f"Entry {number} of the set has a blind index that is not 64 lower-case hexadecimal digits."
        code = "bad_blind_index"
    else:
        message = f"Entry {number} of the set has an expiry date that is not a date (YYYY-MM-DD) or -."
        code = "bad_expiry"
    raise SetRefused(f"{message} {ASK_AGAIN}", code=code)
