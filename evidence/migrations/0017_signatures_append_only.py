"""On PostgreSQL: a disclosure officer's signature on a schedule is never changed or removed (a changed
schedule is signed again), and which parts of a bundle a share gives never changes either."""

from django.db import migrations

SHARE_GRANT = ["bundle_id", "recipient_id", "until", "shared_by_id", "shared_at", "parts"]


def changed(columns: list[str]) -> str:
    return " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in columns)


FORWARD = f"""
DROP TRIGGER IF EXISTS evidence_schedulesignature_append_only ON evidence_schedulesignature;
CREATE TRIGGER evidence_schedulesignature_append_only BEFORE UPDATE OR DELETE ON evidence_schedulesignature
    FOR EACH ROW EXECUTE FUNCTION portal_refuse_change();

CREATE OR REPLACE FUNCTION evidence_bundleshare_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'DELETE on evidence_bundleshare is refused: shares are revoked, never deleted'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF {changed(SHARE_GRANT)} THEN
        RAISE EXCEPTION 'UPDATE of share % on evidence_bundleshare is refused: bundle, parts, recipient, end date and who shared it when never change', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (OLD.revoked_at IS NOT NULL OR OLD.revoked_by_id IS NOT NULL)
            AND (NEW.revoked_at IS DISTINCT FROM OLD.revoked_at OR NEW.revoked_by_id IS DISTINCT FROM OLD.revoked_by_id) THEN
        RAISE EXCEPTION 'UPDATE of the revocation of share % on evidence_bundleshare is refused: a revocation stands', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""

BACKWARD = """
DROP TRIGGER IF EXISTS evidence_schedulesignature_append_only ON evidence_schedulesignature;
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("evidence", "0016_two_parts_and_schedule_signatures")]
    operations = [migrations.RunPython(forward, backward)]
