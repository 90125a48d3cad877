"""Standalone bundle verifier: needs only the bundle PDF and the scheme's certificate — no portal.

    python -m evidence.verify BUNDLE.pdf --cert scheme-cert.pem [--natives FOLDER]
    python -m evidence.verify BUNDLE-PACKAGE.zip --cert scheme-cert.pem

Checks, in order: the PDF carries exactly one signature; it is intact, cryptographically valid, made
by the given certificate, and covers the entire file (an appended update would not), and its unused
padding is zeros (every byte of the file is accounted for); the embedded manifest.json parses and lists
every embedded file with a SHA-256 that matches, and nothing unlisted is embedded; files too large to
embed, which travel beside the PDF (in the package's `natives/` folder, or a folder given with
--natives), match their manifest entries too; a package's local entries match its central directory one
for one, with nothing before, between or after them, and it holds nothing unlisted. Exit 0 when all
hold, 1 otherwise, printing every check and the first failure in one sentence (never a traceback). Uses
no Django and no database, by design.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import sys
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pypdf import PdfReader


@dataclass
class Report:
    ok: bool = True
    checks: list[str] = field(default_factory=list)
    failure: str = ""
    manifest: dict = field(default_factory=dict)
    embedded: set[str] = field(default_factory=set)
    signed_by: str = ""  # the SHA-256 fingerprint of the certificate that made the signature

    def fail(self, message: str) -> Report:
        self.ok, self.failure = False, message
        return self

    @property
    def case(self) -> list[tuple[str, str]]:
        """What the bundle says it is, from its signed manifest: (label, value) pairs, the case first."""
        return case_fields(self.manifest)

    @property
    def case_line(self) -> str:
        return "; ".join(f"{label} {value}" for label, value in self.case)


def case_fields(manifest: dict) -> list[tuple[str, str]]:
    from datetime import UTC, datetime

    from evidence.urn import display_urn

    if not manifest:
        return []
    fields = [("URN", display_urn(str(manifest.get("urn") or "")) or "not recorded")]
    fields.append(("operation", str(manifest.get("tasking", ""))))
    fields.append(("version", str(manifest.get("version", ""))))
    try:
        built = datetime.fromisoformat(str(manifest.get("generated_at"))).astimezone(UTC)
        fields.append(("built", f"{built:%-d %B %Y %H:%M} UTC"))
    except ValueError:
        pass
    if manifest.get("part"):
        fields.append(("part", str(manifest["part"])))
    return fields


def outside_event_loop(fn, *args, **kwargs):
    """pyHanko's synchronous calls use asyncio.run, which fails inside a running event loop (ASGI, some
    test harnesses): run them on a helper thread then."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return fn(*args, **kwargs)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args, **kwargs).result()


PACKAGE_NATIVES = "natives/"
CHUNK = 1024 * 1024


class MemberDamaged(Exception):
    """A file beside the PDF could not be read to its end (a ZIP member failing its CRC, say)."""


def sha256_of(stream) -> tuple[str, int]:
    """SHA-256 (hex) and size of a binary stream, read a block at a time."""
    digest, size = hashlib.sha256(), 0
    while block := stream.read(CHUNK):
        digest.update(block)
        size += len(block)
    return digest.hexdigest(), size


def sha256_file(path: Path | str) -> str:
    with Path(path).open("rb") as handle:
        return sha256_of(handle)[0]


def _fingerprint(der: bytes) -> str:
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def certificate_fingerprint(cert_path: str | Path) -> str:
    """The SHA-256 fingerprint of a certificate (PEM or DER), as `openssl x509 -fingerprint -sha256` and a
    PDF reader's certificate viewer show it: colon-separated upper-case hex pairs."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    data = Path(cert_path).read_bytes()
    certificate = (
        x509.load_pem_x509_certificate(data) if b"-----BEGIN" in data else x509.load_der_x509_certificate(data)
    )
    return _fingerprint(certificate.public_bytes(Encoding.DER))


CertPaths = str | Path | list[str] | list[Path]


def _cert_list(cert_path: CertPaths) -> list[str]:
    return [str(p) for p in cert_path] if isinstance(cert_path, list) else [str(cert_path)]


def verify(pdf: bytes, cert_path: CertPaths, natives: Path | None = None, tsa_cert: str | Path | None = None) -> Report:
    """Verify a bundle PDF; files too large to embed are looked for in `natives`, a folder, if given."""

    def beside(name: str) -> tuple[str, int] | None:
        path = natives / name
        if not path.is_file():
            return None
        with path.open("rb") as handle:
            return sha256_of(handle)

    return outside_event_loop(
        _verify, pdf, cert_path, beside if natives is not None else None, str(natives), tsa_cert=tsa_cert
    )


def verify_package(package: Path, cert_path: CertPaths, tsa_cert: str | Path | None = None) -> Report:
    """Verify a bundle package: a ZIP holding the signed PDF at its top level and the files too large to
    embed under natives/. Every member must be the PDF or a file its manifest lists as travelling beside it."""
    try:
        archive = zipfile.ZipFile(package)
    except (zipfile.BadZipFile, OSError) as exc:
        return Report().fail(f"the package is not a readable ZIP file ({exc})")
    with archive:
        layout = _zip_layout_problem(Path(package), archive)
        if layout:
            return Report().fail(layout)
        members = [info for info in archive.infolist() if not info.is_dir()]
        names = [info.filename for info in members]
        doubled = sorted({name for name in names if names.count(name) > 1})
        if doubled:  # tools differ on which copy they extract: refuse rather than pick one
            return Report().fail(f"the package holds more than one file named {', '.join(doubled)}")
        pdfs = [info.filename for info in members if "/" not in info.filename and info.filename.endswith(".pdf")]
        if len(pdfs) != 1:
            return Report().fail(f"expected one bundle PDF at the top of the package, found {len(pdfs)}")
        try:
            pdf = archive.read(pdfs[0])
        except (zipfile.BadZipFile, OSError) as exc:
            return Report().fail(f"{pdfs[0]} in the package is damaged ({exc})")

        def beside(name: str) -> tuple[str, int] | None:
            try:
                with archive.open(PACKAGE_NATIVES + name) as handle:
                    return sha256_of(handle)
            except KeyError:
                return None
            except (zipfile.BadZipFile, OSError) as exc:  # its bytes are not what was packed
                raise MemberDamaged(f"{name} in the package is damaged ({exc})") from exc

        report = outside_event_loop(
            _verify, pdf, cert_path, beside, f"the package's {PACKAGE_NATIVES} folder", tsa_cert=tsa_cert
        )
        if not report.ok:
            return report
        beside_names = {
            PACKAGE_NATIVES + entry["name"]
            for entry in report.manifest["files"]
            if (entry.get("location") or ("embedded" if entry.get("embedded") else "beside")) == "beside"
        }
        unlisted = sorted(info.filename for info in members if info.filename not in beside_names | {pdfs[0]})
        if unlisted:
            return report.fail(f"files in the package not listed in the manifest: {', '.join(unlisted)}")
        report.checks.append("the package holds nothing the manifest does not list")
        return report


def verify_path(path: Path, cert_path: CertPaths, tsa_cert: str | Path | None = None) -> Report:
    """A bundle PDF or a bundle package (ZIP), told apart by their first bytes, not their names."""
    with Path(path).open("rb") as handle:
        magic = handle.read(5)
    if magic.startswith(b"PK"):
        return verify_package(Path(path), cert_path, tsa_cert)
    if magic != b"%PDF-":
        return Report().fail("the file is neither a PDF nor a bundle package (ZIP)")
    return verify(Path(path).read_bytes(), cert_path, tsa_cert=tsa_cert)


def _verify(
    pdf: bytes,
    cert_path: CertPaths,
    beside: Callable[[str], str | None] | None = None,
    where: str = "",
    tsa_cert: str | Path | None = None,
) -> Report:
    # pyHanko and pypdf are loaded when a file is verified, not when the portal starts (portal/pdf.py says why).
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation import SignatureCoverageLevel, validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext
    from pypdf import PdfReader

    report = Report()
    try:
        reader = PdfFileReader(io.BytesIO(pdf))
        signatures = reader.embedded_regular_signatures
        timestamps = sorted(reader.embedded_timestamp_signatures, key=lambda stamp: stamp.signed_revision)
    except Exception as exc:  # a damaged or altered file: say so rather than crash
        return report.fail(f"the file is not a readable PDF any more ({exc})")
    if len(signatures) != 1:
        return report.fail(f"expected one signature, found {len(signatures)}")
    certificates = []
    for path in _cert_list(cert_path):  # the scheme's certificate, and any it used before a key rotation
        try:
            certificates.append(load_cert_from_pemder(path))
        except (OSError, ValueError) as exc:
            return report.fail(f"the certificate {path} could not be read as a PEM or DER certificate ({exc})")
    tsa_roots = []
    if tsa_cert:
        try:
            tsa_roots.append(load_cert_from_pemder(str(tsa_cert)))
        except (OSError, ValueError) as exc:
            return report.fail(f"the TSA certificate {tsa_cert} could not be read as a PEM or DER certificate ({exc})")
    tsa_context = ValidationContext(trust_roots=tsa_roots, allow_fetching=False, revocation_mode="soft-fail")
    status = validate_pdf_signature(
        signatures[0], ValidationContext(trust_roots=certificates), ts_validation_context=tsa_context
    )
    stamp = status.timestamp_validity
    if not status.trusted and stamp is not None and stamp.intact and stamp.valid and stamp.trusted:
        # The certificate may have expired since: what matters is that it was valid when the time-stamping
        # authority saw the signature (PAdES long-term validation).
        at_signing = ValidationContext(trust_roots=certificates, moment=stamp.timestamp)
        status = validate_pdf_signature(signatures[0], at_signing, ts_validation_context=tsa_context)
    if not status.intact:
        return report.fail("the signed bytes have been changed (signature not intact)")
    if not status.valid:
        return report.fail("the signature is not cryptographically valid")
    if not status.trusted:
        return report.fail("the signature was not made with the given certificate")
    lta_only = status.modification_level in (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES)
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE and not (timestamps and lta_only):
        return report.fail("something was added to the file after it was signed")
    for signature in [*signatures, *timestamps]:
        padding = _signature_padding_problem(pdf, signature)
        if padding:
            return report.fail(padding)
    report.checks.append("signature intact, valid, made by the given certificate, covering the entire file")
    report.signed_by = _fingerprint(status.signing_cert.dump())
    timing = _timing(stamp, timestamps, tsa_context, tsa_given=bool(tsa_roots))
    if timing.startswith("FAIL "):
        return report.fail(timing[5:])
    report.checks.append(timing)
    if stamp is None:  # only the signer's own clock says when it signed: weigh that against the expiry
        expired = _expired_certificate(status)
        if expired.startswith("FAIL "):
            return report.fail(expired[5:])
        if expired:
            report.checks.append(expired)

    try:
        attachments = _embedded_files(PdfReader(io.BytesIO(pdf)))
    except ValueError as exc:
        return report.fail(str(exc))
    if "manifest.json" not in attachments:
        return report.fail("the embedded manifest.json is missing")
    try:
        manifest = json.loads(attachments["manifest.json"])
    except ValueError:
        return report.fail("the embedded manifest.json does not parse")
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        return report.fail("the embedded manifest.json has no list of files")
    report.manifest, report.embedded = manifest, set(attachments) - {"manifest.json"}
    report.checks.append(
        f"manifest.json parses: bundle {manifest.get('bundle')} version {manifest.get('version')} "
        f"of {manifest.get('tasking')}, {len(manifest['files'])} files"
    )
    if manifest.get("part") == "sensitive":
        served = manifest.get("served") if isinstance(manifest.get("served"), dict) else {}
        report.checks.append(
            "this is the sensitive part (for the CPS only); it accompanies the served bundle "
            f"{served.get('name', '(not named)')}, SHA-256 {served.get('sha256', '(not given)')}"
        )
    listed = {entry["name"] for entry in manifest.get("files", [])}
    unlisted = sorted(set(attachments) - listed - {"manifest.json"})
    if unlisted:
        return report.fail(f"embedded files not listed in the manifest: {', '.join(unlisted)}")
    for entry in manifest.get("files", []):
        name, expected = entry["name"], entry["sha256"]
        location = entry.get("location") or ("embedded" if entry.get("embedded") else "beside")
        if location == "withheld":
            report.checks.append(
                f"{name}: withheld under police control (its hash is listed; the file is not supplied)"
            )
            continue
        if location == "embedded":
            if name not in attachments:
                return report.fail(f"{name} is listed in the manifest but not embedded")
            data = attachments[name]
            actual, size = hashlib.sha256(data).hexdigest(), len(data)
        elif beside is not None:
            try:
                found = beside(name)
            except MemberDamaged as exc:
                return report.fail(str(exc))
            if found is None:
                return report.fail(f"{name} is listed in the manifest but not in {where}")
            actual, size = found
        else:
            report.checks.append(f"{name}: travels beside the PDF (not checked: give the package or --natives)")
            continue
        if actual != expected:
            return report.fail(f"{name}: SHA-256 {actual} does not match the manifest's {expected}")
        if size != entry.get("size"):
            return report.fail(f"{name}: its size is {size} bytes, but the manifest says {entry.get('size')}")
        report.checks.append(f"{name}: SHA-256 and size match the manifest")
    return report


def _expired_certificate(status) -> str:
    """For a signature with no timestamp: nothing if its certificate is still valid; a plain note if it has
    expired since the time the signature claims; a failure if the signature claims a time after the expiry,
    or none at all. (A scheme's self-signed certificate is its own trust anchor, whose validity period
    certificate path validation does not check: it is checked here.)"""
    from datetime import UTC, datetime

    not_after = status.signing_cert.not_valid_after
    if datetime.now(UTC) <= not_after:
        return ""
    claimed = status.signer_reported_dt
    if claimed is None or claimed > not_after:
        return "FAIL the signature is dated after its signing certificate expired"
    return (
        f"the signing certificate expired on {not_after.astimezone(UTC):%-d %B %Y %H:%M} UTC; the signature is "
        f"dated {claimed.astimezone(UTC):%-d %B %Y %H:%M} UTC, before then, but only by the portal's own clock"
    )


def _timing(stamp, timestamps: list, tsa_context, *, tsa_given: bool) -> str:
    """Where the signing time comes from: an RFC 3161 timestamp (checked against the TSA's certificate when
    it is given), and every document timestamp after the signature intact and covering what follows it."""
    from datetime import UTC

    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation import SignatureCoverageLevel, validate_pdf_timestamp

    if stamp is None:
        if timestamps:
            return "FAIL a document timestamp was added, but the signature itself carries no timestamp"
        return "the signing time is the portal's own clock: the bundle carries no time-stamping authority's timestamp"
    if not (stamp.intact and stamp.valid):
        return "FAIL the time-stamping authority's timestamp on the signature has been changed"
    for number, document_stamp in enumerate(timestamps, start=1):
        checked = validate_pdf_timestamp(document_stamp, tsa_context)
        if not (checked.intact and checked.valid):
            return "FAIL a document timestamp in the file has been changed"
        # An earlier document timestamp may be followed by validation material and a later timestamp that
        # covers it; the last one must cover the file to its end, or bytes would follow that nothing protects.
        last = number == len(timestamps)
        if checked.coverage != SignatureCoverageLevel.ENTIRE_FILE and (
            last or checked.modification_level not in (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES)
        ):
            return "FAIL something was added to the file after its last document timestamp"
        if tsa_given and not checked.trusted:
            return "FAIL a document timestamp was not made by the given time-stamping authority"
    at = f"{stamp.timestamp.astimezone(UTC):%-d %B %Y %H:%M:%S} UTC"
    if not tsa_given:
        return (
            f"signed at {at} by the time of an RFC 3161 timestamp (not checked: give --tsa-cert, the "
            "time-stamping authority's certificate, to check it)"
        )
    if not stamp.trusted:
        return "FAIL the timestamp on the signature was not made by the given time-stamping authority"
    return f"signed at {at}, as an RFC 3161 timestamp by the given time-stamping authority shows"


def _signature_padding_problem(pdf: bytes, signature) -> str | None:
    """The signature's /Contents is a fixed-size hex string: the DER-encoded signature, then padding that
    the signed byte range does not cover. Every byte of the file must be accounted for, so the padding
    must be zeros — otherwise anything could be hidden there without touching the signature."""
    byte_range = [int(n) for n in signature.sig_object["/ByteRange"]]
    start, end = byte_range[0] + byte_range[1], byte_range[2]
    field = pdf[start:end]
    if len(field) < 2 or field[:1] != b"<" or field[-1:] != b">":
        return "the signature's contents are not where its byte range says"
    try:
        contents = bytes.fromhex(field[1:-1].decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return "the signature's contents hold something other than hexadecimal digits"
    length = _der_length(contents)
    if length is None:
        return "the signature's contents do not start with a DER-encoded signature"
    if contents[length:].strip(b"\x00"):
        return "bytes after the signature, in its unused padding, have been changed (they must all be zero)"
    return None


def _der_length(data: bytes) -> int | None:
    """The length of the DER value (a SEQUENCE) at the start of `data`, header included."""
    if len(data) < 2 or data[0] != 0x30:
        return None
    if data[1] < 0x80:
        return 2 + data[1]
    count = data[1] & 0x7F
    if count == 0 or count > 4 or len(data) < 2 + count:
        return None
    return 2 + count + int.from_bytes(data[2 : 2 + count], "big")


def _zip_layout_problem(path: Path, archive: zipfile.ZipFile) -> str | None:
    """A package must be a ZIP whose local entries match its central directory one for one, with nothing
    before, between or after them. Tools differ on what they read — the central directory (Python,
    Info-ZIP) or the local headers in order (streaming readers) —, so a local entry the directory does not
    list, or bytes where none belong, could give one reader a file the verifier never saw."""
    import struct

    size = path.stat().st_size
    expected = 0
    with path.open("rb") as handle:
        for info in sorted(archive.infolist(), key=lambda i: i.header_offset):
            if info.header_offset != expected:
                return "the package has bytes before or between its files that its directory does not list"
            handle.seek(info.header_offset)
            header = handle.read(30)
            if len(header) < 30 or header[:4] != b"PK\x03\x04":
                return f"the package's entry for {info.filename} is not where its directory says"
            name_length, extra_length = struct.unpack("<HH", header[26:30])
            name = handle.read(name_length)
            if name.decode("utf-8" if info.flag_bits & 0x800 else "cp437", "replace") != info.filename:
                return f"the package's local entry for {info.filename} names another file"
            expected = info.header_offset + 30 + name_length + extra_length + info.compress_size
            if info.flag_bits & 0x08:  # a data descriptor follows the data
                handle.seek(expected)
                descriptor = handle.read(4)
                expected += 4 if descriptor == b"PK\x07\x08" else 0
                expected += 20 if info.compress_size >= 0xFFFFFFFF or info.file_size >= 0xFFFFFFFF else 12
        if archive.start_dir != expected:
            return "the package has bytes between its last file and its directory (a hidden entry, perhaps)"
        handle.seek(max(0, size - 22 - len(archive.comment)))
        if handle.read(4) != b"PK\x05\x06":
            return "the package has bytes after the end of its directory"
    return None


def _embedded_files(reader: PdfReader) -> dict[str, bytes]:
    """Every embedded file by name, walking the whole name tree (a long one is split into /Kids, which
    some readers do not follow). A name found twice is refused: readers differ on which copy they show."""
    files: dict[str, bytes] = {}
    root = reader.trailer["/Root"]
    tree = root.get("/Names", {}).get("/EmbeddedFiles") if "/Names" in root else None

    def walk(node, depth: int) -> None:
        node = node.get_object()
        if depth > 32:
            raise ValueError("the embedded files' name tree is too deep to be genuine")
        for kid in node.get("/Kids", []):
            walk(kid, depth + 1)
        pairs = node.get("/Names", [])
        for index in range(0, len(pairs) - 1, 2):
            name = str(pairs[index])
            spec = pairs[index + 1].get_object()
            streams = spec.get("/EF", {})
            stream = streams.get("/F") or streams.get("/UF")
            if stream is None:
                raise ValueError(f"the embedded file {name} has no content")
            if name in files:
                raise ValueError(f"more than one embedded file is named {name}")
            files[name] = stream.get_object().get_data()

    if tree is not None:
        walk(tree, 0)
    return files


def quiet_libraries() -> None:
    """pyHanko logs what it finds wrong with a signature, tracebacks included, to the root logger; with no
    logging set up Python prints that after the verdict. The verdict already says it, in one sentence."""
    import logging

    for name in ("pyhanko", "pyhanko_certvalidator", "pypdf"):
        logger = logging.getLogger(name)
        logger.addHandler(logging.NullHandler())
        logger.propagate = False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evidence.verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", type=Path, help="the bundle PDF, or the bundle package (ZIP)")
    parser.add_argument(
        "--cert",
        required=True,
        action="append",
        help="the scheme's signing certificate (PEM or DER); give --cert again for each earlier certificate",
    )
    parser.add_argument("--natives", type=Path, help="folder holding the files too large to embed")
    parser.add_argument("--tsa-cert", help="the time-stamping authority's certificate, to check the signing time")
    parser.add_argument(
        "--expect-urn", help="fail unless the bundle is for the case with this URN (spaces and case do not matter)"
    )
    args = parser.parse_args(argv)
    quiet_libraries()
    if not args.bundle.is_file():
        print(f"FAILED: no file at {args.bundle}")
        return 1
    try:
        if args.natives is not None:
            report = verify(args.bundle.read_bytes(), args.cert, args.natives, tsa_cert=args.tsa_cert)
        else:
            report = verify_path(args.bundle, args.cert, tsa_cert=args.tsa_cert)
    except Exception as exc:  # never a traceback: one plain sentence
        report = Report().fail(f"the file could not be checked ({type(exc).__name__}: {exc})")
    if report.ok and args.expect_urn is not None:
        report = expect_urn(report, args.expect_urn)
    if report.case:
        print(f"Bundle: {report.case_line}")
    if report.signed_by:
        print(f"Signed with the certificate whose SHA-256 fingerprint is {report.signed_by}")
    for check in report.checks:
        print(f"ok: {check}")
    if not report.ok:
        print(f"FAILED: {report.failure}")
        return 1
    print("The bundle is intact and every file matches its manifest.")
    return 0


def expect_urn(report: Report, expected: str) -> Report:
    """Fail a report whose bundle is for another case than the one expected: a genuine bundle of the wrong
    case verifies perfectly well on its own."""
    from evidence.urn import display_urn, normalise_urn

    carried = normalise_urn(str(report.manifest.get("urn") or ""))
    if not carried:
        return report.fail(
            f"the bundle names no URN, so it cannot be shown to be for URN {display_urn(normalise_urn(expected))}"
        )
    if carried != normalise_urn(expected):
        return report.fail(
            f"the bundle is for URN {display_urn(carried)}, not URN {display_urn(normalise_urn(expected))} as expected"
        )
    report.checks.append(f"the bundle is for URN {display_urn(carried)}, as expected")
    return report


if __name__ == "__main__":
    sys.exit(main())
