"""Whatever is typed into a form, a query string or an upload header gets a message or a 4xx, never a 500."""

from __future__ import annotations

import ast
import copy
import inspect
import json
import operator
import re
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote_from_bytes, unquote, urljoin, urlsplit

import hypothesis
import lxml.html
import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.messages import constants as message_levels
from django.core.cache import cache
from django.core.management import call_command
from django.core.signals import got_request_exception
from django.db import connection, transaction
from django.test import Client, RequestFactory, override_settings
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve, reverse
from django.urls.converters import PathConverter, StringConverter
from django.utils import timezone
from hypothesis import HealthCheck, Phase, example, given
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from portal import roles
from tests.conftest import (
    IN_CI,
    PASSWORD,
    clear_vetting,
    enrol_totp,
    invite_and_apply,
    make_person,
    make_tasking,
    mfa_login,
    module_data,
    on_postgres,
    pass_module,
    require,
    screen,
)
from tests.integration.bundle_helpers import CHAT, PNG, make_ready, sign_schedules, submit_exhibit

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

# How it works. The URL resolver lists the pages: every named pattern outside the admin, and the admin's
# changelist, add and change pages (and its own extra views) for every registered ModelAdmin. Each page goes to
# the persona who uses it, signed in as in life (the privileged ones with their authenticator). One portal is
# built for the whole module; each persona's pages are opened once to collect their forms (lxml) and the query
# keys their links use. Then, for every page, Hypothesis sends GET requests with those keys (and the keys the
# view's code reads, and some nobody reads) and POSTs every form that targets it, starting with explicit probes
# (a NUL in each field, a word where a number is expected, every field very long). Each request is rolled back
# afterwards, with the persona's cookies and the cache, so every example starts from the same portal.

PROJECT = Path(__file__).resolve().parents[2]
CSRF_FIELD = "csrfmiddlewaretoken"

hypothesis.settings.register_profile(
    "no-server-errors-ci",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=3,
    print_blob=False,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],  # no "explain": a failing page is replayed enough
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.filter_too_much,
    ],
)
hypothesis.settings.register_profile(
    "no-server-errors-local",
    parent=hypothesis.settings.get_profile("no-server-errors-ci"),
    derandomize=False,  # each local run tries different input; CI tries the same every time
)
FUZZ = hypothesis.settings.get_profile("no-server-errors-ci" if IN_CI else "no-server-errors-local")


# --- who uses which page -----------------------------------------------------------------------------

VOLUNTEER, OFFICER, WELFARE, ADMINISTRATOR, COURT, SUPERUSER, VISITOR, DECONFLICTION = (
    "volunteer",
    "officer",
    "welfare",
    "administrator",
    "court",
    "superuser",
    "visitor",
    "deconfliction",
)
# The admin's people, in the order a page is given to the first whose role may use it (else the superuser).
ADMIN_ROLES = ((OFFICER, roles.OFFICER), (WELFARE, roles.WELFARE), (ADMINISTRATOR, roles.SCHEME_ADMIN))
# Everything outside the model admins, by URL name (first match wins).
PERSONA_BY_NAME = (
    (r"welfare_", WELFARE),
    (r"deconfliction_", DECONFLICTION),
    (r"bundle_(inbox|download|verify)$", COURT),
    (r"bundle_(status|retry|sensitive_download)$", OFFICER),
    (r"mfa_", OFFICER),
    (r"(staff_)?invitation_accept$|account_(login|signup|reset_password|confirm|inactive|email_verification)", VISITOR),
    (r"(healthz|accessibility|privacy|certificate_verify)$", VISITOR),
    (r"admin:login$", VISITOR),
    (r"admin:", OFFICER),
    (r"", VOLUNTEER),
)
# What cannot be fuzzed meaningfully, and why.
NOT_FUZZED = {
    "account_logout": "signs the person out, ending the session every other request here runs in",
    "admin:logout": "signs the person out, ending the session every other request here runs in",
    "mfa_remove_webauthn": "needs a registered security key, which only a browser's authenticator can make",
    "mfa_edit_webauthn": "needs a registered security key, which only a browser's authenticator can make",
}
# Pages whose plain address is refused until query parameters say what is wanted (they are fuzzed all the same).
NEEDS_QUERY = {"admin:autocomplete", "admin:view_on_site"}
# A JavaScript upload path that takes the same fields as a form, as URL-encoded JSON in a request header.
STREAMED_FORMS = {"exhibit_stream": "exhibit_upload"}


@dataclass(frozen=True)
class Page:
    persona: str
    route: str  # the resolver's route: how a form's action is matched to its page
    shown: str  # the route as people read it
    name: str
    pattern: URLPattern = field(compare=False, repr=False)
    model: Any = field(default=None, compare=False, repr=False)
    fuzzable_path: tuple[str, ...] = ()  # path parameters that take any text (str, path)

    @property
    def view(self) -> Callable:
        return self.pattern.callback


def _walk(patterns, prefix: str = "", namespace: str = "", model=None) -> Iterator[tuple[str, str, URLPattern, Any]]:
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = next(
                (
                    p.callback.model_admin.model
                    for p in entry.url_patterns
                    if isinstance(p, URLPattern) and hasattr(p.callback, "model_admin")
                ),
                model,
            )
            yield from _walk(entry.url_patterns, route, entry.namespace or namespace, inner)
        elif entry.name:
            yield route, f"{namespace}:{entry.name}" if namespace else entry.name, entry, model


def _shown(route: str) -> str:
    def param(match: re.Match) -> str:
        converter, name = match.group(1), match.group(2)
        return "<id>" if converter == "int" or name in {"object_id", "pk"} else f"<{name}>"

    route = re.sub(r"<(?:(\w+):)?(\w+)>", param, route)
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"<\1>", route)
    return "/" + route.replace("^", "").replace("$", "")


def _perm(model, action: str) -> str:
    return f"{model._meta.app_label}.{action}_{model._meta.model_name}"


class _RoleHolder:
    """Someone holding a role, to ask a ModelAdmin what it allows before there is a database."""

    is_active = is_staff = is_authenticated = True
    scheme_id = pk = id = 1

    def __init__(self, role: roles.Role | None) -> None:
        self.role, self.is_superuser = role, role is None

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return self.is_superuser or perm in self.role.admin_permissions


def _may_add(model, role: roles.Role | None) -> bool:
    holder = _RoleHolder(role)
    try:
        return bool(admin.site.get_model_admin(model).has_add_permission(type("Request", (), {"user": holder})()))
    except Exception:  # a ModelAdmin that asks the database: the role's permission decides
        return holder.has_perm(_perm(model, "add"))


def _admin_persona(model, url_name: str) -> str | None:
    if url_name.endswith("_add"):
        return next(
            (persona for persona, role in ADMIN_ROLES if _may_add(model, role)),
            SUPERUSER if _may_add(model, None) else None,
        )
    for action in ("change", "view"):
        for persona, role in ADMIN_ROLES:
            if _perm(model, action) in role.admin_permissions:
                return persona
    return SUPERUSER


def discover() -> list[Page]:
    pages = []
    for route, name, pattern, model in _walk(get_resolver().url_patterns):
        if name in NOT_FUZZED:
            continue
        if re.search(r"admin:\w+_permissions", name):
            persona = SUPERUSER  # the object-permission pages are for the platform's superusers only
        elif model is not None:
            if re.search(r"_(history|delete)$", name):
                continue  # a history page takes no input; nobody here may delete records (no such permission)
            persona = _admin_persona(model, name)
            if persona is None:
                continue  # nobody may add these (made elsewhere, by a service or a command)
        else:
            persona = next(p for rule, p in PERSONA_BY_NAME if re.match(rule, name))
        converters = getattr(pattern.pattern, "converters", {})
        fuzzable = tuple(k for k, c in converters.items() if isinstance(c, StringConverter | PathConverter))
        pages.append(Page(persona, route, _shown(route), name, pattern, model, fuzzable))
    return pages


PAGES = discover()


# --- names the views read -----------------------------------------------------------------------------


def names_read(view: Callable) -> dict[str, set[str]]:
    """The GET and POST keys and the request headers a view (and the helpers of its module it calls) reads."""
    found: dict[str, set[str]] = {"GET": set(), "POST": set(), "headers": set()}
    seen: set = set()

    def owner(node: ast.AST) -> str | None:
        return node.attr if isinstance(node, ast.Attribute) and node.attr in found else None

    def scan(func) -> None:
        if func in seen:
            return
        seen.add(func)
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
        except (OSError, TypeError, SyntaxError):
            return
        for node in ast.walk(tree):
            key = None
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
                if node.func.attr in {"get", "getlist"}:
                    key, where = node.args[0], owner(node.func.value)
            elif isinstance(node, ast.Subscript):
                key, where = node.slice, owner(node.value)
            elif isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.In | ast.NotIn):
                key, where = node.left, owner(node.comparators[0])
            if key is not None and where and isinstance(key, ast.Constant) and isinstance(key.value, str):
                found[where].add(key.value)
        module = inspect.getmodule(func)
        for name in getattr(getattr(func, "__code__", None), "co_names", ()):
            helper = getattr(module, name, None)
            if inspect.isfunction(helper) and helper.__module__ == getattr(module, "__name__", None):
                scan(inspect.unwrap(helper))

    if not hasattr(view, "model_admin"):  # the admin's own views are Django's; their keys are listed below
        scan(getattr(view, "view_class", None) or inspect.unwrap(view))
    return found


# Known query keys of this portal's pages and of the admin; sent to every page, with a few nobody reads.
KNOWN_QUERY = ("corrects", "show", "sort", "page", "q", "o", "p", "next", "all", "e", "_to_field", "_popup", "_facets")
UNKNOWN = ("zz", "id", "pk", "format", "\x00", "\ud800")


def admin_lookups(model) -> list[str]:
    names = []
    for f in model._meta.get_fields():
        if getattr(f, "concrete", False) or f.many_to_many:
            names += [f"{f.name}__exact", f"{f.name}__isnull", f"{f.name}__gte", f"{f.name}__in"]
            if f.is_relation:
                names.append(f"{f.name}__id__exact")
    return names


# --- what is typed ---------------------------------------------------------------------------------------

SPECIAL = (
    "\x00",
    "a\x00b",
    "\ud800",
    "\udfff",
    "\x01\x02\x1b\x7f",
    "\u202e\ufeff",
    "",
    " ",
    "0",
    "-1",
    "²",
    "1e999",
    "NaN",
    "9" * 30,
    "2025-02-30",
    "31/12/2025 25:61",
    "true",
    "null",
    "[]",
    "{}",
    '{"a": "\\u0000"}',
    '"\\ud800"',
    "%00",
    "\r\n",
)
LONG = st.builds(operator.mul, st.sampled_from(("x", "\x00", "é", "\ud800", "9")), st.integers(10_000, 60_000))
NASTY = st.one_of(
    st.sampled_from(SPECIAL),
    st.text(st.characters(exclude_categories=()), max_size=30),
    st.integers().map(str),
    st.floats().map(repr),
    LONG,
)
# Values a JSON body can hold where a form expects text.
JSON_NASTY = st.one_of(
    NASTY,
    st.integers(),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=1),
)
# A number, a date or a time: where a word is worth trying instead.
TYPED = re.compile(r"[\d\-: ./+T]+")
# JSON that parses but cannot be stored, or cannot be turned into a Python number.
JSON_PROBES = ('{"a": "\\u0000"}', '["\\ud800"]', "9" * 5000)
SUBMITS = {"submit", "image", "button", "reset"}
FILES = (("shot.png", PNG), ("chat.txt", CHAT), ("empty.bin", b""), ("doc.pdf", b"%PDF-1.4\n%\xe2\xe3\n"))


def raw(text: str) -> bytes:
    """The bytes a client may send for this text, lone surrogates included."""
    return text.encode("utf-8", "surrogatepass")


def percent(text: str) -> str:
    return quote_from_bytes(raw(text), safe="")


def _short(value: Any) -> str:
    if isinstance(value, str) and len(value) > 60:
        if value == value[0] * len(value):
            return f"{value[0]!r} * {len(value)}"
        return f"{value[:30]!r}… ({len(value)} characters)"
    return repr(value)


@dataclass(frozen=True)
class Submission:
    """One request's input: fields (repeated keys allowed), files, headers, path parameters, raw body."""

    fields: tuple[tuple[str, str], ...] = ()
    files: tuple[tuple[str, str, bytes], ...] = ()
    headers: tuple[tuple[str, Any], ...] = ()
    path: tuple[tuple[str, str], ...] = ()
    multipart: bool = False
    body: bytes = b""

    def __repr__(self) -> str:
        parts = []
        headers = tuple((name, unquote(value)) for name, value in self.headers)  # shown as the view reads them
        for label, pairs in (("fields", self.fields), ("headers", headers), ("path", self.path)):
            if pairs:
                parts.append(f"{label}={{" + ", ".join(f"{k!r}: {_short(v)}" for k, v in pairs) + "}")
        if self.files:
            parts.append("files=[" + ", ".join(f"{k!r}: {_short(n)} ({len(c)} bytes)" for k, n, c in self.files) + "]")
        if self.multipart:
            parts.append("multipart")
        if self.body:
            parts.append(f"body={len(self.body)} bytes")
        return "Submission(" + ", ".join(parts) + ")"

    def _repr_pretty_(self, printer, cycle: bool) -> None:  # how Hypothesis shows a falsifying example
        printer.text(repr(self))


def urlencoded(pairs) -> str:
    return "&".join(f"{percent(k)}={percent(v)}" for k, v in pairs)


def multipart(pairs, files, boundary: str) -> bytes:
    def quoted(text: str) -> bytes:  # as browsers write a name in a part's header
        return raw(text).replace(b'"', b"%22").replace(b"\r", b"%0D").replace(b"\n", b"%0A")

    out = []
    for name, value in pairs:
        out += [
            f"--{boundary}".encode(),
            b'Content-Disposition: form-data; name="' + quoted(name) + b'"',
            b"",
            raw(value),
        ]
    for name, filename, content in files:
        out += [
            f"--{boundary}".encode(),
            b'Content-Disposition: form-data; name="' + quoted(name) + b'"; filename="' + quoted(filename) + b'"',
            b"Content-Type: application/octet-stream",
            b"",
            content,
        ]
    return b"\r\n".join([*out, f"--{boundary}--".encode(), b""])


# --- forms on the pages ------------------------------------------------------------------------------------


@dataclass
class Field:
    name: str
    kind: str
    hint: str
    options: list[str] = field(default_factory=list)
    defaults: list[str] = field(default_factory=list)


@dataclass
class Form:
    action: str
    multipart: bool
    fields: list[Field]

    @property
    def signature(self) -> tuple:
        return self.action, tuple(f.name for f in self.fields)


FILLERS = (
    (r"vdatefield|type=date\b|date", "2025-01-02"),
    (r"vtimefield|type=time\b", "10:00"),
    (r"datetime|_at\b", "2025-01-02 10:00"),
    (r"email|login", "probe@example.com"),
    (r"password", PASSWORD),
    (r"type=number|minutes|months|days|years|count|order|mark|level|version", "5"),
    (r"phone|tel\b", "07700 900123"),
    (r"url", "https://example.com/chat"),
    (r"code", "123456"),
)


def filler(hint: str) -> str:
    return next((value for rule, value in FILLERS if re.search(rule, hint)), "Probe text.")


def parse_forms(html: bytes, page_url: str) -> tuple[list[Form], dict[str, dict[str, set[str]]]]:
    """The page's POST forms, and the query keys (with the values seen) of its GET forms and links, by target."""
    document = lxml.html.document_fromstring(html)
    forms, queries = [], {}

    def note_query(url: str, pairs) -> None:
        seen = queries.setdefault(urljoin(page_url, url).split("?")[0], {})
        for key, value in pairs:
            seen.setdefault(key, set()).add(value)

    for link in document.iter("a"):
        href = link.get("href") or ""
        if "?" in href:
            note_query(href, parse_qsl(urlsplit(href).query, keep_blank_values=True))
    for form in document.forms:
        fields: dict[str, Field] = {}
        submits = 0
        for element in form.iter("input", "select", "textarea", "button"):
            name = element.get("name")
            if not name:
                continue
            kind = (element.get("type") or ("submit" if element.tag == "button" else element.tag)).lower()
            kind = "select" if element.tag == "select" else "textarea" if element.tag == "textarea" else kind
            hint = f"type={kind} {name} {element.get('id', '')} {element.get('class', '')}".lower()
            entry = fields.setdefault(name, Field(name, kind, hint))
            if kind in SUBMITS:
                submits += 1
                if submits == 1:  # a browser sends the button clicked: the first
                    entry.defaults.append(element.get("value", ""))
                entry.options.append(element.get("value", ""))
            elif kind in {"checkbox", "radio"}:
                entry.options.append(element.get("value", "on"))
                if element.get("checked") is not None:
                    entry.defaults.append(element.get("value", "on"))
            elif kind == "select":
                for option in element.iter("option"):
                    value = option.get("value", option.text_content())
                    entry.options.append(value)
                    if option.get("selected") is not None:
                        entry.defaults.append(value)
            elif kind == "textarea":  # a browser drops the newline that may follow <textarea>
                entry.defaults.append(element.text_content().removeprefix("\n"))
            elif kind != "file":
                entry.defaults.append(element.get("value", ""))
        action = urljoin(page_url, form.get("action") or page_url)
        if (form.get("method") or "get").lower() == "get":
            note_query(action, [(f.name, v) for f in fields.values() for v in f.defaults or [""]])
        else:
            multi = (form.get("enctype") or "").lower() == "multipart/form-data"
            forms.append(Form(action, multi, list(fields.values())))
    return forms, queries


def route_of(url: str) -> str | None:
    try:
        return resolve(urlsplit(url).path).route
    except Resolver404:
        return None


def baseline(f: Field, token: str) -> list[str]:
    """What a person filling the form in sensibly sends for this field."""
    if f.name == CSRF_FIELD:
        return [token]
    if f.kind in {"checkbox", "radio"}:
        return f.defaults or f.options[:1]
    if f.kind == "select":
        return [v for v in f.defaults if v] or [v for v in f.options if v][:1] or f.defaults[:1]
    if f.kind in SUBMITS:
        return f.defaults
    if f.kind == "file":
        return []
    return [v for v in f.defaults if v] or [filler(f.hint)]


def plausible(f: Field, token: str) -> list[str]:
    return list(dict.fromkeys([*baseline(f, token), *f.options, *f.defaults])) or [filler(f.hint)]


# --- the portal as it stands when people use it ---------------------------------------------------------


@dataclass
class Crawl:
    forms: dict[str, list[Form]]
    queries: dict[str, dict[str, set[str]]]
    answers: dict[str, Any]  # route → the first response to opening the page (redirects not followed)


class ServerError(AssertionError):
    """A request the portal answered with a server error (500), or an exception that escaped a view."""


class PartialRecord(AssertionError):
    """A request the portal refused that left rows behind all the same."""


@dataclass
class World:
    folder: Path
    users: dict[str, Any]
    clients: dict[str, Client]
    path_values: dict[str, str]
    path_values_by_view: dict[tuple[str, str], str]
    preferred: dict[Any, Any]
    counted: list[Any]
    crawls: dict[str, Crawl] = field(default_factory=dict)
    escaped: list[BaseException] = field(default_factory=list)
    path_kwargs: dict[Page, dict[str, str]] = field(default_factory=dict)

    def record_exception(self, sender=None, **kwargs) -> None:
        error = sys.exc_info()[1]
        if error is not None:
            self.escaped.append(error)

    def token(self, persona: str) -> str:
        return self.clients[persona].cookies["csrftoken"].value

    def counts(self) -> dict[str, int]:
        quote = connection.ops.quote_name
        # Table names come from the models, quoted: nothing typed reaches this statement.
        selects = ", ".join(f"(SELECT COUNT(*) FROM {quote(m._meta.db_table)})" for m in self.counted)  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {selects}")
            row = cursor.fetchone()
        return {m._meta.label: n for m, n in zip(self.counted, row, strict=True)}

    def admin_object(self, page: Page) -> Any:
        user = self.users[page.persona]
        request = RequestFactory().get("/admin/")
        request.user = user
        visible = admin.site.get_model_admin(page.model).get_queryset(request)
        chosen = self.preferred.get(page.model)
        if chosen is not None and visible.filter(pk=chosen.pk).exists():
            return chosen
        found = visible.order_by("pk").first()
        assert found is not None, f"nothing the {page.persona} may see in {page.model._meta.label}: add one"
        return found

    def url(self, page: Page, overrides: dict[str, str] | None = None) -> str:
        """The page's address for real objects of the right kind; `overrides` put any text in some parameters."""
        if page not in self.path_kwargs:
            kwargs = {}
            for name in page.pattern.pattern.regex.groupindex:
                if (page.name, name) in self.path_values_by_view:
                    kwargs[name] = self.path_values_by_view[page.name, name]
                elif page.model is not None and name in {"object_id", "object_pk", "pk"}:
                    kwargs[name] = str(self.admin_object(page).pk)
                else:
                    kwargs[name] = self.path_values[name]
            self.path_kwargs[page] = kwargs
        kwargs = self.path_kwargs[page]
        marks = {name: f"FUZZED{index}PARAMETER" for index, name in enumerate(overrides or {})}
        url = reverse(page.name, kwargs={**kwargs, **marks})
        for name, value in (overrides or {}).items():
            url = url.replace(marks[name], percent(value))
        return url

    def exchange(self, page: Page, method: str, url: str, submission: Submission, *, token: str = "") -> Any:
        """Send one request as the page's persona; the database, the cookies and the cache are put back after.
        Fails on a server error, and on a refusal that leaves rows behind."""
        client = self.clients[page.persona]
        cookies = copy.deepcopy(client.cookies)
        cache.clear()
        extra = {}
        for name, value in submission.headers:
            extra["HTTP_" + name.upper().replace("-", "_")] = value
        query, body, content_type = "", b"", "application/octet-stream"
        pairs = [(CSRF_FIELD, token)] if token else []
        pairs += list(submission.fields)
        if method == "GET":
            query = urlencoded(submission.fields)
        elif submission.body or not (pairs or submission.files):
            body = submission.body
            if token:
                extra["HTTP_X_CSRFTOKEN"] = token
        elif submission.multipart or submission.files:
            boundary = "BoUnDaRy7f3a9c1e0b"
            body, content_type = (
                multipart(pairs, submission.files, boundary),
                f"multipart/form-data; boundary={boundary}",
            )
        else:
            body, content_type = urlencoded(pairs).encode("ascii"), "application/x-www-form-urlencoded"
        target = url + ("&" if "?" in url else "?") + query if query else url
        self.escaped.clear()
        try:
            with transaction.atomic():
                before = self.counts()
                try:
                    response = client.generic(method, target, body, content_type=content_type, **extra)
                except Exception as escaped:
                    root = self.escaped[0] if self.escaped else escaped
                    raise ServerError(self.describe(page, method, root)) from root
                drain(response)
                if response.status_code == 500:
                    raise ServerError(f"{page.persona} {method} {page.shown}: answered 500")
                if refused(response, method):
                    after = self.counts()
                    changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
                    if changed:
                        raise PartialRecord(
                            f"{page.persona} {method} {page.shown} was refused ({response.status_code}) but rows "
                            f"changed: {changed}"
                        )
                transaction.set_rollback(True)
        finally:
            client.cookies = cookies
        return response

    @staticmethod
    def describe(page: Page, method: str, error: BaseException) -> str:
        """The error and where it was raised: the deepest line of the portal's own code in its traceback (or,
        when none, of the framework's application code: the admin, allauth, guardian)."""
        ours = theirs = deepest = None
        for frame, line in traceback_frames(error):
            path = Path(frame.f_code.co_filename).resolve()
            where = f"{{}}:{line} in {frame.f_code.co_name}"
            if path.is_relative_to(PROJECT) and not {".venv", "tests"} & set(path.parts):
                ours = where.format(path.relative_to(PROJECT))
            elif re.search(r"/(django/contrib|allauth|guardian)/", str(path)):
                theirs = where.format(str(path).split("site-packages/")[-1])
            deepest = where.format(str(path).split("site-packages/")[-1])
        found = ours or theirs or deepest
        return f"{page.persona} {method} {page.shown}: {type(error).__name__} raised at {found}: {str(error)[:200]}"


def traceback_frames(error: BaseException):
    tb = error.__traceback__
    while tb is not None:
        yield tb.tb_frame, tb.tb_lineno
        tb = tb.tb_next


def drain(response) -> bytes:
    """Read the body to the end, as a WSGI server does: a file response closed unread would end the test's
    database connection, as at the end of a real request."""
    return b"".join(response.streaming_content) if response.streaming else response.content


def refused(response, method: str) -> bool:
    """A 4xx, a form shown again (with its errors) in answer to a POST, or a redirect carrying an error."""
    if response.status_code >= 400:
        return True
    if method == "POST" and response.status_code == 200 and not response.streaming:
        return "text/html" in response.get("Content-Type", "") and b"<form" in response.content
    storage = getattr(response.wsgi_request, "_messages", None)
    return any(m.level >= message_levels.ERROR for m in getattr(storage, "_queued_messages", []))


def build_world(folder: Path) -> World:
    from allauth.account.forms import default_token_generator
    from allauth.account.models import EmailAddress
    from allauth.account.utils import user_pk_to_url_str
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
    from django.contrib.contenttypes.models import ContentType

    from evidence import bundles, services
    from evidence.models import BundleAccess, Exhibit, Statement, Tasking
    from evidence.statements import statement_save_draft
    from portal.models import Job, Scheme, User
    from training import services as training
    from training.models import Certificate
    from volunteers import services as volunteering
    from volunteers.models import SchemeVolunteerSettings, StandDown, Volunteer

    lantern = Scheme.objects.create(name="Lantern Partnership", code="lantern")
    owen = make_person("owen@lantern.example", roles.OFFICER, lantern)
    wendy = make_person("wendy@lantern.example", roles.WELFARE, lantern)
    ada = make_person("ada@lantern.example", roles.SCHEME_ADMIN, lantern)
    carla = make_person("carla@court.example", roles.COURT, None)
    root = make_person("root@platform.example", None)
    volunteering.conduct_publish(title="Volunteer code of conduct", text="Never confront.", by=None)

    # Vera: deployable and assigned; her exhibits, a signed statement and a draft; a bundle shared with Carla.
    vera = invite_and_apply(lantern, owen, "vera.d@lantern.example", "Vera Deploy")
    clear_vetting(vera, owen)
    screen(vera.user, wendy)
    vera.refresh_from_db()
    vera = volunteering.volunteer_transition(volunteer=vera, to="accredited", by=owen, reason="All checks complete.")
    tasking = make_tasking(lantern, owen)
    services.tasking_assign(tasking=tasking, volunteer=vera.user, by=owen)
    make_ready(tasking, vera.user, owen, folder)
    signed = Statement.objects.get(tasking=tasking, state=Statement.State.SIGNED)
    call_command("create_signing_key", "--force")
    sign_schedules(tasking, owen)
    bundle = bundles.bundle_build(bundles.bundle_request(tasking=tasking, by=owen))
    services.bundle_share(bundle=bundle, recipient=carla, until=timezone.now() + timedelta(days=30), by=owen)
    exhibit = Exhibit.objects.filter(tasking=tasking).order_by("sequence").first()
    draft = statement_save_draft(tasking=tasking, author=vera.user, body="I am a volunteer.", exhibit_ids=[exhibit.pk])
    awaiting = submit_exhibit(vera.user, tasking, folder, "later.txt", CHAT, "text/plain")
    unused = submit_exhibit(vera.user, tasking, folder, "aside.txt", CHAT, "text/plain")
    services.exhibit_review(exhibit=unused, decision="unused", reason="", by=owen, schedule="MG6C")
    services.note_add(tasking=tasking, author=vera.user, text="14:02 contact made.")
    services.safeguarding_raise(tasking=tasking, by=vera.user, note="A child may be at risk.")

    # Training: one module passed (a certificate), one attempt under way, a reset.
    passed = pass_module(vera.user, training.module_publish(data=module_data("safety-basics")))
    started = training.attempt_start(
        user=vera.user, module=training.module_publish(data=module_data("evidence-handling", mandatory=False)).module
    )
    training.attempts_reset(user=vera.user, module=passed.version.module, by=owen, reason="Asked for another go.")

    # Welfare: Sam, an applicant, stood down twice over (by Wendy, and by his exposure) with a request open.
    sam = invite_and_apply(lantern, owen, "sam@lantern.example", "Sam Second")
    stand_down = volunteering.stand_down_place(person=sam.user, detail="Rest.", by=wendy)
    volunteering.exposure_record(person=sam.user, minutes=700, source="Chat review", by=wendy)
    volunteering.adverse_information_report(volunteer=sam, summary="Reported by a colleague.", by=owen)
    volunteering.integrity_review_record(volunteer=vera, notes="No concerns.", by=owen)
    SchemeVolunteerSettings.objects.get_or_create(scheme=lantern)
    Job.objects.create(kind="evidence.bundle", scheme=lantern, state="failed", last_error="The broker was down.")
    _, token = volunteering.invitation_create(scheme=lantern, email="ivy@lantern.example", full_name="Ivy", by=owen)
    # Nina, an officer Ada has invited, who has not yet chosen her password.
    from portal.accounts import staff_invitation_create, user_set_roles

    nina = User.objects.create_user(email="nina@lantern.example", full_name="Nina", scheme=lantern)
    user_set_roles(user=nina, role_codes=[roles.OFFICER.code], by=ada)
    _, staff_token = staff_invitation_create(user=nina, by=ada)
    for person in User.objects.all():
        EmailAddress.objects.get_or_create(user=person, email=person.email, defaults={"primary": True})

    BundleAccess.objects.create(bundle=bundle, user=carla, ip="127.0.0.1")
    from evidence.models import ResumableUpload  # Vera's upload in progress (resumable protocol)

    resumable = ResumableUpload.objects.create(
        user=vera.user, tasking=tasking, length=4096, name="chat.txt", expires_at=timezone.now() + timedelta(days=1)
    )

    # A deconfliction match: another tasking of Owen's and one of another scheme engage the same account.
    from evidence.deconfliction.identifiers import identify
    from evidence.deconfliction.services import identifiers_record

    harbour = Scheme.objects.create(name="Harbour Partnership", code="harbour")
    otto = make_person("otto@harbour.example", roles.OFFICER, harbour)
    matched = make_tasking(lantern, owen, reference="OP-MATCHED")
    for each, by in ((matched, owen), (make_tasking(harbour, otto, reference="OP-HARBOUR"), otto)):
        identifiers_record(tasking=each, identifiers=[identify("kestrel_9", "Kik")], source="officer", by=by)
    match = matched.deconfliction_matches.get()
    # Dora keeps Northshire's register; one of its entries meets that tasking too.
    from evidence.deconfliction.register import register_entry_add
    from portal.models import Force

    northshire = Force.objects.create(name="Northshire Police")
    dora = make_person("dora@northshire.example", roles.DECONFLICTION, force=northshire)
    entry, register_matches = register_entry_add(
        force=northshire,
        identifier=identify("kestrel_9", "Kik"),
        reference="NS-1",
        owner=dora,
        expires_on=timezone.localdate() + timedelta(days=30),
        review_on=timezone.localdate() + timedelta(days=10),
        by=dora,
    )
    register_match = next(each for each in register_matches if each.tasking_id == matched.pk)
    from evidence.deconfliction.partners import partner_add

    partner_add(name="Harbour installation", certificate=(folder / "cert.pem").read_text(), by=root)
    # Retention: the case's outcome, a legal hold standing on the tasking, and the scheme's own periods.
    from retention.models import SchemeRetention
    from retention.services import hold_place, outcome_record

    outcome_record(tasking=tasking, by=owen, outcome="charged", decided_on=timezone.localdate())
    hold_place(target=tasking, kind="appeal", reason="Appeal lodged.", review_on=timezone.localdate(), by=owen)
    SchemeRetention.objects.create(scheme=lantern, vetting_years=10)
    # Disposal: a proposal awaiting approval, and a tombstone (rows as the disposal writes them: the case here
    # is charged and held, so no disposal could run).
    from retention.models import DisposalProposal, Tombstone

    DisposalProposal.objects.create(
        exhibit=exhibit, reason="Past its date.", rule="case_nfa", earliest=timezone.localdate(), proposed_by=owen
    )
    decided = DisposalProposal.objects.create(
        exhibit=unused,
        reason="Past its date.",
        rule="case_nfa",
        earliest=timezone.localdate(),
        proposed_by=owen,
        state="approved",
        decided_by=owen,
        decided_at=timezone.now(),
    )
    tombstone = Tombstone.objects.create(
        exhibit=unused,
        proposal=decided,
        reference=unused.reference,
        tasking_reference=tasking.reference,
        sha256=unused.sha256,
        size=unused.size,
        what="The stored content.",
        proposed_by=owen,
        approved_by=owen,
        rule="case_nfa",
        rule_reason="No further action.",
        legal_source="CPIA Code 5.7",
        earliest=timezone.localdate(),
    )
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from retention.models import DisposalCertificate

    DisposalCertificate.objects.create(  # the tombstone's page links to its signed certificate
        tombstone=tombstone,
        pdf_name=default_storage.save("disposal-certificates/walk.pdf", ContentFile(b"%PDF-1.7 certificate")),
        pdf_sha256="0" * 64,
        page_count=1,
        signed_by="AA:BB",
    )
    # Disposal of people's records: a proposal for Vera's vetting records awaiting approval, and a tombstone of
    # her training records with its certificate (rows as the disposal writes them: Vera has not left).
    from retention.models import PersonDisposalProposal, PersonTombstone

    PersonDisposalProposal.objects.create(
        scheme=lantern,
        person=vera.user,
        kind="vetting",
        reason="Past its date.",
        rule="vetting_after_leaving",
        earliest=timezone.localdate(),
        proposed_by=owen,
    )
    person_decided = PersonDisposalProposal.objects.create(
        scheme=lantern,
        person=vera.user,
        kind="training",
        reason="Past its date.",
        rule="training_after_leaving",
        earliest=timezone.localdate(),
        proposed_by=owen,
        state="approved",
        decided_by=owen,
        decided_at=timezone.now(),
    )
    person_tombstone = PersonTombstone.objects.create(
        scheme=lantern,
        person=vera.user,
        proposal=person_decided,
        kind="training",
        person_name=vera.user.get_full_name(),
        person_email=vera.user.email,
        counts={"training.Attempt": 1},
        what="The training records.",
        proposed_by=owen,
        approved_by=owen,
        rule="training_after_leaving",
        rule_reason="6 years after leaving.",
        legal_source="UK GDPR Art. 5(1)(e)",
        earliest=timezone.localdate(),
        left_on=timezone.localdate(),
    )
    # The welfare officers' own: a proposal for Vera's welfare records, and a tombstone of them.
    PersonDisposalProposal.objects.create(
        scheme=lantern,
        person=vera.user,
        kind="welfare",
        reason="Past its date.",
        rule="welfare_after_leaving",
        earliest=timezone.localdate(),
        proposed_by=wendy,
    )
    PersonTombstone.objects.create(
        scheme=lantern,
        person=vera.user,
        proposal=PersonDisposalProposal.objects.create(
            scheme=lantern,
            person=vera.user,
            kind="welfare",
            reason="Past its date.",
            rule="welfare_after_leaving",
            earliest=timezone.localdate(),
            proposed_by=wendy,
            state="approved",
            decided_by=wendy,
            decided_at=timezone.now(),
        ),
        kind="welfare",
        person_name=vera.user.get_full_name(),
        person_email=vera.user.email,
        counts={"volunteers.ScreeningRecord": 1},
        what="The welfare records.",
        proposed_by=wendy,
        approved_by=wendy,
        rule="welfare_after_leaving",
        rule_reason="6 years after leaving.",
        legal_source="UK GDPR Art. 9",
        earliest=timezone.localdate(),
        left_on=timezone.localdate(),
    )
    DisposalCertificate.objects.create(
        person_tombstone=person_tombstone,
        pdf_name=default_storage.save("disposal-certificates/walk-person.pdf", ContentFile(b"%PDF-1.7 person")),
        pdf_sha256="1" * 64,
        page_count=1,
        signed_by="AA:BB",
    )

    users = {
        VOLUNTEER: vera.user,
        OFFICER: owen,
        WELFARE: wendy,
        ADMINISTRATOR: ada,
        COURT: carla,
        SUPERUSER: root,
        DECONFLICTION: dora,
    }
    clients = {persona: Client() for persona in [*users, VISITOR]}
    response = clients[VOLUNTEER].post("/accounts/login/", {"login": vera.user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content[:500]
    for persona in (OFFICER, WELFARE, ADMINISTRATOR, COURT, SUPERUSER, DECONFLICTION):
        secret = enrol_totp(users[persona])
        RecoveryCodes.activate(users[persona])
        mfa_login(clients[persona], users[persona], secret)
    clients[VISITOR].get("/accounts/login/")
    users[VISITOR] = None
    for persona, client in clients.items():
        assert "csrftoken" in client.cookies, f"the {persona} has no CSRF cookie to send forms with"
        client.handler.enforce_csrf_checks = True  # forms carry their token, as in a browser

    counted = [
        model
        for label in ("evidence", "volunteers", "training", "retention")
        for model in apps.get_app_config(label).get_models(include_auto_created=True)
    ]
    counted.append(User)
    return World(
        folder=folder,
        users=users,
        clients=clients,
        path_values={
            "tasking_id": str(tasking.pk),
            "statement_id": str(draft.pk),
            "exhibit_id": str(exhibit.pk),
            "bundle_id": str(bundle.pk),
            "person_id": str(sam.user.pk),
            "stand_down_id": str(stand_down.pk),
            "attempt_id": str(started.pk),
            "code": Certificate.objects.get(attempt=passed).code,
            "slug": started.version.module.slug,
            "token": token,
            "key": "no-such-key",
            "uidb36": user_pk_to_url_str(vera.user),
            "app_label": "evidence",
            "content_type_id": str(ContentType.objects.get_for_model(Tasking).pk),
            "object_id": str(tasking.pk),
            "user_id": str(vera.user.pk),
            "group_id": str(vera.user.groups.first().pk),
            "schedule": "MG6D",
            "upload_id": str(resumable.pk),
            "match_id": str(match.pk),
            "entry_id": str(entry.pk),
            "target": "tasking",
            "target_id": str(tasking.pk),
            "kind": "training",
        },
        path_values_by_view={
            ("statement_pdf", "statement_id"): str(signed.pk),
            ("training_result", "attempt_id"): str(passed.pk),
            ("account_reset_password_from_key", "key"): default_token_generator.make_token(vera.user),
            ("staff_invitation_accept", "token"): staff_token,
            ("admin:evidence_tasking_deconfliction", "object_id"): str(matched.pk),
            ("deconfliction_match", "match_id"): str(register_match.pk),
        },
        preferred={Exhibit: awaiting, Volunteer: vera, Tasking: tasking, StandDown: stand_down},
        counted=counted,
    )


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[World]:
    """One portal for the whole module (built once, rolled back at the end); every request is rolled back too."""
    require(on_postgres(), "this test needs PostgreSQL: set DATABASE_URL=postgresql://…")
    folder = tmp_path_factory.mktemp("no-server-errors")
    overrides = override_settings(
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        STORAGES=storages(folder),
        PORTAL_SIGNING_KEY_PATH=str(folder / "key.pem"),
        PORTAL_SIGNING_CERT_PATH=str(folder / "cert.pem"),
        PORTAL_UPLOAD_TEMP_DIR=str(folder),
    )
    with overrides, pytest.MonkeyPatch.context() as patch, django_db_blocker.unblock(), transaction.atomic():
        # The test client keeps a copy of every template context it renders; nothing here reads them, and
        # copying the admin's contexts is most of the time these thousands of requests would take.
        patch.setattr("django.test.client.store_rendered_templates", lambda *args, **kwargs: None)
        set_hypothesis_home_dir(folder / "hypothesis")  # its caches too stay out of the working tree
        built = build_world(folder)
        got_request_exception.connect(built.record_exception, dispatch_uid="no-server-errors", weak=False)
        try:
            yield built
        finally:
            got_request_exception.disconnect(dispatch_uid="no-server-errors")
            set_hypothesis_home_dir(None)
            transaction.set_rollback(True)


def storages(folder: Path) -> dict:
    from django.conf import settings

    location = {"location": str(folder / "storage")}
    return {
        **settings.STORAGES,
        "default": {"BACKEND": "portal.encrypted_storage.EncryptedFileSystemStorage", "OPTIONS": location},
    }


@pytest.fixture(autouse=True)
def _world_storage(_fast_and_isolated, settings, world):
    """The exhibits, statements and bundles of the shared portal stay readable in every test."""
    settings.STORAGES = storages(world.folder)


def crawl(world: World, persona: str) -> Crawl:
    """Every page of the persona, opened once: the forms on them and the query keys their links use."""
    if persona in world.crawls:
        return world.crawls[persona]
    forms: dict[str, list[Form]] = {}
    queries: dict[str, dict[str, set[str]]] = {}
    answers: dict[str, Any] = {}
    client = world.clients[persona]
    for page in PAGES:
        if page.persona != persona:
            continue
        cookies = copy.deepcopy(client.cookies)
        try:
            with transaction.atomic():
                response = client.get(world.url(page), follow=True)
                answers[page.route] = response.redirect_chain[0] if response.redirect_chain else response.status_code
                html = drain(response)
                final = response.wsgi_request.get_full_path()
                transaction.set_rollback(True)
        finally:
            client.cookies = cookies
        if "text/html" not in response.get("Content-Type", "") or not html.strip():
            continue
        found, linked = parse_forms(html, final)
        for form in found:
            route = route_of(form.action)
            known = forms.setdefault(route, [])
            if route and form.signature not in {f.signature for f in known}:
                known.append(form)
        for url, keys in linked.items():
            route = route_of(url)
            for key, values in keys.items():
                queries.setdefault(route, {}).setdefault(key, set()).update(values)
    world.crawls[persona] = Crawl(forms, queries, answers)
    return world.crawls[persona]


# --- the fuzzing ---------------------------------------------------------------------------------------------


def fuzz(strategy, probes: list[Submission], send: Callable[[Submission], None], *, reads_input: bool = True) -> None:
    """The probes, then (for input something reads) what Hypothesis makes of the strategy."""

    def run(submission: Submission) -> None:
        send(submission)

    for probe in reversed(probes):
        run = example(probe)(run)
    chosen = FUZZ if reads_input else hypothesis.settings(FUZZ, phases=[Phase.explicit])
    chosen(given(strategy)(run))()


# Sent where neither the view's code, a form nor a link names any input: the page must shrug it off.
JUNK = tuple((name, "x") for name in (*KNOWN_QUERY, *UNKNOWN))


def pairs_strategy(names: list[str], values: dict[str, list[str]]):
    def value_for(name: str):
        known = sorted(values.get(name, ()))
        return st.one_of(st.sampled_from(known), NASTY) if known else NASTY

    pair = st.sampled_from(names).flatmap(lambda name: st.tuples(st.just(name), value_for(name)))
    unknown = st.tuples(st.one_of(st.sampled_from(UNKNOWN), st.text(max_size=8)), NASTY)
    return st.lists(st.one_of(pair, unknown), max_size=5).map(tuple)


def fuzz_query(world: World, page: Page) -> None:
    found = crawl(world, page.persona)
    answer = found.answers[page.route]  # a status, or the first (location, status) of a redirect
    if page.name not in NEEDS_QUERY:
        assert answer not in {401, 403, 404}, f"the {page.persona} cannot open {world.url(page)}"
    if page.persona != VISITOR and isinstance(answer, tuple) and re.search(r"/login/|/2fa/", answer[0]):
        pytest.fail(f"the {page.persona} is sent to sign in from {world.url(page)}")
    seen = found.queries.get(page.route, {})
    read = names_read(page.view)
    probed = sorted(set(seen) | read["GET"])
    names = sorted(set(probed) | set(KNOWN_QUERY) | (set(admin_lookups(page.model)) if page.model else set()))
    values = {name: {v for v in vs if v} for name, vs in seen.items()}
    headers = sorted(read["headers"])
    probes = [Submission(((name, "\x00"),)) for name in probed]
    probes += [
        Submission(((name, "x"),)) for name in probed if not values.get(name) or any(map(TYPED.fullmatch, values[name]))
    ]
    probes += [Submission(path=((name, value),)) for name in page.fuzzable_path for value in ("\x00", "é")]
    probes += [Submission(headers=((name, percent("\x00")),)) for name in headers]
    reads_input = bool(probed or headers or page.fuzzable_path or page.model)
    if not reads_input:
        probes += [Submission(JUNK), Submission(tuple((name, "\x00") for name, _ in JUNK))]
    strategy = st.builds(
        Submission,
        fields=pairs_strategy(names, values),
        headers=st.lists(st.tuples(st.sampled_from(headers), NASTY.map(percent)), max_size=1).map(tuple)
        if headers
        else st.just(()),
        path=st.lists(st.tuples(st.sampled_from(page.fuzzable_path), NASTY), max_size=1, unique_by=lambda t: t[0]).map(
            tuple
        )
        if page.fuzzable_path
        else st.just(()),
    )

    def send(submission: Submission) -> None:
        world.exchange(page, "GET", world.url(page, dict(submission.path)), submission)

    fuzz(strategy, probes, send, reads_input=reads_input)


def form_strategy(form: Form, token: str, extra: list[str]):
    fuzzed = [f for f in form.fields if f.name != CSRF_FIELD and f.kind != "file"]

    def one(f: Field):
        return st.one_of(st.sampled_from(plausible(f, token)), NASTY)

    per_field = [
        st.one_of(one(f).map(lambda v: [v]), st.lists(one(f), max_size=3)).map(
            lambda vs, name=f.name: [(name, v) for v in vs]
        )
        for f in fuzzed
    ]
    extras = st.lists(st.tuples(st.one_of(st.sampled_from([*extra, *UNKNOWN]), st.text(max_size=8)), NASTY), max_size=2)
    files = [
        st.tuples(st.just(f.name), st.one_of(st.sampled_from([n for n, _ in FILES]), NASTY), st.sampled_from(FILES))
        for f in form.fields
        if f.kind == "file"
    ]
    return st.builds(
        lambda fields, more, parts, multi: Submission(
            fields=tuple(pair for chunk in fields for pair in chunk) + tuple(more),
            files=tuple((name, filename, content) for name, filename, (_, content) in parts) if multi else (),
            multipart=multi,
        ),
        st.tuples(*per_field),
        extras,
        st.tuples(*files),
        st.booleans() if form.multipart else st.just(False),  # a multipart form is also sent URL-encoded
    )


def form_probes(form: Form, token: str, extra: list[str]) -> list[Submission]:
    """Explicit examples: the form as a person fills it in; then each field in turn given a word where a number,
    a date or an id is expected and a NUL anywhere else (and JSON that cannot be stored where JSON is expected);
    every field very long. (A lone surrogate in a form body reaches a view as U+FFFD; in JSON it arrives whole.)"""
    fuzzed = [f for f in form.fields if f.name != CSRF_FIELD and f.kind != "file"]
    files = tuple((f.name, FILES[0][0], FILES[0][1]) for f in form.fields if f.kind == "file")

    def but(name: str | None = None, value: str = "", attached=files) -> Submission:
        fields = []
        for f in fuzzed:
            fields += [(f.name, value)] if f.name == name else [(f.name, v) for v in baseline(f, token)]
        if name is not None and name not in {f.name for f in fuzzed}:
            fields.append((name, value))
        return Submission(tuple(fields), attached, multipart=form.multipart)

    probes = [but()]
    for f in fuzzed:
        if f.kind in SUBMITS:
            continue  # which button was pressed: fuzzed with the rest, not one by one
        typed = (baseline(f, token) or [""])[0]
        probes.append(but(f.name, "x" if TYPED.fullmatch(typed) else "\x00"))
        if typed[:1] in {"{", "["}:
            probes += [but(f.name, value) for value in JSON_PROBES]
    for name in extra:
        probes += [but(name, "\x00"), but(name, "x")]
    if files:
        probes.append(but(attached=tuple((name, "a\x00b.png", content) for name, _, content in files)))
    if fuzzed:
        probes.append(Submission(tuple((f.name, "x" * 10_000) for f in fuzzed), files, multipart=form.multipart))
    return list(dict.fromkeys(probes))


def fuzz_stream(world: World, page: Page, form: Form, token: str, headers: set[str]) -> None:
    """The JavaScript upload: a tiny raw body, the form's fields as URL-encoded JSON in one header (the view's
    "…-Metadata") and the file's name in another (its "…-Name")."""
    meta_header = next(h for h in headers if h.lower().endswith("-metadata"))
    name_header = next(h for h in headers if h.lower().endswith("-name"))
    url = world.url(page)
    fuzzed = [f for f in form.fields if f.name != CSRF_FIELD and f.kind != "file"]
    good = {f.name: (baseline(f, token) or [""])[0] for f in fuzzed}

    def metadata(values: dict) -> str:
        return percent(json.dumps(values))

    def submission(meta: str, name: str, body: bytes) -> Submission:
        return Submission(headers=((meta_header, meta), (name_header, percent(name))), body=body or b" ")

    probes = [submission(metadata(good), "shot.png", PNG[:64])]
    for f in fuzzed:
        for bad in ("\x00", "\ud800", 5, ["x"]):  # and null, objects… in the generated examples
            probes.append(submission(metadata({**good, f.name: bad}), "shot.png", PNG[:64]))
    probes += [
        submission(metadata(good), name, PNG[:64]) for name in ("\x00", "a\x00b.png", "\ud800.png", "x" * 20_000)
    ]
    probes += [submission(meta, "shot.png", PNG[:64]) for meta in ("%7B", "%5B1%5D", "%ZZ", "null", percent("\x00"))]
    values = st.fixed_dictionaries(
        {f.name: st.one_of(st.sampled_from(plausible(f, token)), JSON_NASTY) for f in fuzzed}
    )
    strategy = st.builds(
        submission,
        st.one_of(values.map(metadata), NASTY.map(percent)),
        st.one_of(st.sampled_from(["shot.png", "chat.txt"]), NASTY),
        st.sampled_from([PNG[:64], CHAT, b"\x00", b"%PDF-1.4\n"]),
    )
    fuzz(strategy, probes, lambda s: world.exchange(page, "POST", url, s, token=token))


def fuzz_forms(world: World, page: Page) -> None:
    token = world.token(page.persona)
    found = crawl(world, page.persona)
    forms = found.forms.get(page.route, [])
    read = names_read(page.view)
    if page.name in STREAMED_FORMS:
        upload = next(p for p in PAGES if p.name == STREAMED_FORMS[page.name])
        assert found.forms.get(upload.route), f"no {upload.name} form on the {page.persona}'s pages"
        fuzz_stream(world, page, found.forms[upload.route][0], token, read["headers"])
        return
    formless = not forms
    if formless:  # no page shows a form for it: post what the view reads, as a script or a stale page would
        fields = [Field(name, "text", name) for name in sorted(read["POST"])]
        forms = [Form(world.url(page), False, fields)]
    reads_input = not formless or bool(read["POST"])
    failures = []
    for form in forms:
        extra = sorted(read["POST"] - {f.name for f in form.fields})
        probes = form_probes(form, token, extra) + ([] if reads_input else [Submission(JUNK)])
        try:
            fuzz(
                form_strategy(form, token, extra),
                probes,
                lambda s, form=form: world.exchange(page, "POST", form.action, s, token=token),
                reads_input=reads_input,
            )
        except Exception as failure:  # every form of the page is tried before reporting
            failures.append(failure)
    if len(failures) == 1:
        raise failures[0]
    if failures:
        raise ExceptionGroup(f"{len(failures)} forms posting to {page.shown} fail", failures)


CASES = [
    pytest.param(page, method, id=f"{page.persona}-{method}-{page.shown}")
    for page in PAGES
    for method in ("GET", "POST")
]


@pytest.mark.parametrize(("page", "method"), CASES)
def test_arbitrary_input_gets_a_message_or_a_refusal_never_a_server_error_or_half_a_record(world, page, method):
    if method == "GET":
        fuzz_query(world, page)
    else:
        fuzz_forms(world, page)
