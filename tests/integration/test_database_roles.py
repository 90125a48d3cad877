"""The application's database role cannot rewrite history: no UPDATE, DELETE or TRUNCATE of audit rows."""

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
