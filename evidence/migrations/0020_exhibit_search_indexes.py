"""Indexes for the admin's exhibit search (evidence.admin.exhibits.ExhibitAdmin.get_search_results): an
exhibit's reference in any case, and on PostgreSQL the other party's accounts by any part (a trigram index:
"contains" cannot use a B-tree). pg_trgm ships with PostgreSQL and is a trusted extension, so the database's
owner role may create it (docs/deployment.md). SQLite, the development default, searches without it."""

import django.db.models.functions.text
from django.conf import settings
from django.db import migrations, models

TRIGRAM_INDEX = "evidence_exhibit_party_trgm"


def trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    # The expression Django's icontains compares: UPPER("other_party"::text) LIKE UPPER('%word%').
    schema_editor.execute(
        f'CREATE INDEX IF NOT EXISTS "{TRIGRAM_INDEX}" ON "evidence_exhibit" '
        'USING gin ((UPPER("other_party"::text)) gin_trgm_ops)'
    )


def drop_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP INDEX IF EXISTS "{TRIGRAM_INDEX}"')


class Migration(migrations.Migration):
    dependencies = [
        ("evidence", "0019_exhibit_list_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="exhibit",
            index=models.Index(django.db.models.functions.text.Upper("reference"), name="evidence_exhibit_ref_upper"),
        ),
        migrations.RunPython(trigram_index, drop_trigram_index, elidable=False),
    ]
