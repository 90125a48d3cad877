"""The GOV.UK date input: Day, Month and Year boxes that clean to a date, with errors that say what is wrong."""

from datetime import date

import pytest
from django import forms
from django.template.loader import render_to_string

from portal.forms import GovukDateField


class BirthForm(forms.Form):
    date_of_birth = GovukDateField(label="Date of birth", help_text="For example, 27 3 1990.")


class OptionalForm(forms.Form):
    finished_on = GovukDateField(label="Date finished", required=False)


class CustomForm(forms.Form):
    moved_in = GovukDateField(
        label="Lived there since",
        error_messages={
            "required": "Enter the date you moved in",
            "invalid": "The date you moved in must be a real date",
        },
    )


def _typed(day: str, month: str, year: str, name: str = "date_of_birth") -> dict:
    return {f"{name}_0": day, f"{name}_1": month, f"{name}_2": year}


def _errors(form_class, data) -> list[str]:
    form = form_class(data)
    assert not form.is_valid()
    return next(iter(form.errors.values()))


def test_a_real_date_cleans_to_a_date():
    form = BirthForm(_typed("27", "3", "1990"))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["date_of_birth"] == date(1990, 3, 27)


def test_leading_zeros_spaces_and_month_names_are_accepted():
    for day, month in [("07", "03"), (" 7 ", " 3 "), ("7", "March"), ("7", "mar"), ("7", "Mar.")]:
        form = BirthForm(_typed(day, month, "1990"))
        assert form.is_valid(), (day, month, form.errors)
        assert form.cleaned_data["date_of_birth"] == date(1990, 3, 7)


def test_a_missing_month_is_named():
    assert _errors(BirthForm, _typed("27", "", "1990")) == ["Date of birth must include a month"]


def test_two_missing_parts_are_named_together():
    assert _errors(BirthForm, _typed("", "", "1990")) == ["Date of birth must include a day and month"]
    assert _errors(BirthForm, _typed("27", "", "")) == ["Date of birth must include a month and year"]


def test_a_missing_year_is_named():
    assert _errors(BirthForm, _typed("27", "3", "")) == ["Date of birth must include a year"]


def test_a_day_the_month_does_not_have_is_not_a_real_date():
    assert _errors(BirthForm, _typed("31", "2", "2020")) == ["Date of birth must be a real date"]


@pytest.mark.parametrize(("day", "month", "year"), [("32", "1", "2020"), ("1", "13", "2020"), ("x", "1", "2020")])
def test_out_of_range_or_non_numeric_parts_are_not_a_real_date(day, month, year):
    assert _errors(BirthForm, _typed(day, month, year)) == ["Date of birth must be a real date"]


@pytest.mark.parametrize("year", ["90", "990", "19900"])
def test_a_year_without_4_numbers_is_refused(year):
    assert _errors(BirthForm, _typed("27", "3", year)) == ["Date of birth must include a year with 4 numbers"]


def test_all_empty_and_required_asks_for_the_date():
    assert _errors(BirthForm, _typed("", "", "")) == ["Enter date of birth"]
    assert _errors(BirthForm, {}) == ["Enter date of birth"]


def test_all_empty_and_optional_is_none():
    form = OptionalForm(_typed("", "", "", name="finished_on"))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["finished_on"] is None


def test_the_form_s_own_messages_are_used():
    assert _errors(CustomForm, _typed("", "", "", name="moved_in")) == ["Enter the date you moved in"]
    assert _errors(CustomForm, _typed("31", "2", "2020", name="moved_in")) == [
        "The date you moved in must be a real date"
    ]
    # Messages the form does not replace still use the label.
    assert _errors(CustomForm, _typed("1", "", "2020", name="moved_in")) == ["Lived there since must include a month"]


def test_the_values_typed_are_kept_on_error():
    form = BirthForm(_typed("31", "2", "20"))
    assert not form.is_valid()
    assert form["date_of_birth"].value() == ["31", "2", "20"]
    assert [part["value"] for part in form["date_of_birth"].date_parts] == ["31", "2", "20"]
    html = render_to_string("includes/field.html", {"field": form["date_of_birth"]})
    assert 'name="date_of_birth_0" type="text" inputmode="numeric" value="31"' in html
    assert 'name="date_of_birth_1" type="text" inputmode="numeric" value="2"' in html
    assert 'name="date_of_birth_2" type="text" inputmode="numeric" value="20"' in html


def test_only_the_boxes_in_error_are_marked():
    form = BirthForm(_typed("27", "", "1990"))
    form.is_valid()
    assert [part["error"] for part in form["date_of_birth"].date_parts] == [False, True, False]
    form = BirthForm(_typed("27", "3", "90"))
    form.is_valid()
    assert [part["error"] for part in form["date_of_birth"].date_parts] == [False, False, True]


def test_an_error_from_the_form_marks_every_box():
    form = BirthForm(_typed("27", "3", "1990"))
    form.is_valid()
    form.add_error("date_of_birth", "Volunteers must be 18 or over.")
    assert [part["error"] for part in form["date_of_birth"].date_parts] == [True, True, True]


def test_an_initial_date_is_shown_in_the_three_boxes():
    form = BirthForm(initial={"date_of_birth": date(1990, 3, 7)})
    assert form["date_of_birth"].value() == ["7", "3", "1990"]


def test_it_renders_as_the_govuk_date_input():
    form = BirthForm(_typed("", "", ""))
    form.is_valid()
    html = render_to_string("includes/field.html", {"field": form["date_of_birth"], "autocomplete": "bday"})
    assert (
        '<fieldset class="govuk-fieldset" role="group" aria-describedby="id_date_of_birth-hint id_date_of_birth-error">'
        in html
    )
    assert '<legend class="govuk-fieldset__legend govuk-fieldset__legend--s">Date of birth</legend>' in html
    assert '<div id="id_date_of_birth-hint" class="govuk-hint">For example, 27 3 1990.</div>' in html
    assert '<span class="govuk-visually-hidden">Error:</span> Enter date of birth</p>' in html
    for index, (box, width) in enumerate([("day", 2), ("month", 2), ("year", 4)]):
        assert (
            f'<label class="govuk-label govuk-date-input__label" for="id_date_of_birth_{index}">{box.title()}</label>'
            in html
        )
        assert (
            f'class="govuk-input govuk-date-input__input govuk-input--width-{width} govuk-input--error"'
            f' id="id_date_of_birth_{index}" name="date_of_birth_{index}" type="text" inputmode="numeric"'
            f' autocomplete="bday-{box}">'
        ) in html


def test_other_dates_get_no_autocomplete():
    html = render_to_string("includes/field.html", {"field": OptionalForm()["finished_on"]})
    assert "autocomplete" not in html
    assert "Date finished (optional)" in html


def test_the_error_summary_links_to_the_day_box():
    form = BirthForm(_typed("", "", ""))
    form.is_valid()
    html = render_to_string("includes/error_summary.html", {"form": form})
    assert '<a href="#id_date_of_birth_0">Enter date of birth</a>' in html
