"""Verify a handover bundle as a court would (standalone verifier) and compare it with the database."""

import hashlib
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from evidence.models import Exhibit, HandoverBundle
from evidence.verify import verify


class Command(BaseCommand):
    help = "Run the standalone verifier on a bundle PDF, then check its hash and manifest against the portal."

    def add_arguments(self, parser) -> None:
        parser.add_argument("pdf", type=Path)
        parser.add_argument("--cert", default=None, help="certificate (default: PORTAL_SIGNING_CERT_PATH)")

    def handle(self, *args, pdf: Path, cert: str | None, **options) -> None:
        data = pdf.read_bytes()
        report = verify(data, cert or settings.PORTAL_SIGNING_CERT_PATH)
        for check in report.checks:
            self.stdout.write(f"ok: {check}")
        if not report.ok:
            raise CommandError(f"Verification failed: {report.failure}")
        digest = hashlib.sha256(data).hexdigest()
        bundle = HandoverBundle.objects.filter(pdf_sha256=digest).select_related("tasking").first()
        if bundle is None:
            raise CommandError("The PDF verifies on its own, but the portal issued no bundle with this SHA-256.")
        for entry in bundle.manifest.get("files", []):
            reference = entry.get("reference")
            if reference:
                stored = Exhibit.objects.filter(tasking=bundle.tasking, reference=reference).first()
                if stored is None or stored.sha256 != entry["sha256"]:
                    raise CommandError(f"{reference}: the manifest's hash differs from the portal's record.")
        summary = f"Bundle v{bundle.version} of {bundle.tasking.reference}: verified"
        self.stdout.write(self.style.SUCCESS(f"{summary}, and it matches the portal's records."))
