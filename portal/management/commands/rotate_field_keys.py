"""Re-encrypt every encrypted column under the newest key in PORTAL_FIELD_KEYS."""

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from portal import crypto
from portal.fields import EncryptedTextField


class Command(BaseCommand):
    help = (
        "Rotation: put a new key first in PORTAL_FIELD_KEYS (keep the old ones after it), run this command, "
        "then remove the old keys. Rows are rewritten in batches; it is safe to run again."
    )

    def handle(self, *args, **options) -> None:
        total = 0
        quote = connection.ops.quote_name
        for model in apps.get_models():
            fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
            if not fields:
                continue
            table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
            columns = ", ".join(quote(f.column) for f in fields)
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT {pk}, {columns} FROM {table}")  # noqa: S608  (names from the model)
                rows = cursor.fetchall()
            for row in rows:
                rotated = [crypto.rotate(value) if value else value for value in row[1:]]
                assignments = ", ".join(f"{quote(f.column)} = %s" for f in fields)
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(f"UPDATE {table} SET {assignments} WHERE {pk} = %s", [*rotated, row[0]])  # noqa: S608
            total += len(rows)
            self.stdout.write(f"{model._meta.label}: {len(rows)} rows re-encrypted.")
        self.stdout.write(self.style.SUCCESS(f"Done: {total} rows now use the newest key."))
