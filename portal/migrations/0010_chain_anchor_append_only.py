"""On PostgreSQL, refuse UPDATE and DELETE of chain anchors, as of audit rows (0003)."""

from django.db import migrations

FORWARD = """
DROP TRIGGER IF EXISTS portal_chainanchor_append_only ON portal_chainanchor;
CREATE TRIGGER portal_chainanchor_append_only
    BEFORE UPDATE OR DELETE ON portal_chainanchor
    FOR EACH ROW EXECUTE FUNCTION portal_refuse_change();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS portal_chainanchor_append_only ON portal_chainanchor;
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("portal", "0009_chain_anchor")]
    operations = [migrations.RunPython(forward, backward)]
