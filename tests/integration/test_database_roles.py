"""The application's database role cannot rewrite history: no UPDATE, DELETE or TRUNCATE of audit rows or
of the record of who downloaded a bundle."""

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.utils import DatabaseError

from portal.audit import audit_record

APP_ROLE = "portal_app_test"

pytestmark = pytest.mark.postgres


@pytest.fixture
def as_app_role(db):
    call_command("grant_app_role", APP_ROLE, "--create")

    def run(sql: str, params: list | None = None) -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f'SET LOCAL ROLE "{APP_ROLE}"')
            cursor.execute(sql, params or [])

    return run


def test_the_application_role_can_add_and_read_audit_rows(as_app_role):
    event = audit_record(action="test.kept")
    as_app_role("SELECT hash FROM portal_auditevent WHERE id = %s", [event.pk])
    as_app_role(
        "INSERT INTO portal_auditevent (at, actor_email, actor_role, action, object_type, object_id, ip, "
        "user_agent, outcome, detail, prev_hash, hash) VALUES (now(), '', '', 'x', '', '', '', '', 'success', "
        "'{}', %s, %s)",
        [event.hash, "f" * 64],
    )


@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        # Refused twice over: the role holds no UPDATE/DELETE grant, and the trigger refuses anyone.
        ("UPDATE portal_auditevent SET action = 'forged'", "permission denied"),
        ("DELETE FROM portal_auditevent", "permission denied"),
        ("TRUNCATE portal_auditevent", "permission denied"),
    ],
)
def test_the_application_role_cannot_change_the_audit_log(as_app_role, statement, refusal):
    event = audit_record(action="test.kept")
    with pytest.raises(DatabaseError, match=refusal):
        as_app_role(statement)
    assert type(event).objects.get(pk=event.pk).action == "test.kept"


def test_the_application_role_cannot_truncate_ordinary_tables_either(as_app_role):
    with pytest.raises(DatabaseError, match="permission denied"):
        as_app_role("TRUNCATE django_session")


@pytest.fixture
def bundle_access(tasking, owen):
    from evidence.models import BundleAccess, HandoverBundle

    bundle = HandoverBundle.objects.create(tasking=tasking, version=1, requested_by=owen)
    return BundleAccess.objects.create(bundle=bundle, user=owen, ip="203.0.113.7")


def test_the_application_role_can_record_and_read_bundle_downloads(as_app_role, bundle_access):
    as_app_role("SELECT ip FROM evidence_bundleaccess WHERE id = %s", [bundle_access.pk])
    as_app_role(
        "INSERT INTO evidence_bundleaccess (bundle_id, user_id, at, ip) VALUES (%s, %s, now(), '')",
        [bundle_access.bundle_id, bundle_access.user_id],
    )


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE evidence_bundleaccess SET ip = '198.51.100.1'",
        "DELETE FROM evidence_bundleaccess",
        "TRUNCATE evidence_bundleaccess",
    ],
)
def test_the_application_role_cannot_change_or_remove_the_record_of_bundle_downloads(
    as_app_role, bundle_access, statement
):
    with pytest.raises(DatabaseError, match="permission denied"):
        as_app_role(statement)
    kept = type(bundle_access).objects.get(pk=bundle_access.pk)
    assert (kept.ip, kept.at) == ("203.0.113.7", bundle_access.at)
