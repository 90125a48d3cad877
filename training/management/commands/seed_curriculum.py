"""Publish the platform curriculum (training/curriculum/*.toml); safe to run again."""

from django.core.management.base import BaseCommand

from training.curriculum import seed_curriculum


class Command(BaseCommand):
    help = "Publish each curriculum module whose file changed since it was last published."

    def handle(self, *args, **options) -> None:
        for slug, what in seed_curriculum():
            self.stdout.write(f"{slug}: {what}")
