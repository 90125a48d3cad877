"""A bundle records that its files were withdrawn from storage because an exhibit it held was disposed of: when,
which exhibit, and which files.

On PostgreSQL the bundle's guard (0013) keeps a ready bundle final, but for this one change: recording the
withdrawal, and nothing else with it. Once recorded, when and for which exhibit never change and the list of files
withdrawn only grows (a later disposal of another exhibit the bundle held may take a file the first one left),
whatever the bundle's state.
"""

import importlib

import django.db.models.deletion
from django.db import migrations, models

BUNDLE_REQUEST = ["tasking_id", "version", "requested_by_id", "requested_at"]
WITHDRAWAL = ["files_withdrawn_at", "files_withdrawn_for_id", "files_withdrawn"]


def changed(columns: list[str]) -> str:
    return " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in columns)


# The row as it would be without the withdrawal being recorded: if that differs from the old row, something
# else changed too.
UNWITHDRAWN = "\n        ".join(f"unwithdrawn.{c} := OLD.{c};" for c in WITHDRAWAL)

GUARD = f"""
CREATE OR REPLACE FUNCTION evidence_bundle_guard() RETURNS trigger AS $$
DECLARE
    unwithdrawn evidence_handoverbundle;
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'DELETE on evidence_handoverbundle is refused: bundles are never deleted'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.files_withdrawn_at IS NOT NULL AND ({changed(WITHDRAWAL[:2])} OR NOT (NEW.files_withdrawn @> OLD.files_withdrawn)) THEN
        RAISE EXCEPTION 'UPDATE of the withdrawal of bundle % on evidence_handoverbundle is refused: a withdrawal stands', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.state = 'ready' THEN
        -- Final, but for recording that its files were withdrawn (and nothing else in the same change).
        unwithdrawn := NEW;
        {UNWITHDRAWN}
        IF NEW.files_withdrawn_at IS NULL OR NEW.files_withdrawn_for_id IS NULL OR NOT ({changed(WITHDRAWAL)})
                OR unwithdrawn IS DISTINCT FROM OLD THEN
            RAISE EXCEPTION 'UPDATE of ready bundle % on evidence_handoverbundle is refused: a built bundle is final', OLD.id
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
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
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(GUARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # The guard as 0013 wrote it (the trigger itself is unchanged).
        earlier = importlib.import_module("evidence.migrations.0013_bundle_records_immutable")
        schema_editor.execute(earlier.FORWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("evidence", "0024_exhibit_disposed"),
    ]

    operations = [
        migrations.AddField(
            model_name="handoverbundle",
            name="files_withdrawn",
            field=models.JSONField(blank=True, default=list, editable=False),
        ),
        migrations.AddField(
            model_name="handoverbundle",
            name="files_withdrawn_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="handoverbundle",
            name="files_withdrawn_for",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="evidence.exhibit",
            ),
        ),
        migrations.RunPython(forward, backward),
    ]
