"""Verify every exhibit's custody chain and stored file; exit non-zero naming the first failure."""

from django.core.management.base import BaseCommand, CommandError

from evidence.custody import custody_verify_all


class Command(BaseCommand):
    help = "Re-compute each exhibit's custody chain and the SHA-256 of each stored file."

    def handle(self, *args, **options) -> None:
        checked = 0
        for exhibit, problem in custody_verify_all():
            if problem:
                raise CommandError(f"Exhibit {exhibit.reference} (tasking {exhibit.tasking.reference}): {problem}.")
            checked += 1
        self.stdout.write(self.style.SUCCESS(f"Custody intact: {checked} exhibits, chains and files verified."))
