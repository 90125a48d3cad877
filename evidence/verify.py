"""Standalone bundle verifier: needs only the bundle PDF and the scheme's certificate — no portal.

    python -m evidence.verify BUNDLE.pdf --cert scheme-cert.pem [--natives FOLDER]

Checks, in order: the PDF carries exactly one signature; it is intact, cryptographically valid,
made by the given certificate, and covers the entire file (an appended update would not); the
embedded manifest.json lists every embedded file with a SHA-256 that matches; files too large to
embed, if a folder is given, match their manifest entries too. Exit 0 when all hold, 1 otherwise,
printing the first failure. Uses no Django and no database, by design.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import sys
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


def verify(pdf: bytes, cert_path: str, natives: Path | None = None) -> Report:
    return outside_event_loop(_verify, pdf, cert_path, natives)


def _verify(pdf: bytes, cert_path: str, natives: Path | None = None) -> Report:
    report = Report()
    try:
        reader = PdfFileReader(io.BytesIO(pdf))
        signatures = reader.embedded_signatures
    except Exception as exc:  # a damaged or altered file: say so rather than crash
        return report.fail(f"the file is not a readable PDF any more ({exc})")
    if len(signatures) != 1:
        return report.fail(f"expected one signature, found {len(signatures)}")
    status = validate_pdf_signature(signatures[0], ValidationContext(trust_roots=[load_cert_from_pemder(cert_path)]))
    if not status.intact:
        return report.fail("the signed bytes have been changed (signature not intact)")
    if not status.valid:
        return report.fail("the signature is not cryptographically valid")
    if not status.trusted:
        return report.fail("the signature was not made with the given certificate")
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        return report.fail("something was added to the file after it was signed")
    report.checks.append("signature intact, valid, made by the given certificate, covering the entire file")

    attachments = PdfReader(io.BytesIO(pdf)).attachments
    if "manifest.json" not in attachments:
        return report.fail("the embedded manifest.json is missing")
    try:
        manifest = json.loads(attachments["manifest.json"][0])
    except ValueError:
        return report.fail("the embedded manifest.json does not parse")
    listed = {entry["name"] for entry in manifest.get("files", [])}
    unlisted = sorted(set(attachments) - listed - {"manifest.json"})
    if unlisted:
        return report.fail(f"embedded files not listed in the manifest: {', '.join(unlisted)}")
    for entry in manifest.get("files", []):
        name, expected = entry["name"], entry["sha256"]
        if entry.get("embedded"):
            if name not in attachments:
                return report.fail(f"{name} is listed in the manifest but not embedded")
            actual = hashlib.sha256(attachments[name][0]).hexdigest()
        elif natives is not None:
            path = natives / name
            if not path.exists():
                return report.fail(f"{name} is listed in the manifest but not in {natives}")
            actual = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            report.checks.append(f"{name}: travels beside the PDF (not checked: no folder given)")
            continue
        if actual != expected:
            return report.fail(f"{name}: SHA-256 {actual} does not match the manifest's {expected}")
        report.checks.append(f"{name}: SHA-256 matches the manifest")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evidence.verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--cert", required=True, help="the scheme's signing certificate (PEM or DER)")
    parser.add_argument("--natives", type=Path, help="folder holding the files too large to embed")
    args = parser.parse_args(argv)
    report = verify(args.bundle.read_bytes(), args.cert, args.natives)
    for check in report.checks:
        print(f"ok: {check}")
    if not report.ok:
        print(f"FAILED: {report.failure}")
        return 1
    print("The bundle is intact and every file matches its manifest.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
