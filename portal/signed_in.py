"""What every signed-in page needs to know about its person, read with the person in one query.

With the session's own row, a signed-in page pays two queries before its own work.

Each request loads the signed-in user (Django's `get_user`), then every page asks the same things: the
person's roles (navigation, the one rule, MFA enforcement), whether they have a second factor (the MFA
middleware) and how many notices they have not read (the header). Asked one by one that is four queries
before the page's own work. Here they are columns beside the user row, so they cost one query, and they are
still read from the database at every request: a role revoked, a factor removed or a person
deactivated takes effect at the next request, as before. Nothing is cached between requests.
"""

from __future__ import annotations

import functools
from typing import Any

from allauth.account.auth_backends import AuthenticationBackend
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import connection

from portal import roles
from portal.models import Notice, User

MFA_ENABLED = "_portal_mfa_enabled"
UNREAD_NOTICES = "_portal_unread_notices"
ROLE_CODES = "_portal_role_codes"
_STATE = (ROLE_CODES, MFA_ENABLED, UNREAD_NOTICES)

# The role codes of a person, joined into one text by the database. Only groups named for a role are joined
# (role codes are letters and underscores), so another group's name, comma or not, cannot read as a role.
_JOINED = {"postgresql": "string_agg({}, ',')", "sqlite": "group_concat({}, ',')"}


@functools.cache
def _person_sql(vendor: str) -> tuple[str, int]:  # one text per database vendor: quoting and aggregation differ
    """The user row and, beside it, the person's group names in one text, whether they have a second factor
    and how many notices they have not read; and how many of the columns are the user's own.

    Written as SQL once per process rather than built by the ORM: composed from its subqueries at every
    request, the ORM took longer to write this query (about 4.5 ms here) than the database took to answer it
    and the separate queries it replaces together. One subquery gathers all the roles: one EXISTS per role
    made PostgreSQL spend 1.2-1.5 ms planning the query at every request, four times what the three
    subqueries here cost to plan and run. Table and column names come from the models."""
    quote = connection.ops.quote_name
    user, membership = User._meta, User.groups.through._meta
    group, authenticator, notice = Group._meta, Authenticator._meta, Notice._meta
    person = f"{quote(user.db_table)}.{quote(user.pk.column)}"
    user_id, group_id, name, read_at = (quote(column) for column in ("user_id", "group_id", "name", "read_at"))
    groups = (
        f"{quote(membership.db_table)} m JOIN {quote(group.db_table)} g ON g.{quote(group.pk.column)} = m.{group_id}"
    )
    named = ", ".join(["%s"] * len(roles.ALL_ROLES))
    role_codes = (
        f"SELECT {_JOINED[vendor].format(f'g.{name}')} FROM {groups} "  # noqa: S608
        f"WHERE m.{user_id} = {person} AND g.{name} IN ({named})"
    )
    has_factor = f"SELECT 1 FROM {quote(authenticator.db_table)} a WHERE a.{user_id} = {person}"  # noqa: S608
    unread = f"SELECT COUNT(*) FROM {quote(notice.db_table)} n WHERE n.{user_id} = {person} AND n.{read_at} IS NULL"  # noqa: S608

    columns = [f"{quote(user.db_table)}.{quote(field.column)}" for field in user.concrete_fields]
    state = [f"({role_codes})", f"CASE WHEN EXISTS ({has_factor}) THEN 1 ELSE 0 END", f"({unread})"]
    sql = f"SELECT {', '.join(columns + state)} FROM {quote(user.db_table)} WHERE {person} = %s"  # noqa: S608
    return sql, len(columns)


def person_with_state(user_id: Any) -> User | None:
    """The user, with what every page asks of them as attributes (see the module's docstring)."""
    sql, own = _person_sql(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*(role.code for role in roles.ALL_ROLES), user_id])
        row = cursor.fetchone()
    if row is None:
        return None
    person = User.from_db(connection.alias, [field.attname for field in User._meta.concrete_fields], row[:own])
    codes, has_factor, unread = row[own:]
    setattr(person, ROLE_CODES, frozenset((codes or "").split(",")) - {""})
    setattr(person, MFA_ENABLED, bool(has_factor))
    setattr(person, UNREAD_NOTICES, unread)
    return person


def roles_from_state(user: User) -> list[roles.Role] | None:
    """The roles read with the user, or None when this instance was not loaded with them."""
    codes = getattr(user, ROLE_CODES, None)
    if codes is None:
        return None
    return [role for role in roles.ALL_ROLES if role.code in codes]


def forget_state(user: User) -> None:
    """After a change made in this request (a role granted, a factor added, notices read), read it again."""
    # The request's user is a lazy proxy: attributes are read and removed through it, not its __dict__.
    for name in _STATE:
        if hasattr(user, name):
            delattr(user, name)


class PortalAuthenticationBackend(AuthenticationBackend):
    """allauth's backend (sign-in by e-mail, its rate limits), loading the person of each request with what
    every page asks of them."""

    def get_user(self, user_id: Any) -> User | None:
        try:
            user = person_with_state(User._meta.pk.to_python(user_id))
        except ValidationError:
            return None
        return user if user is not None and self.user_can_authenticate(user) else None


class PortalMFAAdapter(DefaultMFAAdapter):
    """allauth's MFA adapter, answering "has this person a second factor?" from the request's user row when
    it was loaded with it. Asked about particular kinds of factor, it asks the database as allauth does.

    Its refusal of a code also says what a person can do: allauth refuses a code already used once (signing
    in on a second device within the same 30 seconds) with the same words as a mistyped one."""

    error_messages = {
        **DefaultMFAAdapter.error_messages,
        "incorrect_code": (
            "Incorrect code. Enter the code your authenticator app shows now. Each code works only once: if you "
            "have just used this one, wait for the app to show the next."
        ),
    }

    def is_mfa_enabled(self, user: Any, types: Any = None) -> bool:
        known = getattr(user, MFA_ENABLED, None)
        if types is None and known is not None and not user.is_anonymous:
            return bool(known)
        return super().is_mfa_enabled(user, types=types)
