"""Standalone bundle verifier: needs only the bundle PDF and the scheme's certificate — no portal.

    python -m evidence.verify BUNDLE.pdf --cert scheme-cert.pem [--natives FOLDER]
    python -m evidence.verify BUNDLE-PACKAGE.zip --cert scheme-cert.pem

Checks, in order: the PDF carries exactly one signature; it is intact, cryptographically valid,
made by the given certificate, and covers the entire file (an appended update would not); the
embedded manifest.json parses and lists every embedded file with a SHA-256 that matches, and nothing
unlisted is embedded; files too large to embed, which travel beside the PDF (in the package's
`natives/` folder, or a folder given with --natives), match their manifest entries too, and the
package holds nothing unlisted. Exit 0 when all hold, 1 otherwise, printing every check and the
first failure. Uses no Django and no database, by design.
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

from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import SignatureCoverageLevel, validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from pypdf import PdfReader


@dataclass
class Report:
    ok: bool = True
    checks: list[str] = field(default_factory=list)
    failure: str = ""
    manifest: dict = field(default_factory=dict)
    embedded: set[str] = field(default_factory=set)

    def fail(self, message: str) -> Report:
        self.ok, self.failure = False, message
        return self


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


def verify(pdf: bytes, cert_path: str, natives: Path | None = None) -> Report:
    """Verify a bundle PDF; files too large to embed are looked for in `natives`, a folder, if given."""

    def beside(name: str) -> tuple[str, int] | None:
        path = natives / name
        if not path.is_file():
            return None
        with path.open("rb") as handle:
            return sha256_of(handle)

    return outside_event_loop(_verify, pdf, cert_path, beside if natives is not None else None, str(natives))


def verify_package(package: Path, cert_path: str) -> Report:
    """Verify a bundle package: a ZIP holding the signed PDF at its top level and the files too large to
    embed under natives/. Every member must be the PDF or a file its manifest lists as travelling beside it."""
    try:
        archive = zipfile.ZipFile(package)
    except (zipfile.BadZipFile, OSError) as exc:
        return Report().fail(f"the package is not a readable ZIP file ({exc})")
    with archive:
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

        report = outside_event_loop(_verify, pdf, cert_path, beside, f"the package's {PACKAGE_NATIVES} folder")
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


def verify_path(path: Path, cert_path: str) -> Report:
    """A bundle PDF or a bundle package (ZIP), told apart by their first bytes, not their names."""
    with Path(path).open("rb") as handle:
        magic = handle.read(5)
    if magic.startswith(b"PK"):
        return verify_package(Path(path), cert_path)
    if magic != b"%PDF-":
        return Report().fail("the file is neither a PDF nor a bundle package (ZIP)")
    return verify(Path(path).read_bytes(), cert_path)


def _verify(pdf: bytes, cert_path: str, beside: Callable[[str], str | None] | None = None, where: str = "") -> Report:
    report = Report()
    try:
        reader = PdfFileReader(io.BytesIO(pdf))
        signatures = reader.embedded_signatures
    except Exception as exc:  # a damaged or altered file: say so rather than crash
        return report.fail(f"the file is not a readable PDF any more ({exc})")
    if len(signatures) != 1:
        return report.fail(f"expected one signature, found {len(signatures)}")
    try:
        certificate = load_cert_from_pemder(cert_path)
    except (OSError, ValueError) as exc:
        return report.fail(f"the certificate {cert_path} could not be read as a PEM or DER certificate ({exc})")
    status = validate_pdf_signature(signatures[0], ValidationContext(trust_roots=[certificate]))
    if not status.intact:
        return report.fail("the signed bytes have been changed (signature not intact)")
    if not status.valid:
        return report.fail("the signature is not cryptographically valid")
    if not status.trusted:
        return report.fail("the signature was not made with the given certificate")
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        return report.fail("something was added to the file after it was signed")
    report.checks.append("signature intact, valid, made by the given certificate, covering the entire file")

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evidence.verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", type=Path, help="the bundle PDF, or the bundle package (ZIP)")
    parser.add_argument("--cert", required=True, help="the scheme's signing certificate (PEM or DER)")
    parser.add_argument("--natives", type=Path, help="folder holding the files too large to embed")
    args = parser.parse_args(argv)
    if not args.bundle.is_file():
        print(f"FAILED: no file at {args.bundle}")
        return 1
    if args.natives is not None:
        report = verify(args.bundle.read_bytes(), args.cert, args.natives)
    else:
        report = verify_path(args.bundle, args.cert)
    for check in report.checks:
        print(f"ok: {check}")
    if not report.ok:
        print(f"FAILED: {report.failure}")
        return 1
    print("The bundle is intact and every file matches its manifest.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
