"""An exhibit can be disposed of (its content removed by the retention app's two-person disposal): the custody
action "disposed", and the moment it happened on the exhibit. On PostgreSQL the exhibit's guard also refuses
clearing or moving that moment once set: a disposed exhibit stays disposed."""

from django.db import migrations, models

# The captured fields evidence/migrations/0002 protects, unchanged.
PROTECTED = [
    "tasking_id",
    "producer_id",
    "reference",
    "sequence",
    "description",
    "platform",
    "other_party",
    "url",
    "captured_at",
    "capture_method",
    "original_name",
    "stored_name",
    "size",
    "sniffed_type",
    "sha256",
    "browser_sha256",
    "submitted_at",
]

GUARD = """
CREATE OR REPLACE FUNCTION evidence_exhibit_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'DELETE on evidence_exhibit is refused: exhibits are never deleted'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF {changed} THEN
        RAISE EXCEPTION 'UPDATE of a captured field of exhibit % is refused: evidence is never altered', OLD.reference
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    {disposed}
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""
DISPOSED = """IF OLD.disposed_at IS NOT NULL AND NEW.disposed_at IS DISTINCT FROM OLD.disposed_at THEN
        RAISE EXCEPTION 'UPDATE of the disposal of exhibit % is refused: a disposal stands', OLD.reference
            USING ERRCODE = 'insufficient_privilege';
    END IF;"""
CHANGED = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in PROTECTED)


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(GUARD.format(changed=CHANGED, disposed=DISPOSED), params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(GUARD.format(changed=CHANGED, disposed=""), params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("evidence", "0023_deconfliction_partners"),
    ]

    operations = [
        migrations.AddField(
            model_name="exhibit",
            name="disposed_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AlterField(
            model_name="custodyevent",
            name="action",
            field=models.CharField(
                choices=[
                    ("uploaded", "Uploaded"),
                    ("hash_verified", "Hash verified"),
                    ("viewed", "Viewed"),
                    ("downloaded", "Downloaded"),
                    ("reviewed", "Reviewed"),
                    ("accepted", "Accepted"),
                    ("rejected", "Rejected"),
                    ("marked_unused", "Marked unused"),
                    ("sensitivity_changed", "Sensitivity changed"),
                    ("included_in_bundle", "Included in bundle"),
                    ("disclosed", "Disclosed"),
                    ("disposed", "Disposed of"),
                ],
                max_length=20,
            ),
        ),
        migrations.RunPython(forward, backward),
    ]
