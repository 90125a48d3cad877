"""On PostgreSQL, the database itself refuses to alter or delete evidence.

Exhibits: DELETE is refused, and UPDATE is refused when it touches what was captured (file, hash,
reference, provenance); review state and sensitivity may change, as custody events record. Custody
events: UPDATE and DELETE are refused outright (portal_refuse_change from portal 0003).
"""

from django.db import migrations

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

FORWARD = """
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
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS evidence_exhibit_immutable ON evidence_exhibit;
CREATE TRIGGER evidence_exhibit_immutable BEFORE UPDATE OR DELETE ON evidence_exhibit
    FOR EACH ROW EXECUTE FUNCTION evidence_exhibit_guard();

DROP TRIGGER IF EXISTS evidence_custody_append_only ON evidence_custodyevent;
CREATE TRIGGER evidence_custody_append_only BEFORE UPDATE OR DELETE ON evidence_custodyevent
    FOR EACH ROW EXECUTE FUNCTION portal_refuse_change();
""".format(changed=" OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in PROTECTED))

BACKWARD = """
DROP TRIGGER IF EXISTS evidence_exhibit_immutable ON evidence_exhibit;
DROP TRIGGER IF EXISTS evidence_custody_append_only ON evidence_custodyevent;
DROP FUNCTION IF EXISTS evidence_exhibit_guard();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("evidence", "0001_initial"), ("portal", "0003_audit_append_only")]
    operations = [migrations.RunPython(forward, backward)]
