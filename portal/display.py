"""How stored values read to people: one date format in UK time, sizes in bytes, and JSON in words."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.html import format_html, format_html_join

EMPTY = "—"

# Words for the keys that JSON records (custody details, audit details, settings) use.
KEY_WORDS = {
    "sha256": "SHA-256",
    "server_sha256": "SHA-256 computed by the portal",
    "browser_sha256": "SHA-256 computed by the browser",
    "pdf_sha256": "SHA-256 of the PDF",
    "url": "Web address",
    "ip": "IP address",
    "id": "ID",
    "ids": "IDs",
    "pk": "ID",
    "repr": "Record",
    "mv": "MV",
    "nppv1": "NPPV1",
    "nppv2": "NPPV2",
    "nppv3": "NPPV3",
    "rv": "RV",
}
SIZE_KEYS = {"size", "bytes", "size_bytes"}


def when(value: datetime | date | None) -> str:
    """The one way the admin shows a moment: "2 December 2026, 18:05" in UK time; a day as "2 December 2026"."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        local = timezone.localtime(value) if timezone.is_aware(value) else value
        return f"{local:%-d %B %Y}, {local:%H:%M}"
    return f"{value:%-d %B %Y}"


def file_size(size: int | None) -> str:
    """Bytes as people say them, in powers of 1,000 (as disks and browsers do): 105721 -> "105.7 KB"."""
    if size is None:
        return ""
    if size < 1000:
        return "1 byte" if size == 1 else f"{size:,} bytes"
    amount = float(size)
    for unit in ("KB", "MB", "GB", "TB"):
        amount /= 1000
        if amount < 999.95 or unit == "TB":
            return f"{amount:,.1f} {unit}"
    return f"{size:,} bytes"  # not reached


def file_size_exact(size: int | None) -> str:
    """`file_size`, then the exact count where it rounds: "105.7 KB (105,721 bytes)", but "237 bytes"."""
    rounded = file_size(size)
    return rounded if size is None or size < 1000 else f"{rounded} ({size:,} bytes)"


def key_in_words(key: str) -> str:
    return KEY_WORDS.get(key.lower(), key.replace("_", " ").strip().capitalize() or key)


def _moment(text: str) -> datetime | date | None:
    """An ISO 8601 date or time kept as text in JSON, if that is what it is."""
    if len(text) < 10 or not text[:4].isdigit() or text[4] != "-":
        return None
    try:
        return parse_date(text) if len(text) == 10 else parse_datetime(text)  # a day stays a day, no "00:00"
    except ValueError:
        return None


def value_in_words(value: Any, *, key: str = "") -> str:
    """One JSON value as a person reads it: yes/no, sizes, dates in the one format, lists joined."""
    if value is None or value == "" or value == [] or value == {}:
        return EMPTY
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, int) and key.lower() in SIZE_KEYS:
        return file_size(value)
    if isinstance(value, (int, float)):
        return str(value)  # often an id or a version: never "1,234"
    if isinstance(value, str):
        moment = _moment(value)
        return when(moment) if moment is not None else value
    if isinstance(value, list):
        return ", ".join(value_in_words(item, key=key) for item in value)
    if isinstance(value, dict):
        return "; ".join(f"{key_in_words(k)}: {value_in_words(v, key=k)}" for k, v in value.items())
    return str(value)


def json_rows(data: Any) -> list[tuple[str, str]]:
    """A JSON record as (what, value) pairs in words, in the record's own order of keys."""
    if isinstance(data, dict):
        return [(key_in_words(key), value_in_words(value, key=key)) for key, value in data.items()]
    if isinstance(data, list):
        return [(str(number), value_in_words(item)) for number, item in enumerate(data, start=1)]
    return [("", value_in_words(data))]


def pairs_html(rows: list[tuple[str, str]]) -> str:
    """(what, value) pairs as a definition list, for JSON records and details in words."""
    if not rows:
        return EMPTY
    return format_html('<dl class="portal-pairs">{}</dl>', format_html_join("", "<dt>{}</dt><dd>{}</dd>", rows))
