"""Walk the whole audit chain and check it against its time-stamped anchors; exit non-zero on a break."""

from django.core.management.base import BaseCommand, CommandError

from portal.audit import audit_verdict


class Command(BaseCommand):
    help = (
        "Re-compute every audit row's hash, check each link of the chain, and check the chain still passes "
        "through every head an RFC 3161 time-stamp anchored."
    )

    def handle(self, *args, **options) -> None:
        intact, message = audit_verdict()
        if not intact:
            raise CommandError(message)
        self.stdout.write(self.style.SUCCESS(message))
