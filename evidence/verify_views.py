"""The "Verify a bundle" page: upload a bundle PDF or package, see every check the standalone verifier makes."""

from __future__ import annotations

import logging
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from evidence.bundles import newer_version
from evidence.models import HandoverBundle
from evidence.policy import may_download_bundle, may_download_sensitive_part, may_verify_bundles
from evidence.signing import RecordUnreadable, describe_signer, verify_for_scheme
from evidence.uploads import HashedUpload, HashingFileUploadHandler, discard
from evidence.verify import Report, sha256_of
from portal import ratelimit
from portal.audit import audit_record
from portal.models import AuditEvent, User

logger = logging.getLogger(__name__)

FIELD = "bundle"  # the file input's name; its id is "bundle-file"

# The verifier's failures put as a headline for the person holding the file. Matched in order on the
# verifier's wording; a failure not listed here still shows, under the general headline.
GENERAL_HEADLINE = "This file did not pass verification"
NOT_A_BUNDLE = "This is not a bundle file"
PORTAL_FAULT = (
    "the portal could not check this file: its record of the scheme's signing certificates cannot be read. Nothing "
    "is known to be wrong with the file; try again later, and tell the scheme that sent it"
)
HEADLINES = (
    ("the portal could not check this file", "The portal could not check this file"),
    ("neither a PDF nor", NOT_A_BUNDLE),
    ("not a readable ZIP", NOT_A_BUNDLE),
    ("expected one bundle PDF", "This package does not hold one bundle PDF"),
    ("expected one signature", "This file is not signed the way a bundle is"),
    ("not a readable PDF", "This file is damaged or has been changed since it was signed"),
    ("could not be read to the end", "This file is damaged or has been changed since it was signed"),
    ("in the package is damaged", "This file is damaged or has been changed since it was signed"),
    ("more than one file named", "This package holds the same file twice"),
    ("but the manifest says", "A file inside this bundle has been changed since it was signed"),
    ("signature not intact", "This file has been changed since it was signed"),
    ("not cryptographically valid", "This file's signature is not valid"),
    ("not made with the given certificate", "This file was not signed by the scheme"),
    ("added to the file after it was signed", "Something has been added to this file since it was signed"),
    ("does not match the manifest", "A file inside this bundle has been changed since it was signed"),
    ("not listed in the manifest", "This file holds something the bundle does not list"),
    ("is listed in the manifest but not", "A file the bundle lists is missing"),
    ("manifest.json", "This file's list of contents is missing or damaged"),
)
# Lines the verifier reports without checking a file: one travelling beside a bare PDF, or one withheld
# under police control. They are shown as "Not checked", never as passed.
BESIDE_UNCHECKED = "not checked"
WITHHELD = "withheld"
OWN_CLOCK = "portal's own clock"  # no time-stamping authority vouches for the signing time: said, not passed


@dataclass(frozen=True)
class Issued:
    """What the portal's own record says about the bundle a verified file names."""

    bundle: HandoverBundle
    matches: bool
    newer: HandoverBundle | None = None  # a later version of the same tasking's bundle, already built


@dataclass
class Outcome:
    """One verification, as the page shows it."""

    report: Report
    file_name: str
    size: int
    sha256: str
    package: bool
    issued: Issued | None = None
    checks: list[tuple[str, bool]] = field(default_factory=list)  # (what the verifier says, whether it checked)

    @property
    def signer(self) -> str:
        """Which of the scheme's certificates signed (the page adds its fingerprint, set to wrap)."""
        return describe_signer(self.report, fingerprint=False)

    @property
    def headline(self) -> str:
        return headline_for(self.report.failure) if not self.report.ok else ""

    @property
    def detail(self) -> str:
        failure = plain_english(self.report.failure, self.report.manifest) if self.report.failure else ""
        return f"{failure[:1].upper()}{failure[1:]}." if failure else ""

    @property
    def failure_plain(self) -> str:
        return self.detail

    @property
    def advice(self) -> str:
        if self.headline == NOT_A_BUNDLE:
            return "Check that you selected the bundle PDF or package (ZIP) you received, not another file."
        again = ", or download it again from the portal" if self.issued else ""
        return f"Do not rely on this file. Ask whoever sent it for the bundle again{again}."

    @property
    def all_checked(self) -> bool:
        """Whether every file was checked (the signing time's source is a statement, not a file)."""
        return all(
            made for (_, made), raw in zip(self.checks, self.report.checks, strict=False) if OWN_CLOCK not in raw
        )

    @property
    def beside_unchecked(self) -> bool:
        return any(BESIDE_UNCHECKED in text for text in self.report.checks)


def _file_label(name: str, manifest: dict) -> str:
    """A file the manifest lists, as the court knows it: "exhibit VD/1", "witness statement (MG11) 12"."""
    entry = next((e for e in manifest.get("files", []) if isinstance(e, dict) and e.get("name") == name), None)
    if entry and entry.get("reference"):
        return f"exhibit {entry['reference']}"
    if entry and entry.get("statement"):
        return f"witness statement (MG11) {entry['statement']}"
    return f"the file {name}"


def plain_english(text: str, manifest: dict) -> str:
    """The standalone verifier speaks to experts (file names, "manifest.json"); the page says the same in
    words a court reads: exhibit references as VD/1, the list of contents, fingerprints."""
    if text.startswith("signature intact"):
        return "Signed with the scheme's key, and not one byte of the PDF has changed since it was signed."
    if text.startswith("manifest.json parses"):
        count = len(manifest.get("files", []))
        return (
            f"The bundle's list of contents was read: version {manifest.get('version')} of the bundle for "
            f"{manifest.get('tasking')}, {count} file{'s' if count != 1 else ''}."
        )
    if OWN_CLOCK in text:
        return (
            "No time-stamping authority vouches for when the bundle was signed: its signing time is the portal's "
            "own clock."
        )
    if text.startswith("signed at ") and "time-stamping authority" in text:
        return text.replace("the given time-stamping authority", "the time-stamping authority the portal trusts")
    if text == "the package holds nothing the manifest does not list":
        return "The package holds nothing that the bundle's list of contents does not name."
    name, _, rest = text.partition(": ")
    label = _file_label(name, manifest) if rest else ""
    label = label[:1].upper() + label[1:]
    if rest == "SHA-256 and size match the manifest":
        return f"{label}: unchanged (the same SHA-256 fingerprint and size as listed)."
    if rest.startswith("withheld under police control"):
        return f"{label}: withheld under police control. Its fingerprint is listed; the file is not supplied."
    if rest.startswith("travels beside the PDF"):
        return (
            f"{label}: too large to embed, so it travels beside the PDF and was not checked here. Verify the "
            "package (ZIP) to check it."
        )
    plain = text.replace("the embedded manifest.json", "the bundle's list of contents").replace(
        "the manifest", "the bundle's list of contents"
    )
    for entry in manifest.get("files", []):
        if isinstance(entry, dict) and entry.get("name") and entry["name"] in plain:
            plain = plain.replace(entry["name"], _file_label(entry["name"], manifest))
    return plain


def headline_for(failure: str) -> str:
    return next((headline for phrase, headline in HEADLINES if phrase in failure), GENERAL_HEADLINE)


def issued_comparison(*, user: User, report: Report, sha256: str) -> Issued | None:
    """Whether the file is the one the portal issued — only for a bundle the user may download. Any other
    bundle, or none, gets the same None, so the page says nothing about bundles the user cannot see."""
    bundle_id = report.manifest.get("bundle")
    if not isinstance(bundle_id, int) or isinstance(bundle_id, bool):
        return None
    bundle = HandoverBundle.objects.select_related("tasking").filter(pk=bundle_id).first()
    if report.manifest.get("part") == "sensitive":  # compared only for those who may hold the sensitive part
        if bundle is None or not may_download_sensitive_part(user, bundle):
            return None
        return Issued(bundle=bundle, matches=sha256 == bundle.sensitive_pdf_sha256, newer=newer_version(bundle))
    if bundle is None or not bundle.pdf_sha256 or not may_download_bundle(user, bundle):
        return None
    return Issued(bundle=bundle, matches=sha256 == bundle.pdf_sha256, newer=newer_version(bundle))


def _is_package(upload: HashedUpload) -> bool:
    return upload.head.startswith(b"PK")  # how evidence.verify.verify_path tells a package from a PDF


def _signed_pdf_sha256(upload: HashedUpload) -> str:
    """The SHA-256 to compare with the issued PDF's: the upload's own, or for a package that of the one
    bundle PDF at its top level (the verifier has already found exactly one when it parsed the manifest)."""
    if not _is_package(upload):
        return upload.sha256
    with zipfile.ZipFile(upload.temp_path) as archive:
        name = next(n for n in archive.namelist() if "/" not in n and n.endswith(".pdf"))
        with archive.open(name) as member:
            return sha256_of(member)[0]


def _verify(upload: HashedUpload) -> Report:
    try:
        return verify_for_scheme(Path(upload.temp_path))
    except RecordUnreadable:
        # The portal's own fault, not the file's: the operator reads the detail in the log.
        logger.error("bundle verification could not read the signing certificates' record", exc_info=True)
        return Report().fail(PORTAL_FAULT)
    except Exception as exc:  # a damaged upload (a ZIP member failing its CRC, say) is a failure, not a crash
        logger.warning("bundle verification could not read an upload: %r", exc, exc_info=True)
        return Report().fail(f"the file could not be read to the end ({exc})")


def _page(request: HttpRequest, *, error: str = "", outcome: Outcome | None = None, status: int = 200) -> HttpResponse:
    context = {
        "error": error,
        "outcome": outcome,
        "max_size": filesizeformat(settings.PORTAL_BUNDLE_VERIFY_MAX_BYTES),
    }
    return render(request, "evidence/bundle_verify.html", context, status=status)


@never_cache
@csrf_exempt  # the upload handler must be installed before the body is read; CSRF is checked just after
@login_required
def bundle_verify(request: HttpRequest) -> HttpResponse:
    """Court / CPS recipients and officers check a bundle file they hold. Nothing uploaded is kept."""
    if not may_verify_bundles(request.user):
        raise PermissionDenied("Only court and CPS recipients and supervising officers can verify bundles here.")
    if request.method != "POST":
        return _page(request)
    if not ratelimit.allow(request, action="bundle_verify", rate=settings.PORTAL_VERIFY_RATE_LIMIT):
        return _page(
            request,
            error="You have checked a lot of files in a short time. Wait a few minutes, then try again.",
            status=429,
        )
    handler = HashingFileUploadHandler(request)
    handler.max_bytes = settings.PORTAL_BUNDLE_VERIFY_MAX_BYTES
    request.upload_handlers = [handler]
    try:
        return _bundle_verify(request, handler)
    finally:
        handler.abort()  # whatever was spooled is deleted


@csrf_protect
def _bundle_verify(request: HttpRequest, handler: HashingFileUploadHandler) -> HttpResponse:
    upload = request.FILES.get(FIELD)
    if handler.refused is not None:
        return _page(
            request,
            error=f"The file is larger than {filesizeformat(handler.refused.limit)}, the most this page can check. "
            "Nothing was kept. Check it with the standalone verifier: the last section of every bundle explains how.",
        )
    if upload is None:
        return _page(request, error="Select the bundle file to verify")
    try:
        if upload.size == 0:
            return _page(request, error="The selected file is empty. Select the bundle PDF or package you received")
        if not Path(settings.PORTAL_SIGNING_CERT_PATH).is_file():
            logger.error("bundle verification: no certificate at PORTAL_SIGNING_CERT_PATH")
            return _page(
                request,
                error="The portal cannot check bundles at the moment: it has no copy of the scheme's certificate. "
                "Nothing was kept. Tell your scheme administrator.",
                status=503,
            )
        report = _verify(upload)
        outcome = Outcome(
            report=report,
            file_name=upload.name or "",
            size=upload.size,
            sha256=upload.sha256,
            package=_is_package(upload),
            checks=[
                (
                    plain_english(check, report.manifest),
                    BESIDE_UNCHECKED not in check and WITHHELD not in check and OWN_CLOCK not in check,
                )
                for check in report.checks
            ],
        )
        if report.manifest:
            outcome.issued = issued_comparison(user=request.user, report=report, sha256=_signed_pdf_sha256(upload))
    finally:
        discard(upload)
    audit_record(
        action="evidence.bundle_verify",
        request=request,
        obj=outcome.issued.bundle.tasking if outcome.issued else None,
        outcome=AuditEvent.Outcome.SUCCESS if report.ok else AuditEvent.Outcome.FAILURE,
        detail={
            "ok": report.ok,
            "failure": report.failure,
            "sha256": upload.sha256,
            "size": upload.size,
            "package": outcome.package,
            "bundle": report.manifest.get("bundle"),
            "issued": outcome.issued.matches if outcome.issued else None,
        },
    )
    return _page(request, outcome=outcome)
