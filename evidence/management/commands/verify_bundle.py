"""Verify a handover bundle as a court would (standalone verifier) and compare it with the database."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from django.utils import timezone

from evidence.bundles import newer_version
from evidence.models import Exhibit, HandoverBundle, Statement
from evidence.signing import RecordUnreadable, describe_signer, verify_for_scheme
from evidence.verify import expect_urn as expect
from evidence.verify import quiet_libraries, sha256_file


class Command(BaseCommand):
    help = (
        "Run the standalone verifier on a bundle PDF or package (ZIP), then check the file and its manifest "
        "against what the portal issued and holds."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("bundle", type=Path, help="the bundle PDF or package (ZIP)")
        parser.add_argument(
            "--cert", default=None, help="certificate (default: the scheme's current and every earlier certificate)"
        )
        parser.add_argument("--expect-urn", default=None, help="fail unless the bundle is for the case with this URN")

    def handle(self, *args, bundle: Path, cert: str | None, expect_urn: str | None = None, **options) -> None:
        if not bundle.is_file():
            raise CommandError(f"No file at {bundle}.")
        quiet_libraries()
        try:
            report = verify_for_scheme(bundle, cert)
        except RecordUnreadable as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        if report.ok and expect_urn is not None:
            report = expect(report, expect_urn)
        if report.case:
            self.stdout.write(f"Bundle: {report.case_line}")
        if report.signed_by:
            self.stdout.write(describe_signer(report))
        for check in report.checks:
            self.stdout.write(f"ok: {check}")
        if not report.ok:
            raise CommandError(f"Verification failed: {report.failure}")
        digest = sha256_file(bundle)
        issued = HandoverBundle.objects.filter(
            Q(pdf_sha256=digest) | Q(package_sha256=digest) | Q(sensitive_pdf_sha256=digest)
        ).first()
        if issued is None:
            raise CommandError("The file verifies on its own, but the portal issued no bundle with this SHA-256.")
        sensitive = digest == issued.sensitive_pdf_sha256
        part = "the sensitive part of " if sensitive else ""
        self.stdout.write(f"ok: the portal issued this file as {part}bundle {issued.pk} (version {issued.version})")
        manifest = report.manifest
        if manifest.get("bundle") != issued.pk or manifest.get("version") != issued.version:
            raise CommandError("The manifest names another bundle than the one the portal issued with this hash.")
        if sensitive:
            if (manifest.get("served") or {}).get("sha256") != issued.pdf_sha256:
                raise CommandError("The sensitive part names another served bundle than the one the portal issued.")
            self.stdout.write("ok: it names the served bundle the portal issued with it")
            self._superseded(issued)
            self.stdout.write(
                self.style.SUCCESS(
                    f"Sensitive part of bundle v{issued.version} of {issued.tasking.reference}: verified, and it "
                    "matches the portal's records."
                )
            )
            return
        for entry in manifest["files"]:
            if entry.get("exhibit") or entry.get("reference"):
                stored = Exhibit.objects.filter(tasking=issued.tasking, reference=entry.get("reference")).first()
                label = entry.get("reference")
            else:
                stored = Statement.objects.filter(tasking=issued.tasking, pk=entry.get("statement")).first()
                label = entry["name"]
            expected = (stored.sha256 if isinstance(stored, Exhibit) else stored.pdf_sha256) if stored else None
            if expected != entry["sha256"]:
                raise CommandError(f"{label}: the manifest's SHA-256 differs from the portal's record ({expected}).")
        recorded = {entry["name"]: entry for entry in issued.manifest.get("files", [])}
        carried = {entry["name"]: entry for entry in manifest["files"]}
        for name in sorted(set(recorded) | set(carried)):
            if name not in carried or name not in recorded:
                where = "the file's manifest" if name not in carried else "the portal's record"
                raise CommandError(f"{name} is missing from {where}.")
            changed = sorted(
                k for k in set(recorded[name]) | set(carried[name]) if recorded[name].get(k) != carried[name].get(k)
            )
            if changed:
                details = "; ".join(
                    f"{key}: {carried[name].get(key)!r} in the file, {recorded[name].get(key)!r} recorded"
                    for key in changed
                )
                raise CommandError(f"{name}: the manifest differs from the portal's record ({details}).")
        if manifest["files"] != issued.manifest.get("files"):
            raise CommandError("The manifest lists the files in another order than the portal recorded.")
        self.stdout.write("ok: every file in the manifest matches the portal's records")
        summary = f"Bundle v{issued.version} of {issued.tasking.reference}: verified"
        self._superseded(issued)
        self.stdout.write(self.style.SUCCESS(f"{summary}, and it matches the portal's records."))

    def _superseded(self, issued: HandoverBundle) -> None:
        newer = newer_version(issued)
        if newer is not None:
            self.stdout.write(
                self.style.WARNING(
                    f"Superseded: version {newer.version} of {issued.tasking.reference} was built on "
                    f"{timezone.localtime(newer.finished_at):%-d %B %Y at %H:%M}; this file is version "
                    f"{issued.version}. Use the newer version unless you were asked to check this one."
                )
            )
