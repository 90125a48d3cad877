"""Index every recorded identity again under the newest key in PORTAL_DECONFLICTION_KEYS."""

from django.core.management.base import BaseCommand

from evidence.deconfliction.services import identifiers_reindex


class Command(BaseCommand):
    help = (
        "Rotation: put the new key first in PORTAL_DECONFLICTION_KEYS (keep the old one after it), run this "
        "command, then remove the old key. Matching goes on meanwhile under both keys. Safe to run again. The "
        "installations this one deconflicts with must rotate to the same key."
    )

    def handle(self, *args, **options) -> None:
        counts = identifiers_reindex()
        self.stdout.write(
            self.style.SUCCESS(
                f"Done: {counts['reindexed']} {'identity' if counts['reindexed'] == 1 else 'identities'} indexed "
                "again under the newest key"
                + (f"; {counts['already']} were already recorded under it." if counts["already"] else ".")
                + (
                    f" {counts['blind_only']} register entries imported as blind indexes are still under an older key: "
                    "their forces must compute them again with the new key and import them before the older keys are "
                    "removed from PORTAL_DECONFLICTION_KEYS."
                    if counts["blind_only"]
                    else " The older keys can now be removed from PORTAL_DECONFLICTION_KEYS."
                )
            )
        )
