"""The audit and custody chains anchored by an RFC 3161 time-stamp (served locally over HTTP): deleting the
newest rows, rewriting a chain whole or removing anchors is caught, even by a database superuser who turns
the append-only triggers off; without an authority the commands say the chains are only self-consistent."""

from __future__ import annotations

import base64
import datetime
import json

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import connection

from evidence.custody import custody_append
from evidence.models import CustodyEvent
from portal import hashchain
from portal.anchors import STORAGE_FOLDER
from portal.audit import audit_record, chained_row
from portal.models import AuditEvent, ChainAnchor
from tests.conftest import on_postgres
from tests.integration.bundle_helpers import submit_exhibit
from tests.local_tsa import LocalTsa

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def tsa(tmp_path, settings):
    folder = tmp_path / "tsa"
    folder.mkdir()
    with LocalTsa(folder) as authority:
        settings.PORTAL_TSA_URL, settings.PORTAL_TSA_CERT_PATH = authority.url, str(authority.cert_path)
        yield authority


@pytest.fixture
def exhibit(assigned_vera, tasking, owen, tmp_path):
    exhibit = submit_exhibit(assigned_vera.user, tasking, tmp_path, "capture.png", PNG, "image/png")
    custody_append(exhibit=exhibit, action=CustodyEvent.Action.VIEWED, actor=owen)
    return exhibit


def _as_superuser(sql: str, params: list) -> None:
    """Change rows behind the application's back, as a database superuser would: triggers off."""
    with connection.cursor() as cursor:
        if on_postgres():
            cursor.execute("SET session_replication_role = replica")
        cursor.execute(sql, params)
        if on_postgres():
            cursor.execute("SET session_replication_role = origin")


def _verify(command: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command(command, stdout=out)
    return out.getvalue()


def test_without_an_authority_both_commands_say_the_chains_are_only_self_consistent(settings, exhibit):
    settings.PORTAL_TSA_URL = ""
    assert "Audit chain self-consistent" in _verify("verify_audit")
    custody = _verify("verify_custody")
    assert "Custody self-consistent: 1 exhibits" in custody and "No time-stamping authority is configured" in custody
    with pytest.raises(CommandError, match=r"No time-stamping authority is configured .*nothing was anchored"):
        call_command("anchor_chains")
    assert not ChainAnchor.objects.exists()


def test_an_anchor_is_time_stamped_kept_twice_and_both_chains_pass_through_it(tsa, exhibit):
    _anchor()
    anchor = ChainAnchor.objects.get()
    chains = [head[0] for head in anchor.statement["heads"]]
    assert chains == ["audit", f"custody:{exhibit.pk}"]
    assert tsa.requests == 1
    # The copy outside the database is the same statement and token.
    (name,) = [n for n in _all_files(STORAGE_FOLDER)]
    copy = json.loads(default_storage.open(name).read())
    assert copy["statement"] == anchor.statement and anchor.digest in name
    assert base64.b64decode(copy["token"]) == bytes(anchor.token)
    audit = _verify("verify_audit")
    assert "Audit chain intact" in audit and "passes through all 1 anchored heads" in audit
    assert "the 0 rows written since then" in audit
    assert "Custody intact: 1 exhibits" in _verify("verify_custody")
    # Only chains written to since are anchored next time; the audit chain's head always is.
    _anchor()
    second = ChainAnchor.objects.order_by("-id").first()
    assert [head[0] for head in second.statement["heads"]] == ["audit"]
    assert second.previous_digest == anchor.digest


def _anchor() -> None:
    _verify("anchor_chains")


def _all_files(folder: str) -> list[str]:
    from portal.anchors import _storage_files

    return _storage_files(folder)


def test_deleting_the_newest_audit_row_and_custody_event_is_caught_once_anchored(tsa, exhibit):
    """The finding: as a database superuser, delete the newest audit row and the newest custody event."""
    _anchor()
    newest_audit = AuditEvent.objects.order_by("-id").first()
    newest_custody = CustodyEvent.objects.filter(exhibit=exhibit).order_by("-id").first()
    _as_superuser("DELETE FROM portal_auditevent WHERE id = %s", [newest_audit.pk])
    _as_superuser("DELETE FROM evidence_custodyevent WHERE id = %s", [newest_custody.pk])
    with pytest.raises(CommandError, match=rf"row {newest_audit.pk}, its newest when time-stamped .* no longer in"):
        call_command("verify_audit")
    with pytest.raises(CommandError, match=rf"Exhibit VD/1 .*event {newest_custody.pk}, its newest when time-stamped"):
        call_command("verify_custody")


def test_rows_written_after_the_newest_anchor_are_said_to_be_only_self_consistent(tsa, exhibit):
    _anchor()
    audit_record(action="test.after_the_anchor")
    audit_record(action="test.after_the_anchor")
    assert "the 2 rows written since then are only self-consistent" in _verify("verify_audit")


def test_rewriting_the_whole_audit_chain_consistently_is_caught(tsa, exhibit):
    _anchor()
    # Forge the first row and re-hash every row after it, so that the chain links up again.
    rows = list(AuditEvent.objects.order_by("id"))
    rows[0].action = "test.forged"
    previous = hashchain.GENESIS
    for row in rows:
        new_hash = hashchain.link_hash(previous, chained_row(row))
        _as_superuser(
            "UPDATE portal_auditevent SET action = %s, prev_hash = %s, hash = %s WHERE id = %s",
            [row.action, previous, new_hash, row.pk],
        )
        previous = new_hash
    from portal.audit import audit_verify

    assert audit_verify()[1] is None  # the chain alone would still check
    with pytest.raises(CommandError, match=r"no longer has the hash time-stamped on .*rewritten after it was anchored"):
        call_command("verify_audit")


def test_removing_or_altering_anchors_is_caught(tsa, exhibit):
    _anchor()
    anchor = ChainAnchor.objects.get()
    _as_superuser("UPDATE portal_chainanchor SET statement = %s WHERE id = %s", [json.dumps({"heads": []}), anchor.pk])
    with pytest.raises(CommandError, match="its statement no longer matches its digest"):
        call_command("verify_audit")
    _as_superuser("DELETE FROM portal_chainanchor WHERE id = %s", [anchor.pk])
    with pytest.raises(CommandError, match=r"storage holds anchor .* that the database no longer has"):
        call_command("verify_audit")
    with pytest.raises(CommandError, match="that the database no longer has"):
        call_command("verify_custody")


def test_a_stale_newest_anchor_is_reported(tsa, exhibit, settings):
    """Removing the newest anchors from both places would reopen their window: a gap of two periods shows."""
    _anchor()
    anchor = ChainAnchor.objects.get()
    three_days_ago = anchor.made_at - datetime.timedelta(days=3)
    _as_superuser("UPDATE portal_chainanchor SET made_at = %s WHERE id = %s", [three_days_ago, anchor.pk])
    with pytest.raises(CommandError, match="anchors are made every 24 hours: either the anchoring job has stopped"):
        call_command("verify_audit")


def test_a_time_stamp_from_another_authority_is_refused(tsa, exhibit, tmp_path, settings):
    folder = tmp_path / "other-tsa"
    folder.mkdir()
    with LocalTsa(folder) as other:
        settings.PORTAL_TSA_URL = other.url  # anchored by an authority the installation does not trust
        _anchor()
    with pytest.raises(CommandError, match="not signed by the configured time-stamping authority"):
        call_command("verify_audit")


@pytest.mark.postgres
def test_the_database_refuses_to_change_or_delete_an_anchor(tsa, exhibit):
    from django.db import IntegrityError, InternalError, ProgrammingError, transaction

    _anchor()
    anchor = ChainAnchor.objects.get()
    for attempt in (
        lambda: ChainAnchor.objects.filter(pk=anchor.pk).update(tsa_url="elsewhere"),
        lambda: ChainAnchor.objects.filter(pk=anchor.pk).delete(),
    ):
        with (
            pytest.raises((InternalError, ProgrammingError, IntegrityError), match="append-only"),
            transaction.atomic(),
        ):
            attempt()
