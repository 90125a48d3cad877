"""Hash chains anyone can re-check: SHA-256 over the previous hash and the row's canonical JSON.

Specification (no Django needed to re-implement it):
- canonical JSON = json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
  encoded as UTF-8; times are UTC ISO 8601 with microseconds and a trailing "Z";
- hash = hex SHA-256 of (prev_hash as ASCII hex) followed by the canonical JSON bytes;
- the first row's prev_hash is GENESIS (64 zeros).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64


def utc_iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("Chained times must be timezone-aware.")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(row: Mapping[str, Any]) -> bytes:
    return json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_refuse).encode("utf-8")


def _refuse(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not allowed in a chained row: convert it first.")


def link_hash(prev_hash: str, row: Mapping[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_json(row)).hexdigest()


@dataclass(frozen=True)
class Break:
    """The first row where the chain no longer holds, and why."""

    row_id: Any
    reason: str


def first_break(rows: Iterable[tuple[Any, Mapping[str, Any], str, str]]) -> Break | None:
    """Walk (row_id, row, prev_hash, hash) in chain order; return the first broken link or None."""
    expected_prev = GENESIS
    for row_id, row, prev_hash, stored_hash in rows:
        if prev_hash != expected_prev:
            return Break(
                row_id,
                "its prev_hash does not match the previous row's hash (a row was removed, inserted or reordered)",
            )
        if link_hash(prev_hash, row) != stored_hash:
            return Break(row_id, "its content no longer matches its hash (the row was altered)")
        expected_prev = stored_hash
    return None
