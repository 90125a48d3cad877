"""On PostgreSQL: notes and drafts are append-only; a signed statement can never change or go."""

from django.db import migrations

FORWARD = """
DROP TRIGGER IF EXISTS evidence_note_append_only ON evidence_contemporaneousnote;
CREATE TRIGGER evidence_note_append_only BEFORE UPDATE OR DELETE ON evidence_contemporaneousnote
    FOR EACH ROW EXECUTE FUNCTION portal_refuse_change();

DROP TRIGGER IF EXISTS evidence_draft_append_only ON evidence_statementdraft;
CREATE TRIGGER evidence_draft_append_only BEFORE UPDATE OR DELETE ON evidence_statementdraft
    FOR EACH ROW EXECUTE FUNCTION portal_refuse_change();

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

DROP TRIGGER IF EXISTS evidence_statement_immutable ON evidence_statement;
CREATE TRIGGER evidence_statement_immutable BEFORE UPDATE OR DELETE ON evidence_statement
    FOR EACH ROW EXECUTE FUNCTION evidence_statement_guard();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS evidence_note_append_only ON evidence_contemporaneousnote;
DROP TRIGGER IF EXISTS evidence_draft_append_only ON evidence_statementdraft;
DROP TRIGGER IF EXISTS evidence_statement_immutable ON evidence_statement;
DROP FUNCTION IF EXISTS evidence_statement_guard();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("evidence", "0006_notes_and_statements")]
    operations = [migrations.RunPython(forward, backward)]
