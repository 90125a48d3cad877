"""Wrap every stored file's data key by the newest key in PORTAL_FILE_KEYS (the files are not re-encrypted),
and encrypt any file stored before the portal encrypted its files."""

from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError

from portal.filecrypt import FileDecryptionError
from portal.storage import walk_files


class Command(BaseCommand):
    help = (
        "Rotation: put a new key first in PORTAL_FILE_KEYS (keep the old ones after it), run this command, then "
        "remove the old keys. Only each file's 60-byte header changes; it is safe to run again. After upgrading "
        "to a release that encrypts stored files, run it once: files stored before are encrypted."
    )

    def handle(self, *args, **options) -> None:
        if not getattr(default_storage, "encrypts", False):
            raise CommandError("The private storage does not encrypt its files: there are no file keys to rotate.")
        rewrapped = encrypted = unchanged = 0
        problems = []
        for name in walk_files(default_storage):
            if name.rsplit("/", 1)[-1].startswith("."):
                continue  # a temporary file being written (scratch space): it is written under the newest key
            try:
                done = default_storage.rewrap(name)
                rewrapped += done == "rewrapped"
                encrypted += done == "encrypted"
                unchanged += not done
            except FileDecryptionError as exc:
                problems.append(f"{name}: {exc}")
        for problem in problems:
            self.stderr.write(problem)
        if problems:
            raise CommandError(
                f"{len(problems)} files could not be re-wrapped (listed above); {rewrapped} were. Keep the old "
                "keys in PORTAL_FILE_KEYS until every file is re-wrapped."
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Done: {rewrapped} files re-wrapped, {encrypted} stored before encryption now encrypted, "
                f"{unchanged} already under the newest key. The old keys may now be removed from PORTAL_FILE_KEYS."
            )
        )
