"""Disposal of people's records: a proposal per kind of a departed volunteer's records, its tombstone, and the
disposal certificate generalised to certify either tombstone. On PostgreSQL the person tombstone is never changed
or deleted, and a proposal is never deleted and, once decided, never changed (as 0004 does for exhibits)."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

FORWARD = """
DROP TRIGGER IF EXISTS retention_persontombstone_append_only ON retention_persontombstone;
CREATE TRIGGER retention_persontombstone_append_only BEFORE UPDATE OR DELETE ON retention_persontombstone
    FOR EACH ROW EXECUTE FUNCTION portal_refuse_change();

CREATE OR REPLACE FUNCTION retention_persondisposalproposal_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'DELETE on retention_persondisposalproposal is refused: a proposal is decided, never deleted'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.scheme_id IS DISTINCT FROM OLD.scheme_id OR NEW.person_id IS DISTINCT FROM OLD.person_id OR NEW.kind IS DISTINCT FROM OLD.kind OR NEW.reason IS DISTINCT FROM OLD.reason OR NEW.rule IS DISTINCT FROM OLD.rule OR NEW.earliest IS DISTINCT FROM OLD.earliest OR NEW.proposed_by_id IS DISTINCT FROM OLD.proposed_by_id OR NEW.proposed_at IS DISTINCT FROM OLD.proposed_at THEN
        RAISE EXCEPTION 'UPDATE of proposal % on retention_persondisposalproposal is refused: what was proposed never changes', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.state <> 'proposed' THEN
        RAISE EXCEPTION 'UPDATE of decided proposal % on retention_persondisposalproposal is refused: a decision stands', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS retention_persondisposalproposal_kept ON retention_persondisposalproposal;
CREATE TRIGGER retention_persondisposalproposal_kept BEFORE UPDATE OR DELETE ON retention_persondisposalproposal
    FOR EACH ROW EXECUTE FUNCTION retention_persondisposalproposal_guard();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS retention_persontombstone_append_only ON retention_persontombstone;
DROP TRIGGER IF EXISTS retention_persondisposalproposal_kept ON retention_persondisposalproposal;
DROP FUNCTION IF EXISTS retention_persondisposalproposal_guard();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0003_audit_append_only"),
        ("portal", "0010_chain_anchor_append_only"),
        ("retention", "0005_disposal_certificate"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="disposalcertificate",
            name="tombstone",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="certificate",
                to="retention.tombstone",
            ),
        ),
        migrations.CreateModel(
            name="PersonDisposalProposal",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("vetting", "Vetting records"),
                            ("training", "Training records"),
                            ("welfare", "Welfare records"),
                        ],
                        max_length=10,
                    ),
                ),
                ("reason", models.TextField()),
                ("rule", models.CharField(max_length=60)),
                ("earliest", models.DateField()),
                ("proposed_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "state",
                    models.CharField(
                        choices=[
                            ("proposed", "Awaiting approval"),
                            ("approved", "Approved: disposed of"),
                            ("refused", "Refused"),
                            ("withdrawn", "Withdrawn"),
                        ],
                        default="proposed",
                        max_length=10,
                    ),
                ),
                ("decided_at", models.DateTimeField(blank=True, null=True)),
                ("decision_note", models.TextField(blank=True)),
                (
                    "decided_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "person",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "proposed_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "scheme",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="portal.scheme"
                    ),
                ),
            ],
            options={
                "verbose_name": "disposal proposal for a person's records",
                "verbose_name_plural": "disposal proposals for people's records",
                "ordering": ["-proposed_at", "-id"],
                "permissions": [
                    ("approve_person_disposal", "Approve the disposal of a person's records another person proposed")
                ],
            },
        ),
        migrations.CreateModel(
            name="PersonTombstone",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("vetting", "Vetting records"),
                            ("training", "Training records"),
                            ("welfare", "Welfare records"),
                        ],
                        max_length=10,
                    ),
                ),
                ("person_name", models.CharField(max_length=200)),
                ("person_email", models.EmailField(max_length=254)),
                ("counts", models.JSONField(help_text="How many rows of each kind of record were deleted.")),
                ("files", models.JSONField(default=list, help_text="The stored files removed with them.")),
                ("what", models.TextField(help_text="What was disposed of, and what was kept.")),
                ("disposed_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("rule", models.CharField(max_length=60)),
                ("rule_reason", models.TextField()),
                ("legal_source", models.TextField()),
                ("earliest", models.DateField()),
                (
                    "left_on",
                    models.DateField(help_text="The day the person left the scheme, which the period counts from."),
                ),
                (
                    "approved_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "person",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "proposal",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="tombstone",
                        to="retention.persondisposalproposal",
                    ),
                ),
                (
                    "proposed_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "scheme",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="portal.scheme"
                    ),
                ),
            ],
            options={
                "verbose_name": "tombstone of a person's records",
                "verbose_name_plural": "tombstones of people's records",
                "ordering": ["-disposed_at", "-id"],
            },
        ),
        migrations.AddField(
            model_name="disposalcertificate",
            name="person_tombstone",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="certificate",
                to="retention.persontombstone",
            ),
        ),
        migrations.AddConstraint(
            model_name="disposalcertificate",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("person_tombstone__isnull", True), ("tombstone__isnull", False)),
                    models.Q(("person_tombstone__isnull", False), ("tombstone__isnull", True)),
                    _connector="OR",
                ),
                name="retention_disposalcertificate_one_target",
            ),
        ),
        migrations.AddConstraint(
            model_name="persondisposalproposal",
            constraint=models.UniqueConstraint(
                condition=models.Q(("state", "proposed")),
                fields=("person", "kind"),
                name="retention_one_open_person_proposal",
            ),
        ),
        migrations.AddConstraint(
            model_name="persontombstone",
            constraint=models.UniqueConstraint(fields=("person", "kind"), name="retention_person_kind_disposed_once"),
        ),
        migrations.RunPython(forward, backward),
    ]
