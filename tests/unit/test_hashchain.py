"""The chain specification, checked without a database: anyone can re-implement it."""

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from portal.hashchain import GENESIS, canonical_json, first_break, link_hash, utc_iso


def test_canonical_json_sorts_keys_and_has_no_spaces():
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode()


def test_link_hash_is_sha256_of_prev_hash_then_canonical_json():
    row = {"action": "auth.login", "at": "2026-11-22T10:00:00.000000Z"}
    expected = hashlib.sha256((GENESIS + json.dumps(row, sort_keys=True, separators=(",", ":"))).encode()).hexdigest()
    assert link_hash(GENESIS, row) == expected


def test_times_are_written_in_utc_whatever_zone_they_arrive_in():
    london_summer = datetime(2026, 7, 1, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    assert utc_iso(london_summer) == "2026-07-01T12:00:00.000000Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        utc_iso(datetime(2026, 7, 1, 12, 0))


def _chain(n: int):
    rows, prev = [], GENESIS
    for i in range(n):
        row = {"i": i, "at": utc_iso(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=i))}
        digest = link_hash(prev, row)
        rows.append([i, row, prev, digest])
        prev = digest
    return rows


def test_an_intact_chain_has_no_break():
    assert first_break(_chain(5)) is None


def test_an_altered_row_is_named():
    rows = _chain(5)
    rows[2][1] = {**rows[2][1], "i": 99}
    broken = first_break(rows)
    assert broken.row_id == 2 and "altered" in broken.reason


def test_a_removed_row_breaks_the_next_link():
    rows = _chain(5)
    del rows[2]
    broken = first_break(rows)
    assert broken.row_id == 3 and "removed" in broken.reason


def test_values_that_cannot_be_written_canonically_are_refused():
    with pytest.raises(TypeError, match="not allowed in a chained row"):
        canonical_json({"when": datetime.now(UTC)})
