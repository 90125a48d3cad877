"""Restore a backup into a fresh database and storage, then check the audit log and every custody chain."""

from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import filesizeformat

from portal.backup import BackupError, restore


class Command(BaseCommand):
    help = (
        "Restore a backup made by backup_portal into this installation's database (new and empty) and storage "
        "(empty), checking every file against the manifest first; then run verify_audit and verify_custody."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("folder", type=Path, help="the backup's folder")
        parser.add_argument("--no-verify", action="store_true", help="skip verify_audit and verify_custody")

    def handle(self, *args, folder: Path, no_verify: bool, **options) -> None:
        try:
            summary = restore(folder)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored the {summary.engine} database and {summary.files} stored files "
                f"({filesizeformat(summary.bytes)}) from {summary.folder}."
            )
        )
        if not no_verify:
            call_command("verify_audit", stdout=self.stdout)
            call_command("verify_custody", stdout=self.stdout)
        self.stdout.write(
            "Next: as the database owner, run `manage.py migrate` (if this release is newer than the backup) and "
            "`manage.py grant_app_role <application role>`; put the signing key and the secret keys back from "
            "the secret store."
        )
