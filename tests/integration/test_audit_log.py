"""The audit log: one append-only hash chain, written with the action, checked by verify_audit."""

import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test import Client

from portal.audit import audit_record, audit_verify
from portal.hashchain import GENESIS
from portal.models import AuditEvent
from tests.conftest import PASSWORD, on_postgres


def test_a_login_writes_an_event_with_the_actor_stored_by_value(client, vera):
    client.post("/accounts/login/", {"login": vera.email, "password": PASSWORD}, REMOTE_ADDR="203.0.113.9")
    event = AuditEvent.objects.get(action="auth.login")
    assert (event.actor_id, event.actor_email, event.actor_role) == (vera.pk, vera.email, "volunteer")
    assert event.ip == "203.0.113.9"
    assert event.scheme_id == vera.scheme_id


def test_a_failed_login_is_recorded_with_the_address_tried(client, vera):
    client.post("/accounts/login/", {"login": vera.email, "password": "not-her-password"})
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert event.outcome == "failure"
    assert event.detail == {"attempted_email": vera.email}


def test_logout_is_recorded(client, vera):
    client.force_login(vera)
    client.post("/accounts/logout/")
    assert AuditEvent.objects.filter(action="auth.logout", actor_id=vera.pk).exists()


def test_each_row_links_to_the_one_before(db):
    first = audit_record(action="test.one")
    second = audit_record(action="test.two")
    assert first.prev_hash == GENESIS or AuditEvent.objects.filter(pk__lt=first.pk).exists()
    assert second.prev_hash == first.hash


def test_verify_audit_passes_an_intact_chain(vera, capsys):
    call_command("verify_audit")
    assert "Audit chain self-consistent" in capsys.readouterr().out


def _tamper(sql: str, params: list) -> None:
    """Alter a row behind the application's back, as an attacker with database access would."""
    with connection.cursor() as cursor:
        if on_postgres():
            cursor.execute("SET session_replication_role = replica")  # triggers off, owner only
        cursor.execute(sql, params)
        if on_postgres():
            cursor.execute("SET session_replication_role = origin")


def test_verify_audit_names_the_first_altered_row(db):
    events = [audit_record(action=f"test.{i}") for i in range(4)]
    _tamper("UPDATE portal_auditevent SET action = %s WHERE id = %s", ["test.forged", events[1].pk])
    with pytest.raises(CommandError, match=rf"broken at row {events[1].pk}: its content no longer matches"):
        call_command("verify_audit")


def test_verify_audit_notices_a_deleted_row(db):
    events = [audit_record(action=f"test.{i}") for i in range(4)]
    _tamper("DELETE FROM portal_auditevent WHERE id = %s", [events[2].pk])
    with pytest.raises(CommandError, match=rf"broken at row {events[3].pk}: .*removed"):
        call_command("verify_audit")


def test_an_event_is_rolled_back_with_the_action_it_records(db):
    before = AuditEvent.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record(action="test.doomed")
        raise RuntimeError("the action failed")
    assert AuditEvent.objects.count() == before


@pytest.mark.postgres
def test_the_database_refuses_to_update_or_delete_audit_rows(db):
    from django.db.utils import DatabaseError

    event = audit_record(action="test.kept")
    for statement in [
        "UPDATE portal_auditevent SET action = 'x' WHERE id = %s",
        "DELETE FROM portal_auditevent WHERE id = %s",
    ]:
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == "test.kept"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_logins_never_fork_the_chain(lantern):
    from portal import roles
    from tests.conftest import make_person

    people = [make_person(f"v{i}@lantern.example", roles.VOLUNTEER, lantern) for i in range(8)]
    start = AuditEvent.objects.count()
    barrier = threading.Barrier(len(people))
    errors: list[BaseException] = []

    def sign_in_three_times(person) -> None:
        try:
            client = Client()
            barrier.wait()
            for _ in range(3):
                response = client.post(
                    "/accounts/login/",
                    {"login": person.email, "password": PASSWORD},
                    REMOTE_ADDR=f"198.51.100.{person.pk % 250}",
                )
                assert response.status_code == 302
                client.post("/accounts/logout/")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sign_in_three_times, args=(p,)) for p in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert AuditEvent.objects.count() - start == len(people) * 3 * 2
    # No two rows share a predecessor, and the whole chain re-computes.
    prevs = list(AuditEvent.objects.values_list("prev_hash", flat=True))
    assert len(prevs) == len(set(prevs))
    checked, broken = audit_verify()
    assert broken is None and checked == AuditEvent.objects.count()
