"""The case's Unique Reference Number (URN), as police and CPS write it (no Django models).

A URN is eleven characters: the police force's two-digit code, the two letters of the unit or station that
charges, a five-digit number and the two-digit year — `42AB1234526`, often written `42 AB 12345 26`. People
type it with spaces, slashes or dashes and in either case; the portal keeps the compact, upper-case form.
"""

from __future__ import annotations

import re

_URN = re.compile(r"^(\d{2})([A-Z]{2})(\d{5})(\d{2})$")
HINT = "The force code (2 digits), unit (2 letters), number (5 digits) and year (2 digits), for example 42 AB 12345 26."


def normalise_urn(text: str) -> str:
    return re.sub(r"[\s/\-.]", "", text or "").upper()


def validate_urn(value: str) -> None:
    from django.core.exceptions import ValidationError  # the rest of this module is used without Django

    compact = normalise_urn(value)
    if not _URN.match(compact):
        raise ValidationError(
            "Enter the URN as the police write it: " + HINT[0].lower() + HINT[1:],
            code="invalid_urn",
        )
    if compact[:2] == "00":
        raise ValidationError("A URN starts with the force's code, which is never 00.", code="invalid_urn")


def display_urn(value: str) -> str:
    """`42AB1234526` as people read it aloud: `42 AB 12345 26`."""
    match = _URN.match(value or "")
    return " ".join(match.groups()) if match else value
