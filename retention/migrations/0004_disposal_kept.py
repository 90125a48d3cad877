"""On PostgreSQL: a tombstone is never changed or deleted (portal_refuse_change, from portal 0003); a disposal
proposal is never deleted, and once decided (approved, refused, withdrawn) never changed. Deciding it, once, is
the only change: what was proposed, by whom, when and under which rule stays as proposed."""

from django.db import migrations

PROPOSED = ["exhibit_id", "reason", "rule", "earliest", "proposed_by_id", "proposed_at"]


def changed(columns: list[str]) -> str:
    return " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in columns)


FORWARD = f"""
DROP TRIGGER IF EXISTS retention_tombstone_append_only ON retention_tombstone;
CREATE TRIGGER retention_tombstone_append_only BEFORE UPDATE OR DELETE ON retention_tombstone
    FOR EACH ROW EXECUTE FUNCTION portal_refuse_change();

CREATE OR REPLACE FUNCTION retention_disposalproposal_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'DELETE on retention_disposalproposal is refused: a proposal is decided, never deleted'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF {changed(PROPOSED)} THEN
        RAISE EXCEPTION 'UPDATE of proposal % on retention_disposalproposal is refused: what was proposed never changes', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.state <> 'proposed' THEN
        RAISE EXCEPTION 'UPDATE of decided proposal % on retention_disposalproposal is refused: a decision stands', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS retention_disposalproposal_kept ON retention_disposalproposal;
CREATE TRIGGER retention_disposalproposal_kept BEFORE UPDATE OR DELETE ON retention_disposalproposal
    FOR EACH ROW EXECUTE FUNCTION retention_disposalproposal_guard();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS retention_tombstone_append_only ON retention_tombstone;
DROP TRIGGER IF EXISTS retention_disposalproposal_kept ON retention_disposalproposal;
DROP FUNCTION IF EXISTS retention_disposalproposal_guard();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("retention", "0003_disposal"), ("portal", "0003_audit_append_only")]
    operations = [migrations.RunPython(forward, backward)]
