"""Form fields shared by the portal's apps, in the patterns of the GOV.UK Design System.

GovukDateField is the GOV.UK date input (https://design-system.service.gov.uk/components/date-input/):
three text boxes, Day, Month and Year, in a fieldset whose legend is the field's label. Render it with
{% include "includes/field.html" with field=form.some_date only %}; pass autocomplete="bday" for a date of
birth, and the boxes get bday-day, bday-month and bday-year.

The boxes are named <name>_0, <name>_1 and <name>_2 and their ids are <auto_id>_0, _1 and _2; the error
summary links to the day box. Errors are in GOV.UK's words and say what is wrong ("Date of birth must
include a month"); each one carries the boxes it is about, so that only those are marked in error.
"""

from __future__ import annotations

import re
from datetime import date

from django import forms
from django.core.exceptions import ValidationError
from django.forms.boundfield import BoundField
from django.forms.utils import pretty_name

PARTS = ("day", "month", "year")
PART_LABELS = {"day": "Day", "month": "Month", "year": "Year"}
PART_WIDTHS = {"day": "govuk-input--width-2", "month": "govuk-input--width-2", "year": "govuk-input--width-4"}

# GOV.UK: accept month names and their abbreviations as well as numbers. Fixed English names, so the
# answer never depends on the server's locale.
MONTH_NAMES = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
MONTHS = {name: number for number, full in enumerate(MONTH_NAMES, start=1) for name in (full, full[:3])}
MONTHS["sept"] = 9

DAY_OR_MONTH = re.compile(r"[0-9]{1,2}")
NUMBER = re.compile(r"[0-9]+")


def _as_date(value) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _sentence_start_lower(label: str) -> str:
    """'Date of birth' becomes 'date of birth'; an acronym such as 'DBS check date' keeps its capitals."""
    if len(label) > 1 and label[:2].isupper():
        return label
    return label[:1].lower() + label[1:]


class GovukDateWidget(forms.MultiWidget):
    """Day, Month and Year text boxes (type=text, inputmode=numeric, as GOV.UK advises: never type=number).

    includes/field.html draws the GOV.UK markup itself; this widget's own rendering ({{ form.field }}) is
    a plain fallback with the same names, ids and classes.
    """

    def __init__(self, attrs=None):
        widgets = [
            forms.TextInput(
                attrs={"class": f"govuk-input govuk-date-input__input {PART_WIDTHS[part]}", "inputmode": "numeric"}
            )
            for part in PARTS
        ]
        super().__init__(widgets, attrs)

    def decompress(self, value):
        found = _as_date(value)
        if found is None:
            return [None, None, None]
        return [str(found.day), str(found.month), str(found.year)]

    def id_for_label(self, id_):
        return f"{id_}_0" if id_ else ""

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        for part, subwidget in zip(PARTS, context["widget"]["subwidgets"], strict=True):
            if subwidget["attrs"].get("autocomplete") == "bday":
                subwidget["attrs"]["autocomplete"] = f"bday-{part}"
        return context


class GovukDateBoundField(BoundField):
    """A bound GovukDateField, with what includes/field.html needs to draw the three boxes."""

    @property
    def parts_in_error(self) -> set[str]:
        """The boxes to mark in error: those the errors name, or all three when an error names none."""
        parts: set[str] = set()
        for error in self.errors.as_data():
            named = (error.params or {}).get("parts") if isinstance(error, ValidationError) else None
            if not named:
                return set(PARTS)
            parts.update(named)
        return parts

    @property
    def date_parts(self) -> list[dict]:
        values = self.value()
        in_error = self.parts_in_error
        widget = self.field.widget
        auto_id = self.auto_id
        return [
            {
                "key": part,
                "label": PART_LABELS[part],
                "name": self.html_name + widget.widgets_names[index],
                "id": f"{auto_id}_{index}" if auto_id else "",
                "value": values[index],
                "width": PART_WIDTHS[part],
                "error": part in in_error,
            }
            for index, part in enumerate(PARTS)
        ]


class GovukDateField(forms.MultiValueField):
    """A date typed into Day, Month and Year boxes; cleans to a datetime.date (or None when optional).

    The messages use the field's label. A form can replace them with error_messages:
      required      all three boxes empty ("Enter date of birth")
      incomplete    one or two boxes empty; %(missing)s is "month", "day and year"...
                    ("Date of birth must include a month")
      invalid_year  the year is not 4 numbers ("Date of birth must include a year with 4 numbers")
      invalid       not a real date, such as 31 2 2020 or a letter in the day
                    ("Date of birth must be a real date")
    Each message may use %(label)s and %(label_lower)s.

    What was typed is kept, box by box, when the form is shown again with its errors.
    """

    widget = GovukDateWidget
    bound_field_class = GovukDateBoundField
    default_error_messages = {
        "required": "Enter %(label_lower)s",
        "incomplete": "%(label)s must include a %(missing)s",
        "invalid_year": "%(label)s must include a year with 4 numbers",
        "invalid": "%(label)s must be a real date",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("require_all_fields", False)
        fields = [forms.CharField(required=False, strip=True) for _ in PARTS]
        super().__init__(fields=fields, **kwargs)

    # --- what the template and the widget see ----------------------------------------------------------

    def get_bound_field(self, form, field_name):
        if self.label is None:  # the messages name the field as its label does
            self.label = pretty_name(field_name)
        return super().get_bound_field(form, field_name)

    def prepare_value(self, value):
        """Always three strings, day, month and year: what was typed, or the parts of a date."""
        if isinstance(value, (list, tuple)):
            values = ["" if item is None else str(item) for item in value][:3]
            return values + [""] * (3 - len(values))
        return ["" if item is None else item for item in self.widget.decompress(value)]

    # --- cleaning --------------------------------------------------------------------------------------

    def _error(self, code: str, parts=PARTS, **params) -> ValidationError:
        label = str(self.label or "Date")
        params = {"label": label, "label_lower": _sentence_start_lower(label), "parts": tuple(parts), **params}
        return ValidationError(self.error_messages[code], code=code, params=params)

    def clean(self, value):
        if isinstance(value, date):  # a disabled field is given its initial value
            return value
        if not isinstance(value, (list, tuple)):
            value = self.widget.decompress(value)
        result = self.compress(list(value))
        self.run_validators(result)
        return result

    def compress(self, data_list):
        day, month, year = (("" if item is None else str(item)).strip() for item in (list(data_list) + [None] * 3)[:3])
        typed = {"day": day, "month": month, "year": year}

        if not any(typed.values()):
            if self.required:
                raise self._error("required")
            return None
        missing = [part for part in PARTS if not typed[part]]
        if missing:
            raise self._error("incomplete", parts=missing, missing=" and ".join(missing))

        wrong = []
        if not DAY_OR_MONTH.fullmatch(day) or not 1 <= int(day) <= 31:
            wrong.append("day")
        month_number = MONTHS.get(month.lower().rstrip("."))
        if month_number is None and DAY_OR_MONTH.fullmatch(month) and 1 <= int(month) <= 12:
            month_number = int(month)
        if month_number is None:
            wrong.append("month")
        if not NUMBER.fullmatch(year) or (len(year) == 4 and int(year) < 1000):
            wrong.append("year")
        if wrong:
            raise self._error("invalid", parts=wrong)
        if len(year) != 4:
            raise self._error("invalid_year", parts=["year"])
        try:
            return date(int(year), month_number, int(day))
        except ValueError:  # a day the month does not have, such as 31 2 2020
            raise self._error("invalid", parts=["day"]) from None


class StorableTextForm(forms.Form):
    """A form whose text boxes refuse, in one plain message, what the database cannot store (see
    portal.text) — a NUL typed or pasted, or a lone surrogate arriving in JSON — instead of failing later
    as a server error. It replaces Django's terser "Null characters are not allowed."."""

    def __init__(self, *args, **kwargs) -> None:
        from django.core.validators import ProhibitNullCharactersValidator

        from portal.text import require_storable

        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, forms.CharField):
                field.validators = [
                    *(v for v in field.validators if not isinstance(v, ProhibitNullCharactersValidator)),
                    lambda value: require_storable(value, what="This"),
                ]


class StorableJSONField(forms.JSONField):
    """Django's JSON form field, made safe against what a person can type into it: a number too long for
    Python to read, and text the database cannot store inside the JSON (an escaped NUL, a lone surrogate),
    each become a field error instead of a server error; and a refused value is shown again escaped."""

    def to_python(self, value):
        try:
            return super().to_python(value)
        except ValueError as exc:  # e.g. "Exceeds the limit (4300 digits) for integer string conversion"
            raise ValidationError("Enter valid JSON: a number in it is too long to read.", code="invalid") from exc

    def bound_data(self, data, initial):
        try:
            return super().bound_data(data, initial)
        except ValueError:  # the same overlong number, read again to show the form with its error
            from django.forms.fields import InvalidJSONInput

            return InvalidJSONInput(data)

    def validate(self, value) -> None:
        from portal.text import require_storable

        super().validate(value)
        require_storable(_json_text(value), what="This")

    def prepare_value(self, value):
        import json

        from portal.text import unstorable_count

        shown = super().prepare_value(value)
        if isinstance(shown, str) and unstorable_count(shown):
            return json.dumps(value, ensure_ascii=True, cls=self.encoder)
        return shown


def _json_text(value) -> str:
    """Every key and string inside a JSON value, joined, for one storability check."""
    if isinstance(value, dict):
        return "".join(str(key) + _json_text(item) for key, item in value.items())
    if isinstance(value, list):
        return "".join(_json_text(item) for item in value)
    return value if isinstance(value, str) else ""
