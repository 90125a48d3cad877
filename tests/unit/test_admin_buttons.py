"""Every button on an officer-admin page looks and sizes like the admin's own: Django's admin styles
`<input type=submit>` and `.button`, not a bare `<button>`, which a browser draws small and unstyled, too
small to tap at 320 px (WCAG 2.5.8 target size). Templates are found, not listed."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

BASE = Path(settings.BASE_DIR)
BUTTON = re.compile(r"<button\b[^>]*>", re.S)


def _admin_templates() -> list[Path]:
    return [
        path
        for folder in ("portal", "volunteers", "training", "evidence", "retention")
        for path in (BASE / folder).rglob("templates/admin/**/*.html")
    ]


def test_every_button_in_an_admin_template_has_the_admins_button_style():
    bare = []
    for path in _admin_templates():
        for match in BUTTON.finditer(path.read_text()):
            classes = re.search(r'class="([^"]*)"', match.group(0))
            if not classes or not {"button", "govuk-button"} & set(classes.group(1).split()):
                line = path.read_text().count("\n", 0, match.start()) + 1
                bare.append(f"{path.relative_to(BASE)}:{line}")
    assert not bare, f'bare <button>s in admin templates (add class="button"): {bare}'


def test_the_templates_are_found():
    names = {path.name for path in _admin_templates()}
    assert {"disposal_decide.html", "person_disposal_decide.html", "index.html"} <= names
