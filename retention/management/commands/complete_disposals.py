"""Finish disposals left half-done: remove content still stored, issue signed certificates not yet issued."""

from django.core.management.base import BaseCommand, CommandError

from retention.disposal import complete_disposals
from retention.models import Tombstone


class Command(BaseCommand):
    help = (
        "Finish every disposal whose content removal or signed disposal certificate failed after it was approved "
        "(storage or the signing key unavailable, the time-stamping authority not answering). Safe to run again."
    )

    def handle(self, *args, **options) -> None:
        waiting = Tombstone.objects.filter(certificate__isnull=True).count()
        problems = complete_disposals()
        if problems:
            raise CommandError(
                f"{len(problems)} of {waiting} unfinished disposals could not be finished:\n" + "\n".join(problems)
            )
        if waiting:
            self.stdout.write(self.style.SUCCESS(f"Finished {waiting} disposals: content removed, certificate issued."))
        else:
            self.stdout.write("Every disposal is finished: its content removed and its certificate issued.")
