"""On PostgreSQL the record that a kind of a person's records was disposed of is never changed or deleted."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

FORWARD = """
DROP TRIGGER IF EXISTS volunteers_recordsdisposal_append_only ON volunteers_recordsdisposal;
CREATE TRIGGER volunteers_recordsdisposal_append_only BEFORE UPDATE OR DELETE ON volunteers_recordsdisposal
    FOR EACH ROW EXECUTE FUNCTION portal_refuse_change();
"""
BACKWARD = """DROP TRIGGER IF EXISTS volunteers_recordsdisposal_append_only ON volunteers_recordsdisposal;"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0003_audit_append_only"),
        ("portal", "0010_chain_anchor_append_only"),
        ("volunteers", "0005_vetting_dates_on_volunteer"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="RecordsDisposal",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("kind", models.CharField(max_length=10)),
                ("disposed_at", models.DateTimeField()),
                (
                    "person",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "scheme",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="portal.scheme"
                    ),
                ),
            ],
            options={
                "ordering": ["disposed_at", "id"],
            },
        ),
        migrations.RunPython(forward, backward),
    ]
