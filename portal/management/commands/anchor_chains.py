"""Time-stamp the heads of the audit chain and every custody chain now (the daily job does the same)."""

from django.core.management.base import BaseCommand, CommandError

from portal.anchors import AnchoringUnavailable, anchor_chains


class Command(BaseCommand):
    help = (
        "Have the configured RFC 3161 time-stamping authority time-stamp where the audit chain and every "
        "custody chain stand, so that verify_audit and verify_custody catch a chain cut or rewritten after it."
    )

    def handle(self, *args, **options) -> None:
        try:
            anchor = anchor_chains()
        except AnchoringUnavailable as exc:
            raise CommandError(str(exc)) from exc
        heads = len(anchor.statement["heads"])
        self.stdout.write(
            self.style.SUCCESS(
                f"Anchored {heads} chain heads: statement {anchor.digest}, time-stamped "
                f"{anchor.stamped_at:%Y-%m-%d %H:%M:%S} UTC by {anchor.tsa_url}."
            )
        )
