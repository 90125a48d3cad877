"""On PostgreSQL, the database itself refuses to rewrite what was handed over and who received it.

Bundle accesses: UPDATE and DELETE are refused outright (portal_refuse_change from portal 0003).
Bundles: never deleted; what was asked for (tasking, version, requester, time) never changes; the build
may move a bundle queued -> building -> ready or failed, and failed -> queued again, but a ready bundle
is final, and its plan, once fixed, is what every worker renders. Shares: never deleted; what was
shared, with whom and until when never changes; a revocation is recorded once and stands.
"""

from django.db import migrations

BUNDLE_REQUEST = ["tasking_id", "version", "requested_by_id", "requested_at"]
SHARE_GRANT = ["bundle_id", "recipient_id", "until", "shared_by_id", "shared_at"]


def changed(columns: list[str]) -> str:
    return " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in columns)


FORWARD = f"""
DROP TRIGGER IF EXISTS evidence_bundleaccess_append_only ON evidence_bundleaccess;
CREATE TRIGGER evidence_bundleaccess_append_only BEFORE UPDATE OR DELETE ON evidence_bundleaccess
    FOR EACH ROW EXECUTE FUNCTION portal_refuse_change();

CREATE OR REPLACE FUNCTION evidence_bundle_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'DELETE on evidence_handoverbundle is refused: bundles are never deleted'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.state = 'ready' THEN
        RAISE EXCEPTION 'UPDATE of ready bundle % on evidence_handoverbundle is refused: a built bundle is final', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF {changed(BUNDLE_REQUEST)} THEN
        RAISE EXCEPTION 'UPDATE of the request of bundle % on evidence_handoverbundle is refused: tasking, version, requester and request time never change', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.plan <> '{{}}'::jsonb AND NEW.plan IS DISTINCT FROM OLD.plan THEN
        RAISE EXCEPTION 'UPDATE of the plan of bundle % on evidence_handoverbundle is refused: a plan is fixed once', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS evidence_bundle_immutable ON evidence_handoverbundle;
CREATE TRIGGER evidence_bundle_immutable BEFORE UPDATE OR DELETE ON evidence_handoverbundle
    FOR EACH ROW EXECUTE FUNCTION evidence_bundle_guard();

CREATE OR REPLACE FUNCTION evidence_bundleshare_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'DELETE on evidence_bundleshare is refused: shares are revoked, never deleted'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF {changed(SHARE_GRANT)} THEN
        RAISE EXCEPTION 'UPDATE of share % on evidence_bundleshare is refused: bundle, recipient, end date and who shared it when never change', OLD.id
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

DROP TRIGGER IF EXISTS evidence_bundleshare_immutable ON evidence_bundleshare;
CREATE TRIGGER evidence_bundleshare_immutable BEFORE UPDATE OR DELETE ON evidence_bundleshare
    FOR EACH ROW EXECUTE FUNCTION evidence_bundleshare_guard();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS evidence_bundleaccess_append_only ON evidence_bundleaccess;
DROP TRIGGER IF EXISTS evidence_bundle_immutable ON evidence_handoverbundle;
DROP TRIGGER IF EXISTS evidence_bundleshare_immutable ON evidence_bundleshare;
DROP FUNCTION IF EXISTS evidence_bundle_guard();
DROP FUNCTION IF EXISTS evidence_bundleshare_guard();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("evidence", "0012_bundle_page_count"), ("portal", "0003_audit_append_only")]
    operations = [migrations.RunPython(forward, backward)]
