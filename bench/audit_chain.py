"""Audit chain cost: chained write vs plain INSERT, and verification walk vs plain read (same run)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402

ROWS = int(os.environ.get("BENCH_ROWS", "2000"))


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    from portal.audit import audit_record, audit_verify
    from portal.models import AuditEvent

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:

        def plain_inserts() -> None:
            for i in range(ROWS):
                AuditEvent.objects.create(
                    at=timezone.now(), action="bench.plain", detail={"i": i}, prev_hash="0" * 64, hash=f"{i:064x}"
                )

        baseline = timed(plain_inserts)
        # Start the chain afresh (as the owner: PostgreSQL's triggers refuse DELETE, not TRUNCATE).
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE portal_auditevent" if connection.vendor == "postgresql" else "DELETE FROM portal_auditevent"
            )

        chained = timed(lambda: [audit_record(action="bench.chained", detail={"i": i}) for i in range(ROWS)])
        read = timed(lambda: list(AuditEvent.objects.order_by("id").values_list("hash", flat=True)))
        verify = timed(audit_verify)
        checked, broken = audit_verify()
        assert broken is None and checked == ROWS

        print(f"database: {connection.vendor}, rows: {ROWS}")
        print(f"plain INSERT:        {ROWS / baseline:8.0f} rows/s (baseline)")
        print(f"chained audit write: {ROWS / chained:8.0f} rows/s  = {chained / baseline:.2f}x the baseline's time")
        print(f"plain read:          {ROWS / read:8.0f} rows/s (baseline)")
        print(f"verify_audit walk:   {ROWS / verify:8.0f} rows/s  = {verify / read:.2f}x the baseline's time")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
