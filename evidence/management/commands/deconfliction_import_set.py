"""Import a partner installation's signed deconfliction set, and match it at once."""

from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from evidence.deconfliction.partners import set_import
from evidence.models import PartnerInstallation
from portal.models import User


class Command(BaseCommand):
    help = (
        "Import a partner installation's signed deconfliction set. It is refused unless the partner's certificate "
        "(added under Partner installations in the admin) signed it unaltered, and unless it is newer than the "
        "partner's set already imported. It replaces that set and is matched at once against live taskings."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path, help="The signed set the partner sent.")
        parser.add_argument("--partner", required=True, help="The partner installation's name, as added in the admin.")
        parser.add_argument("--by", help="The e-mail address of the person importing it (for the audit log).")

    def handle(self, *args, **options) -> None:
        partner = PartnerInstallation.objects.filter(name=options["partner"]).first()
        if partner is None:
            names = ", ".join(PartnerInstallation.objects.values_list("name", flat=True)) or "none yet"
            raise CommandError(f"No partner installation is called {options['partner']!r} (added: {names}).")
        by = None
        if options["by"]:
            by = User.objects.filter(email__iexact=options["by"], is_active=True).first()
            if by is None:
                raise CommandError(f"No active account has the address {options['by']}.")
        try:
            data = options["file"].read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {options['file']}: {exc.strerror}.") from None
        try:
            imported, matches = set_import(partner=partner, data=data, by=by)
        except (PermissionDenied, ValidationError) as exc:
            raise CommandError(" ".join(getattr(exc, "messages", [str(exc)]))) from None
        indexes = f"{imported.entry_count:,} blind index{'es' if imported.entry_count != 1 else ''}"
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {partner.name}'s set issued {imported.issued_at:%Y-%m-%d %H:%M} UTC: {indexes}; contact "
                f"{imported.contact_name} ({imported.contact_email}). "
                + (
                    f"{len(matches)} live tasking{'s' if len(matches) != 1 else ''} matched and paused; their "
                    "controllers have been told whom to contact."
                    if matches
                    else "No live tasking here matches it."
                )
            )
        )
