"""The signed disposal certificate: written once, after the content has gone. On PostgreSQL it is never changed
or deleted (portal_refuse_change, from portal 0003), like the tombstone it certifies."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

FORWARD = """
DROP TRIGGER IF EXISTS retention_disposalcertificate_append_only ON retention_disposalcertificate;
CREATE TRIGGER retention_disposalcertificate_append_only BEFORE UPDATE OR DELETE ON retention_disposalcertificate
    FOR EACH ROW EXECUTE FUNCTION portal_refuse_change();
"""
BACKWARD = "DROP TRIGGER IF EXISTS retention_disposalcertificate_append_only ON retention_disposalcertificate;"


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("retention", "0004_disposal_kept"),
        ("portal", "0003_audit_append_only"),
    ]

    operations = [
        migrations.CreateModel(
            name="DisposalCertificate",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("issued_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("pdf_name", models.CharField(max_length=255)),
                ("pdf_sha256", models.CharField(max_length=64)),
                ("page_count", models.PositiveIntegerField()),
                (
                    "signed_by",
                    models.CharField(
                        help_text="SHA-256 fingerprint of the certificate that signed it.", max_length=120
                    ),
                ),
                (
                    "tombstone",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="certificate",
                        to="retention.tombstone",
                    ),
                ),
            ],
            options={
                "ordering": ["-issued_at", "-id"],
            },
        ),
        migrations.RunPython(forward, backward),
    ]
