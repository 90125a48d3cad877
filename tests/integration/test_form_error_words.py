"""Every form a person fills in outside the admin says what to do in its own words when it is sent empty or
with nonsense: never Django's stock "This field is required." or "Enter a valid date.". The forms are found,
not listed, so a new form is checked the day it is written."""

from __future__ import annotations

import importlib
import inspect

import pytest
from django import forms
from django.forms import fields as django_fields

FORM_MODULES = ["portal.forms", "portal.account_forms", "volunteers.forms", "evidence.forms", "training.forms"]


def _stock_messages() -> list[str]:
    """The fixed part of every default error message of Django's form fields."""
    found = set()
    for _, field_class in inspect.getmembers(django_fields, inspect.isclass):
        for message in getattr(field_class, "default_error_messages", {}).values():
            fixed = str(message).split("%(")[0].strip()
            if len(fixed) > 8:
                found.add(fixed)
    return sorted(found)


def _people_forms() -> list[type[forms.Form]]:
    found = []
    for name in FORM_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(cls, forms.BaseForm)
                and cls.__module__ == name
                and not cls.__name__.startswith("_")
                and cls.base_fields
            ):
                found.append(cls)
    return found


def _build(form_class, data):
    kwargs = {}
    signature = inspect.signature(form_class.__init__)
    if "user" in signature.parameters:
        from portal.models import User

        kwargs["user"] = User(email="someone@example.org", full_name="Some One")
    return form_class(data=data, files={}, **kwargs)


NONSENSE = "\u2603 not a value"


def test_the_people_forms_are_found():
    names = {cls.__name__ for cls in _people_forms()}
    assert {"NoteForm", "StatementForm", "ExhibitForm", "ScreeningForm", "InvitationAcceptForm"} <= names


@pytest.mark.django_db
@pytest.mark.parametrize("form_class", _people_forms(), ids=lambda cls: f"{cls.__module__}.{cls.__name__}")
@pytest.mark.parametrize("filled", ["empty", "nonsense"])
def test_every_error_is_in_the_forms_own_words(form_class, filled):
    data = {}
    if filled == "nonsense":
        for name, field in form_class.base_fields.items():
            if isinstance(field.widget, forms.MultiWidget):
                for index in range(len(field.widget.widgets)):
                    data[f"{name}_{index}"] = NONSENSE
                for suffix in field.widget.widgets_names:
                    data[f"{name}{suffix}"] = NONSENSE
            else:
                data[name] = NONSENSE
    form = _build(form_class, data)
    form.is_valid()
    stock = _stock_messages()
    said = [message for messages in form.errors.values() for message in messages]
    generic = [message for message in said if any(message.startswith(fixed) for fixed in stock)]
    assert not generic, f"{form_class.__name__} answers {filled} input with Django's stock words: {generic}"
