"""On PostgreSQL a disposed certificate's record is never changed or deleted (portal_refuse_change)."""

from django.db import migrations, models

FORWARD = """
DROP TRIGGER IF EXISTS training_disposedcertificate_append_only ON training_disposedcertificate;
CREATE TRIGGER training_disposedcertificate_append_only BEFORE UPDATE OR DELETE ON training_disposedcertificate
    FOR EACH ROW EXECUTE FUNCTION portal_refuse_change();
"""
BACKWARD = """DROP TRIGGER IF EXISTS training_disposedcertificate_append_only ON training_disposedcertificate;"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0003_audit_append_only"),
        ("training", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="DisposedCertificate",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("code", models.CharField(max_length=64, unique=True)),
                ("disposed_at", models.DateTimeField()),
            ],
            options={
                "ordering": ["-disposed_at"],
            },
        ),
        migrations.RunPython(forward, backward),
    ]
