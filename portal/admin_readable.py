"""How the admin shows what is stored: one date format in UK time, yes or no, JSON in words, the labels and
filter titles each admin chooses, and a name for every box in a tabular inline. Imports no app."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.options import InlineModelAdmin
from django.contrib.admin.utils import display_for_field, flatten_fieldsets
from django.core.exceptions import FieldDoesNotExist
from django.db.models import BooleanField, DateField, Field, JSONField
from django.http import HttpRequest
from django.utils.text import capfirst

from portal.display import EMPTY, json_rows, pairs_html, when


def readable_value(field: Field, value: Any) -> Any:
    """A stored value as people read it: the one date format, yes/no, JSON in words; otherwise Django's."""
    if value is None or value == "":
        return EMPTY
    if isinstance(field, DateField):  # DateTimeField too
        # A narrow column breaks the line after the comma, never inside "2 December 2026".
        return when(value).replace(" ", "\u00a0").replace(",\u00a0", ", ")
    if isinstance(field, BooleanField):
        return "Yes" if value else "No"
    if isinstance(field, JSONField):
        return pairs_html(json_rows(value))
    return display_for_field(value, field, EMPTY)


class ReadableAdminMixin:
    """What every admin page shows reads as people speak: each date in one format (UK time), yes or no for
    true and false, JSON records in words, and the labels an admin chooses (`labels`, by field name) on
    its forms, its record pages and its list columns alike. Model fields are swapped for display
    functions only where they are shown read-only, so forms keep their own widgets."""

    # `labels` is declared by each ModelAdmin or inline that wants it: an attribute here would hide theirs.

    def _labels(self) -> dict[str, str]:
        return getattr(self, "labels", None) or {}

    def _readable(self, name: Any) -> Any:
        if not isinstance(name, str):
            return name
        try:
            field = self.model._meta.get_field(name)
        except FieldDoesNotExist:
            return name
        if not field.concrete or field.is_relation:
            return name  # Django links related records; their labels come from `labels` on the form
        if not isinstance(field, (DateField, BooleanField, JSONField)) and name not in self._labels():
            return name
        cache = self.__dict__.setdefault("_readable_cache", {})
        if name not in cache:

            def shown(obj: Any, _field: Field = field) -> Any:
                return readable_value(_field, getattr(obj, _field.attname))

            shown.__name__ = name  # the row's CSS class stays "field-<name>"
            shown.short_description = self._labels().get(name) or capfirst(field.verbose_name)
            shown.admin_order_field = name
            cache[name] = shown
        return cache[name]

    def _read_only_names(self, request: HttpRequest, obj: Any) -> set[str]:
        names = {name for name in super().get_readonly_fields(request, obj) if isinstance(name, str)}
        if isinstance(self, InlineModelAdmin):
            view_only = not self.has_change_permission(request, obj) and not self.has_add_permission(request, obj)
        elif obj is None:
            view_only = not self.has_add_permission(request)
        else:
            view_only = not self.has_change_permission(request, obj)
        if view_only:
            names.update(flatten_fieldsets(super().get_fieldsets(request, obj)))
        return names

    def _swap(self, names: Any, read_only: set[str]) -> Any:
        if isinstance(names, (list, tuple)):
            swapped = [self._swap(name, read_only) for name in names]
            return list(dict.fromkeys(swapped)) if isinstance(names, list) else tuple(swapped)
        return self._readable(names) if names in read_only else names

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list:
        names = list(super().get_readonly_fields(request, obj))
        readable = [self._readable(name) for name in names]
        # The plain names stay too, so the form leaves those fields out.
        return list(dict.fromkeys([*names, *readable]))

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> list:
        read_only = self._read_only_names(request, obj)
        return [
            (title, {**options, "fields": self._swap(list(options.get("fields", ())), read_only)})
            for title, options in super().get_fieldsets(request, obj)
        ]

    def get_list_display(self, request: HttpRequest) -> list:
        return [self._readable(name) for name in super().get_list_display(request)]

    def get_list_filter(self, request: HttpRequest) -> list:
        """List filters titled as the admin says (`filter_titles`, by field path): "By review", not "By
        review state"."""
        titles = getattr(self, "filter_titles", None) or {}
        return [_titled_filter(spec, titles) for spec in super().get_list_filter(request)]

    def get_list_display_links(self, request: HttpRequest, list_display: Any) -> Any:
        links = super().get_list_display_links(request, list_display)
        return links if links is None else [self._readable(name) for name in links]

    def _form_kwargs(self, request: HttpRequest, obj: Any, kwargs: dict) -> dict:
        fields = kwargs["fields"] if "fields" in kwargs else flatten_fieldsets(self.get_fieldsets(request, obj))
        kwargs["fields"] = None if fields is None else [name for name in fields if isinstance(name, str)]
        if self._labels():
            meta = getattr(self.form, "Meta", None)
            kwargs["labels"] = {**(getattr(meta, "labels", None) or {}), **self._labels(), **kwargs.get("labels", {})}
        return kwargs

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        return super().get_form(request, obj, change=change, **self._form_kwargs(request, obj, kwargs))

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        return super().get_formset(request, obj, **self._form_kwargs(request, obj, kwargs))


def _titled_filter(spec: Any, titles: dict[str, str]) -> Any:
    path, filter_class = (spec, None) if isinstance(spec, str) else (spec if isinstance(spec, tuple) else (None, None))
    if path not in titles:
        return spec
    title = titles[path]
    if filter_class is None:

        class Titled:
            def __new__(cls, *args: Any, **kwargs: Any) -> Any:
                chosen = admin.FieldListFilter.create(*args, **kwargs)  # the filter Django would choose
                chosen.title = title
                return chosen

        return (path, Titled)

    class TitledFilter(filter_class):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.title = title

    return (path, TitledFilter)


class LabelledInlineMixin:
    """A tabular inline's boxes sit under column headings, with no label of their own: each gets its
    column's name, so assistive technology can say what it is (axe: label, select-name)."""

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if formfield is not None and isinstance(self, admin.TabularInline):
            formfield.widget.attrs.setdefault("aria-label", str(formfield.label or capfirst(db_field.verbose_name)))
        return formfield
