"""Write a scheme's signed deconfliction set, for a partner installation to import."""

from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from evidence.deconfliction.partners import set_export
from portal.models import Scheme, User


class Command(BaseCommand):
    help = (
        "Write the scheme's current deconfliction set (the blind indexes of every identity its live taskings "
        "engage), signed with the scheme's key, for a partner installation to import. The officer named with "
        "--by is the set's contact. Send the file to the partner by the route you agreed; it holds no plaintext."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("output", type=Path, help="The file to write (it must not exist yet).")
        parser.add_argument("--scheme", required=True, help="The scheme's code.")
        parser.add_argument("--by", required=True, help="The e-mail address of the supervising officer exporting it.")

    def handle(self, *args, **options) -> None:
        output = options["output"]
        if output.exists():
            raise CommandError(f"{output} already exists: choose a new file name, so nothing is overwritten.")
        scheme = Scheme.objects.filter(code=options["scheme"]).first()
        if scheme is None:
            raise CommandError(f"No scheme has the code {options['scheme']!r}.")
        by = User.objects.filter(email__iexact=options["by"], is_active=True).first()
        if by is None:
            raise CommandError(f"No active account has the address {options['by']}.")
        try:
            signed = set_export(scheme=scheme, by=by)
        except (PermissionDenied, ValidationError) as exc:
            raise CommandError(" ".join(getattr(exc, "messages", [str(exc)]))) from None
        output.write_bytes(signed)
        entries = max(signed.count(b"\n", 0, signed.find(b"-----BEGIN CMS-----")) - 1, 0)
        self.stdout.write(
            self.style.SUCCESS(
                f"Wrote {scheme.name}'s signed set, {entries} blind index{'es' if entries != 1 else ''}, to {output}."
            )
        )
