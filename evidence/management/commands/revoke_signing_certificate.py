"""Record that the scheme revoked one of its signing certificates (a key lost or compromised)."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from evidence.signing import revoke
from portal.audit import audit_record


class Command(BaseCommand):
    help = (
        "Revoke a signing certificate by its SHA-256 fingerprint (as `openssl x509 -fingerprint -sha256` and every "
        'bundle\'s "How to verify" page show it). Bundles it signed are then reported as signed with a revoked '
        "certificate, and no bundle is signed with it again."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("fingerprint", help="the certificate's SHA-256 fingerprint, AB:CD:… ")
        parser.add_argument("--reason", required=True, help="why, in a few words (for example: key compromised)")

    def handle(self, *args, fingerprint: str, reason: str, **options) -> None:
        try:
            entry = revoke(fingerprint, reason=reason)
        except ValidationError as exc:
            raise CommandError(exc.messages[0]) from exc
        audit_record(
            action="evidence.signing_certificate_revoked",
            actor=None,
            detail={"fingerprint": fingerprint.strip().upper(), "reason": reason},
        )
        self.stdout.write(self.style.SUCCESS(f"Revoked {fingerprint.strip().upper()} on {entry['revoked_at']}."))
