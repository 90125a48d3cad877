"""Back up the database and every stored file, consistently, while the portal runs (portal/backup.py)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import filesizeformat

from portal.backup import BackupError, backup


class Command(BaseCommand):
    help = (
        "Write a backup of the database (one snapshot) and of private storage (folder or bucket) into a new "
        "folder, with a manifest of every file's SHA-256. The private signing key and the secret keys are not "
        "included: keep them in the secret store."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("folder", type=Path, help="a folder that does not exist yet")

    def handle(self, *args, folder: Path, **options) -> None:
        try:
            summary = backup(folder)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Backed up the {summary.engine} database and {summary.files} stored files "
                f"({filesizeformat(summary.bytes)}) to {summary.folder}."
            )
        )
        self.stdout.write(
            "Not included: the private signing key, DJANGO_SECRET_KEY, PORTAL_FIELD_KEYS and PORTAL_FILE_KEYS (keep "
            "them in the secret store; without PORTAL_FIELD_KEYS the welfare notes in this backup cannot be read, "
            "and without PORTAL_FILE_KEYS none of its files can)."
        )
