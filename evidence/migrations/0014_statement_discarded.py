"""A witness may discard a draft statement: it is kept (never deleted) but no longer counts as unsigned.

On PostgreSQL the statement guard of 0007 is widened: a discarded statement, like a signed one, can no
longer change, so it can be neither edited nor signed afterwards. Drafts stay append-only (0007).
"""

from django.db import migrations, models

FORWARD = """
CREATE OR REPLACE FUNCTION evidence_statement_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'DELETE on evidence_statement is refused: statements are never deleted'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.state = 'signed' THEN
        RAISE EXCEPTION 'UPDATE of signed statement % is refused: a correction is a further statement', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.state = 'discarded' THEN
        RAISE EXCEPTION 'UPDATE of discarded statement % is refused: a discarded draft is kept as it was', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""

# As 0007 left it.
BACKWARD = """
CREATE OR REPLACE FUNCTION evidence_statement_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'DELETE on evidence_statement is refused: statements are never deleted'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.state = 'signed' THEN
        RAISE EXCEPTION 'UPDATE of signed statement % is refused: a correction is a further statement', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("evidence", "0013_bundle_records_immutable")]
    operations = [
        migrations.AddField(
            model_name="statement",
            name="discarded_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="statement",
            name="state",
            field=models.CharField(
                choices=[("draft", "Draft"), ("signed", "Signed"), ("discarded", "Discarded")],
                default="draft",
                max_length=10,
            ),
        ),
        migrations.RunPython(forward, backward),
    ]
