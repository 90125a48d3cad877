"""Scheme scoping and object permissions: the one module that imports django-guardian."""

from __future__ import annotations

from typing import Any

from django.db.models import Model, QuerySet
from django.http import HttpRequest
from guardian.admin import GuardedModelAdmin
from guardian.shortcuts import assign_perm, get_objects_for_user, get_user_perms, remove_perm

from portal.models import User


def scheme_filter(queryset: QuerySet, user: User, *, field: str = "scheme") -> QuerySet:
    """What a person's organisation may see: their scheme's rows; superusers see every scheme."""
    if not user.is_authenticated or not user.is_active:
        return queryset.none()
    if user.is_superuser:
        return queryset
    if user.scheme_id is None:
        return queryset.none()
    return queryset.filter(**{f"{field}_id": user.scheme_id})


def objects_with_perm(user: User, perm: str, queryset: QuerySet) -> QuerySet:
    """Objects on which the user holds `perm` as a per-object grant; global perms never count."""
    return get_objects_for_user(user, perm, klass=queryset, accept_global_perms=False, with_superuser=False)


def holds_object_perm(user: User, codename: str, obj: Model) -> bool:
    """A per-object grant held by this user directly. Superuser status grants nothing here."""
    return user.is_authenticated and user.is_active and codename in get_user_perms(user, obj)


def grant(perm: str, user: User, obj: Model) -> None:
    assign_perm(perm, user, obj)


def revoke(perm: str, user: User, obj: Model) -> None:
    remove_perm(perm, user, obj)


class PortalGuardedAdmin(GuardedModelAdmin):
    """Guardian's admin, with its object-permission pages closed to all but platform superusers
    (guardian issue 756: otherwise any staff user who can change an object can grant rights on it)."""

    user_can_access_permitted_objects_only = True

    def _superuser_only(self, request: HttpRequest) -> None:
        from django.core.exceptions import PermissionDenied

        if not request.user.is_superuser:
            raise PermissionDenied

    def obj_perms_manage_view(self, request: HttpRequest, object_pk: Any) -> Any:
        self._superuser_only(request)
        return super().obj_perms_manage_view(request, object_pk)

    def obj_perms_manage_user_view(self, request: HttpRequest, object_pk: Any, user_id: Any) -> Any:
        self._superuser_only(request)
        return super().obj_perms_manage_user_view(request, object_pk, user_id)

    def obj_perms_manage_group_view(self, request: HttpRequest, object_pk: Any, group_id: Any) -> Any:
        self._superuser_only(request)
        return super().obj_perms_manage_group_view(request, object_pk, group_id)
