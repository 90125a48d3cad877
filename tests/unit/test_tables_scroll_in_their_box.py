"""A table on a web page never makes the page scroll sideways on a 320 px phone (WCAG 1.4.10): every table in
a page template sits in a box that scrolls on its own and can take keyboard focus. PDF templates are
exempt (paper has no scrolling). Templates are found, not listed, so a new table is checked the day it is
written."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

BASE = Path(settings.BASE_DIR)
WRAPPER = re.compile(
    r'class="(?:app-table-scroll|portal-scroll)"[^>]*tabindex="0"|tabindex="0"[^>]*class="(?:app-table-scroll|portal-scroll)"'
)


def _page_templates() -> list[Path]:
    found = []
    for folder in ("portal", "volunteers", "training", "evidence", "retention"):
        for path in (BASE / folder).rglob("templates/**/*.html"):
            name = path.as_posix()
            if name.endswith("_pdf.html") or "/templates/evidence/bundle/" in name:
                continue
            found.append(path)
    return found


def test_every_table_on_a_page_scrolls_in_its_own_focusable_box():
    unwrapped = []
    for path in _page_templates():
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            if "<table" not in line:
                continue
            before = "\n".join(lines[max(0, number - 3) : number])
            if not WRAPPER.search(before):
                unwrapped.append(f"{path.relative_to(BASE)}:{number + 1}")
    assert not unwrapped, f"tables not in a scrolling box (app-table-scroll / portal-scroll): {unwrapped}"


def test_the_templates_are_found():
    names = {path.name for path in _page_templates()}
    assert {"welfare_console.html", "bundle_inbox.html", "module.html", "disposal_review_people.html"} <= names
