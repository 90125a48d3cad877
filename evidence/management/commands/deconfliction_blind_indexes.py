"""Compute blind indexes from a CSV of identities, on the force's own machine: the file this writes is what
the force imports on the portal's deconfliction pages, so the identities themselves never reach the portal.

Needs no database and sends nothing anywhere: only the portal's code and the deconfliction key
(PORTAL_DECONFLICTION_KEYS, or --key-file). Input: a CSV with a header row naming the columns `identity`
and, optionally, `platform` (where an account name is). Output: `key_id,blind_index`, one line per identity.
"""

from __future__ import annotations

import csv
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.test import override_settings

from evidence.deconfliction.blind import blind_index
from evidence.deconfliction.identifiers import NotAnIdentifier, identify


class Command(BaseCommand):
    help = (
        "Read a CSV of identities (columns: identity, and optionally platform) and write their blind indexes "
        "(key_id,blind_index) for import into the force's deconfliction register. Run it on the force's own "
        "machine: the identities never leave it. Lines that cannot be read are listed and left out."
    )
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser) -> None:
        parser.add_argument("identities", type=Path, help="The CSV of identities to read.")
        parser.add_argument("output", type=Path, help="Where to write the blind indexes (a new file).")
        parser.add_argument(
            "--key-file",
            type=Path,
            help="A file holding the deconfliction key (base64) instead of PORTAL_DECONFLICTION_KEYS.",
        )

    def handle(self, *args, **options) -> None:
        source, output = options["identities"], options["output"]
        if output.exists():
            raise CommandError(f"{output} already exists: choose a new file name, so nothing is overwritten.")
        if options["key_file"]:
            try:
                key = options["key_file"].read_text().strip()
            except OSError as exc:
                raise CommandError(f"Cannot read the key file {options['key_file']}: {exc.strerror}.") from None
            with override_settings(PORTAL_DECONFLICTION_KEYS=[key]):
                written, problems = self._compute(source, output)
        else:
            written, problems = self._compute(source, output)
        for problem in problems:
            self.stderr.write(problem)
        self.stdout.write(
            self.style.SUCCESS(
                f"Wrote {written} blind {'index' if written == 1 else 'indexes'} to {output}"
                + (
                    f"; {len(problems)} line{'s' if len(problems) != 1 else ''} could not be read (listed above)."
                    if problems
                    else "."
                )
                + " Import that file on the portal's deconfliction pages; keep the list of identities here."
            )
        )

    def _compute(self, source: Path, output: Path) -> tuple[int, list[str]]:
        from django.core.exceptions import ImproperlyConfigured

        try:
            handle = source.open(newline="", encoding="utf-8-sig")
        except OSError as exc:
            raise CommandError(f"Cannot read {source}: {exc.strerror}.") from None
        with handle:
            reader = csv.DictReader(handle)
            columns = [name.strip().lower() for name in reader.fieldnames or []]
            if "identity" not in columns:
                raise CommandError(
                    f"{source} must start with a header row naming the column `identity` (and, for account names, "
                    "`platform`)."
                )
            reader.fieldnames = columns
            seen, problems, lines = set(), [], []
            for line, row in enumerate(reader, start=2):
                text = (row.get("identity") or "").strip()
                if not text:
                    continue
                try:
                    identifier = identify(text, (row.get("platform") or "").strip())
                    index = blind_index(identifier.key)
                except NotAnIdentifier as exc:
                    problems.append(f"Line {line}: {exc}")
                    continue
                except ImproperlyConfigured as exc:
                    raise CommandError(str(exc)) from None
                if (index.key_id, index.value) not in seen:
                    seen.add((index.key_id, index.value))
                    lines.append((index.key_id, index.value))
        with output.open("x", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["key_id", "blind_index"])
            writer.writerows(lines)
        return len(lines), problems
