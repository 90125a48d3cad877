"""On PostgreSQL: a legal hold is never deleted or rewritten. Lifting it (once) is the only change: who lifted
it, when and why; everything else — what it holds, why, who placed it, when — stays as placed."""

from django.db import migrations

PLACED = ["scheme_id", "tasking_id", "exhibit_id", "person_id", "kind", "reason", "review_on", "set_by_id", "set_at"]
LIFT = ["lifted_at", "lifted_by_id", "lift_reason"]


def changed(columns: list[str]) -> str:
    return " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in columns)


FORWARD = f"""
CREATE OR REPLACE FUNCTION retention_legalhold_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'DELETE on retention_legalhold is refused: a hold is lifted, never deleted'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF {changed(PLACED)} THEN
        RAISE EXCEPTION 'UPDATE of hold % on retention_legalhold is refused: what it holds, why and who placed it never change', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.lifted_at IS NOT NULL AND ({changed(LIFT)}) THEN
        RAISE EXCEPTION 'UPDATE of the lifting of hold % on retention_legalhold is refused: a lifting stands', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS retention_legalhold_kept ON retention_legalhold;
CREATE TRIGGER retention_legalhold_kept BEFORE UPDATE OR DELETE ON retention_legalhold
    FOR EACH ROW EXECUTE FUNCTION retention_legalhold_guard();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS retention_legalhold_kept ON retention_legalhold;
DROP FUNCTION IF EXISTS retention_legalhold_guard();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("retention", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
