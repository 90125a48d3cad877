"""Online identifiers reduced to one canonical form per kind, so one person's identifier matches however
it was written: by an officer setting up a tasking, by a volunteer naming an exhibit's other party, or by a
transcript parser naming a sender.

The rules (each has its tests in tests/unit/test_deconfliction_identifiers.py):

- **phone**: parsed by `phonenumbers` (Google's libphonenumber) and written in E.164 (`+447700900123`).
  A number written without its country code is read as a number of PORTAL_DECONFLICTION_REGION (GB).
  Spaces, dots, dashes, brackets, a `tel:` prefix and a `wa.me/` or `api.whatsapp.com` link are read
  through. A number that cannot exist in full (wrong length for its country) is refused; one that merely
  is not allocated yet is kept (the numbering metadata lags behind the operators).
- **email**: surrounding spaces and angle brackets and a `mailto:` prefix removed, Unicode NFKC, the whole
  address case-folded. (The standard leaves a mailbox's case to its host; every large provider ignores
  it, and a match here only prompts a call between owners, so a wider match is the safer error.)
- **handle**: an account name *on a platform*: the same name on two platforms is two identifiers. The
  platform's name is reduced to its canonical one (`Twitter` and `x.com` are `x`; an unknown platform's
  name is case-folded with its spaces collapsed); the handle is NFKC-normalised, case-folded, and loses a
  leading `@` or `u/`. A handle holding spaces or `/` is refused: it is a description, not a handle.
- **url**: a profile address on a known platform becomes that platform's handle
  (`https://www.instagram.com/Dave_77/` is the handle `dave_77` on `instagram`; `t.me/x` on `telegram`;
  `wa.me/447…` a phone). Any other address keeps its host, lower-cased (IDNA), and its path as written
  (a path may be case-sensitive); the scheme, `www.` (and a platform's `m.`), a default port, the query,
  the fragment and a trailing `/` are dropped.

`canonical(kind, value, platform)` gives an Identifier whose `key` ("kind:platform:value") is what the
blind index is computed over; `identify(text, platform)` works out the kind of a free-text identifier
(an exhibit's other party).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from urllib.parse import parse_qs, urlsplit

import phonenumbers
from django.conf import settings


class Kind(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    HANDLE = "handle"
    URL = "url"


KIND_LABELS = {
    Kind.PHONE: "Phone number",
    Kind.EMAIL: "E-mail address",
    Kind.HANDLE: "Account name on a platform",
    Kind.URL: "Profile web address",
}


class NotAnIdentifier(ValueError):
    """The text cannot be read as an identifier of that kind; the message says why, to the person who typed it."""


@dataclass(frozen=True)
class Platform:
    code: str
    name: str
    aliases: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    # Profile paths: a regular expression over the URL path whose group "handle" is the account name.
    profile: str = r"/(?P<handle>[^/]+)/?"


PLATFORMS = (
    Platform("x", "X (Twitter)", ("twitter", "x (twitter)", "twitter / x", "x / twitter"), ("x.com", "twitter.com")),
    Platform("instagram", "Instagram", ("insta", "ig"), ("instagram.com", "instagr.am")),
    Platform("facebook", "Facebook", ("fb", "messenger", "facebook messenger"), ("facebook.com", "fb.com")),
    Platform("tiktok", "TikTok", ("tik tok",), ("tiktok.com",), r"/@(?P<handle>[^/]+)/?"),
    Platform("snapchat", "Snapchat", ("snap",), ("snapchat.com",), r"/add/(?P<handle>[^/]+)/?"),
    Platform("telegram", "Telegram", (), ("t.me", "telegram.me")),
    Platform("reddit", "Reddit", (), ("reddit.com",), r"/(?:user|u)/(?P<handle>[^/]+)/?"),
    Platform("youtube", "YouTube", (), ("youtube.com",), r"/@(?P<handle>[^/]+)/?"),
    Platform("threads", "Threads", (), ("threads.net", "threads.com"), r"/@(?P<handle>[^/]+)/?"),
    Platform("discord", "Discord"),
    Platform("kik", "Kik", ("kik messenger",)),
    Platform("whatsapp", "WhatsApp", ("whats app",)),
)
_BY_NAME = {name: p for p in PLATFORMS for name in (p.code, p.name.casefold(), *p.aliases, *p.hosts)}
_BY_HOST = {host: p for p in PLATFORMS for host in p.hosts}
_WHATSAPP_HOSTS = {"wa.me", "api.whatsapp.com", "whatsapp.com"}
# Paths on a platform's own host that are not profiles (x.com/home, instagram.com/explore/...).
_NOT_PROFILES = {"home", "explore", "search", "i", "settings", "login", "messages", "notifications", "share"}


@dataclass(frozen=True)
class Identifier:
    kind: Kind
    value: str  # the canonical value: E.164, the case-folded address or handle, host and path
    platform: str = ""  # the canonical platform of a handle; empty for the other kinds

    @property
    def key(self) -> str:
        """What the blind index is computed over: one text per identifier, whoever wrote it and how."""
        return f"{self.kind}:{self.platform}:{self.value}"

    def __str__(self) -> str:
        if self.kind == Kind.HANDLE:
            return f"{self.value} on {platform_name(self.platform)}"
        return self.value


@lru_cache(maxsize=1024)  # a transcript names one platform thousands of times
def platform_code(name: str) -> str:
    """A platform's canonical name: a known one's code, or the name case-folded with spaces collapsed."""
    text = " ".join(unicodedata.normalize("NFKC", name).casefold().split())
    text = text.removeprefix("www.")
    known = _BY_NAME.get(text)
    return known.code if known else text


def platform_name(code: str) -> str:
    known = _BY_NAME.get(code)
    return known.name if known and known.code == code else code


def _text(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip()


def phone(value: str) -> Identifier:
    text = _text(value)
    text = re.sub(r"^(tel:|callto:)", "", text, flags=re.IGNORECASE)
    try:
        number = phonenumbers.parse(text, settings.PORTAL_DECONFLICTION_REGION)
    except phonenumbers.NumberParseException:
        raise NotAnIdentifier(f"'{value}' is not a phone number.") from None
    # Possible in full: a number that could only be dialled locally (without its area code) is not enough.
    if phonenumbers.is_possible_number_with_reason(number) != phonenumbers.ValidationResult.IS_POSSIBLE:
        raise NotAnIdentifier(
            f"'{value}' cannot be a phone number: it has the wrong number of digits for its country. Give it "
            "with its country code (for example +44 7700 900123)."
        )
    return Identifier(Kind.PHONE, phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def email(value: str) -> Identifier:
    text = _text(value).strip("<>").strip()
    text = re.sub(r"^mailto:", "", text, flags=re.IGNORECASE).split("?", 1)[0]
    text = text.casefold()
    local, at, domain = text.rpartition("@")
    if not at or not local or "." not in domain or any(ch.isspace() for ch in text):
        raise NotAnIdentifier(f"'{value}' is not an e-mail address (name@example.com).")
    return Identifier(Kind.EMAIL, f"{local}@{_host(domain, value)}")


_SPACE_OR_SLASH = re.compile(r"[\s/]")


def handle(value: str, platform: str) -> Identifier:
    code = platform_code(platform)
    if not code:
        raise NotAnIdentifier(f"Say which platform the account '{value}' is on.")
    text = _text(value).casefold()
    text = text.removeprefix("@").removeprefix("u/").removeprefix("/u/")
    if not text or _SPACE_OR_SLASH.search(text):
        raise NotAnIdentifier(
            f"'{value}' is not an account name: give the name alone (as it appears after @), or the profile's "
            "web address."
        )
    return Identifier(Kind.HANDLE, text, code)


def url(value: str) -> Identifier:
    text = _text(value)
    if not re.match(r"^[a-z][a-z0-9+.-]*://", text, flags=re.IGNORECASE):
        text = f"https://{text}"
    parts = urlsplit(text)
    host = _host(parts.hostname or "", value).removeprefix("www.")
    for mobile in ("m.", "mobile."):  # a platform's mobile site is the platform
        if host.startswith(mobile) and host.removeprefix(mobile) in _BY_HOST:
            host = host.removeprefix(mobile)
    path = parts.path or "/"
    if host in _WHATSAPP_HOSTS:
        digits = parse_qs(parts.query).get("phone", [""])[0] or path.strip("/")
        return phone(f"+{digits.lstrip('+')}")
    known = _BY_HOST.get(host)
    if known is not None:
        if known.code == "facebook" and path.rstrip("/") == "/profile.php":
            profile_id = parse_qs(parts.query).get("id", [""])[0]
            if profile_id:
                return handle(profile_id, "facebook")
        match = re.fullmatch(known.profile, path)
        if match and match.group("handle").casefold() not in _NOT_PROFILES:
            return handle(match.group("handle"), known.code)
    path = path.rstrip("/")
    port = f":{parts.port}" if parts.port not in {None, 80, 443} else ""
    return Identifier(Kind.URL, f"{host}{port}{path}")


def _host(host: str, original: str) -> str:
    text = host.strip().rstrip(".").casefold()
    if not text or "." not in text:
        raise NotAnIdentifier(f"'{original}' has no web address or mail domain the portal can read.")
    try:
        return text.encode("idna").decode("ascii")
    except UnicodeError:
        raise NotAnIdentifier(f"'{original}' has a domain name that cannot exist.") from None


def canonical(kind: Kind | str, value: str, platform: str = "") -> Identifier:
    """The identifier of that kind, in canonical form; NotAnIdentifier says why not."""
    kind = Kind(kind)
    if kind == Kind.PHONE:
        return phone(value)
    if kind == Kind.EMAIL:
        return email(value)
    if kind == Kind.HANDLE:
        return handle(value, platform)
    return url(value)


_PHONE_LIKE = re.compile(r"^(tel:)?\+?[\d\s().-]{7,}$", re.IGNORECASE)
_MAILTO = re.compile(r"^mailto:", re.IGNORECASE)
_EMAIL_LIKE = re.compile(r"[^@\s/]+@[^@\s/]+\.[^@\s/]+")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_HOST_AND_PATH = re.compile(r"^(www\.)?[a-z0-9-]+(\.[a-z0-9-]+)+/", re.IGNORECASE)


# An account name as chat exports write most senders: ASCII letters, digits, "_", "." and "-", after at most
# one "@", with at least one letter or "_". No rule below can read it as anything but an account name (no
# ":", "/", "@" inside, or space; not only digits and punctuation, so not a phone number), and the account
# name's rule only takes off the "@" and case-folds it (NFKC and case-folding of ASCII are lower()).
_PLAIN_HANDLE = re.compile(r"@?([0-9.\-]*[A-Za-z_][A-Za-z0-9_.\-]*)")


def identify(text: str, platform: str = "") -> Identifier:
    """A free-text identifier's kind, worked out from its form: an address with @ and a domain is an
    e-mail; one with a scheme, or a host and a path, a web address; digits, a phone number; anything else
    an account name on `platform`.

    A plain account name (most of a transcript's senders) is read without the general rules: the same
    result, tested against them (tests/unit/test_deconfliction_identifiers.py)."""
    plain = _PLAIN_HANDLE.fullmatch(text)
    if plain is not None:
        code = platform_code(platform)
        if code:
            return Identifier(Kind.HANDLE, plain[1].lower(), code)
    return identify_by_rules(text, platform)


def identify_by_rules(text: str, platform: str = "") -> Identifier:
    """identify() by the general rules alone, whatever the text's form."""
    value = _text(text)
    if _MAILTO.match(value) or _EMAIL_LIKE.fullmatch(value):
        return email(value)
    if _SCHEME.match(value) or _HOST_AND_PATH.match(value):
        return url(value)
    if _PHONE_LIKE.match(value):
        return phone(value)
    return handle(value, platform)
