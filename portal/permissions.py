"""Scheme scoping and object permissions: the one module that imports django-guardian."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from guardian.admin import GuardedModelAdmin
from guardian.shortcuts import assign_perm, get_objects_for_user, get_user_perms, remove_perm

from portal.models import User

# Where each third-party model's rows belong. Our own models say it themselves (`scheme_path`).
THIRD_PARTY_SCHEME_PATHS: dict[str, str | None] = {
    "account.emailaddress": "user__scheme",
    "mfa.authenticator": "user__scheme",
    "auth.group": None,  # the roles: the same for every scheme
    "auth.permission": None,
    "contenttypes.contenttype": None,
}

PLATFORM_WIDE = None  # a `scheme_path` of None: reference data every scheme shares (modules, codes of conduct)
SCHEME_ITSELF = "self"


class UndeclaredScope(ImproperlyConfigured):
    """A model whose rows are offered to someone but which never said which scheme they belong to."""


def scheme_path(model: type[Model]) -> str | None:
    """The lookup from a model's rows to the scheme they belong to ("tasking__scheme"), "self" for
    Scheme, or None for platform-wide reference data. Declared once per model, as `scheme_path`, so
    change lists, form choices and list filters all scope through the same fact."""
    if hasattr(model, "scheme_path"):
        return model.scheme_path
    label = model._meta.label_lower
    if label in THIRD_PARTY_SCHEME_PATHS:
        return THIRD_PARTY_SCHEME_PATHS[label]
    raise UndeclaredScope(
        f"{model._meta.label} does not say which scheme its rows belong to: give it a `scheme_path` "
        '(for example "tasking__scheme", or None for platform-wide reference data).'
    )


def scheme_id_of(obj: Model) -> int | None:
    """The scheme one row belongs to, by the same declared path; None for platform-wide rows."""
    try:
        path = scheme_path(type(obj))
    except UndeclaredScope:
        return getattr(obj, "scheme_id", None)
    if path is PLATFORM_WIDE:
        return None
    if path == SCHEME_ITSELF:
        return obj.pk
    *hops, last = path.split("__")
    for hop in hops:
        obj = getattr(obj, hop, None)
        if obj is None:
            return None
    return getattr(obj, f"{last}_id", None)


def scheme_filter(queryset: QuerySet, user: User, *, field: str | None = None) -> QuerySet:
    """What a person's organisation may see: their scheme's rows; superusers see every scheme.

    `field` defaults to the model's own `scheme_path`. Platform-wide reference data is visible to every
    signed-in person."""
    if not user.is_authenticated or not user.is_active:
        return queryset.none()
    path = field if field is not None else scheme_path(queryset.model)
    if path is PLATFORM_WIDE or user.is_superuser:
        return queryset
    if user.scheme_id is None:
        return queryset.none()
    lookup = "pk" if path == SCHEME_ITSELF else f"{path}_id"
    return queryset.filter(**{lookup: user.scheme_id})


def is_welfare_officer(user: User) -> bool:
    from portal import roles

    return roles.has_role(user, roles.WELFARE)


def can_read_welfare_detail(user: User, scheme_id: int | None) -> bool:
    """Clinical notes, outcomes, stand-down details and audit rows about welfare: welfare officers of that
    scheme only. A platform superuser reads them only if they also hold the welfare role (need to know).
    """
    if not user.is_authenticated or not user.is_active or not is_welfare_officer(user):
        return False
    if user.is_superuser and user.scheme_id is None:
        return True
    return scheme_id is not None and user.scheme_id == scheme_id


def objects_with_perm(user: User, perm: str, queryset: QuerySet) -> QuerySet:
    """Objects on which the user holds `perm` as a per-object grant made to them (as holds_object_perm):
    global perms and grants to a group never count (the portal grants objects to people only)."""
    return get_objects_for_user(
        user, perm, klass=queryset, use_groups=False, accept_global_perms=False, with_superuser=False
    )


def holds_object_perm(user: User, codename: str, obj: Model) -> bool:
    """A per-object grant held by this user directly. Superuser status grants nothing here."""
    return user.is_authenticated and user.is_active and codename in get_user_perms(user, obj)


def objects_holding_perm(user: User, codename: str, objs: list[Model]) -> set:
    """holds_object_perm for many objects of one model in one query: the pks of those the user holds
    `codename` on directly (not through a group; superuser status grants nothing)."""
    from django.contrib.contenttypes.models import ContentType
    from django.db.models import ForeignKey
    from guardian.utils import get_user_obj_perms_model

    if not objs or not (user.is_authenticated and user.is_active):
        return set()
    model = get_user_obj_perms_model(objs[0])
    ctype = ContentType.objects.get_for_model(objs[0])
    rows = model.objects.filter(user=user, permission__codename=codename, permission__content_type=ctype)
    if isinstance(model._meta.get_field("content_object"), ForeignKey):  # a direct-foreign-key permission table
        return set(rows.filter(content_object__in=[o.pk for o in objs]).values_list("content_object_id", flat=True))
    by_text = {str(o.pk): o.pk for o in objs}
    found = rows.filter(content_type=ctype, object_pk__in=list(by_text)).values_list("object_pk", flat=True)
    return {by_text[pk] for pk in found}


def grant(perm: str, user: User, obj: Model) -> None:
    assign_perm(perm, user, obj)


def revoke(perm: str, user: User, obj: Model) -> None:
    remove_perm(perm, user, obj)


def _is_row_id(text: str) -> bool:
    """A number a database id can be: decimal digits within a 64-bit integer (a longer run of digits is not
    an id, and Python refuses to convert one of more than 4,300 digits)."""
    return text.isascii() and text.isdecimal() and len(text) <= 19 and int(text) < 2**63


class PortalGuardedAdmin(GuardedModelAdmin):
    """Guardian's admin, with its object-permission pages closed to all but platform superusers
    (guardian issue 756: otherwise any staff user who can change an object can grant rights on it)."""

    user_can_access_permitted_objects_only = True

    def _superuser_only(self, request: HttpRequest, *ids: Any) -> None:
        from django.core.exceptions import PermissionDenied
        from django.http import Http404

        if not request.user.is_superuser:
            raise PermissionDenied
        if not all(_is_row_id(str(value)) for value in ids):
            raise Http404("No such object.")  # guardian would compare a non-number with an id and fail

    def obj_perms_manage_view(self, request: HttpRequest, object_pk: Any) -> Any:
        self._superuser_only(request, object_pk)
        return super().obj_perms_manage_view(request, object_pk)

    def obj_perms_manage_user_view(self, request: HttpRequest, object_pk: Any, user_id: Any) -> Any:
        self._superuser_only(request, object_pk, user_id)
        return super().obj_perms_manage_user_view(request, object_pk, user_id)

    def obj_perms_manage_group_view(self, request: HttpRequest, object_pk: Any, group_id: Any) -> Any:
        self._superuser_only(request, object_pk, group_id)
        return super().obj_perms_manage_group_view(request, object_pk, group_id)
