"""The normalisation rules of evidence/deconfliction/identifiers.py, one group per kind: every way of
writing one person's identifier must reach the same canonical key, and different identifiers must not.
Then the blind index: the same key under the same deconfliction key, nothing in common otherwise."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st

from evidence.deconfliction.blind import blind_index, blind_indexes, blind_indexes_many
from evidence.deconfliction.identifiers import (
    _PLAIN_HANDLE,
    Identifier,
    Kind,
    NotAnIdentifier,
    canonical,
    identify,
    identify_by_rules,
    platform_code,
)


def _keys(*identifiers: Identifier) -> set[str]:
    return {identifier.key for identifier in identifiers}


FULL_WIDTH = "07700 900123".translate({ord(digit): 0xFF10 + int(digit) for digit in "0123456789"})


# --- phone: E.164 through phonenumbers; no country code means the configured region (GB) -----------------


@pytest.mark.parametrize(
    "written",
    [
        "+44 7700 900123",
        "07700 900123",
        "07700-900-123",
        "(07700) 900123",
        "0044 7700 900123",
        "+44 (0)7700 900123",
        "tel:+447700900123",
        FULL_WIDTH,  # full-width digits, as pasted from some apps (read through NFKC)
    ],
)
def test_a_uk_mobile_written_any_way_is_one_number(written):
    assert canonical(Kind.PHONE, written) == Identifier(Kind.PHONE, "+447700900123")


def test_a_number_is_read_in_its_own_country_when_it_says_so(settings):
    assert canonical(Kind.PHONE, "+1 (415) 555-0132").value == "+14155550132"
    settings.PORTAL_DECONFLICTION_REGION = "IE"
    assert canonical(Kind.PHONE, "087 123 4567").value == "+353871234567"


@pytest.mark.parametrize("written", ["12", "not a number", "+44 7700", "+44 7700 900123 456 789"])
def test_a_phone_number_that_cannot_exist_is_refused_with_the_reason(written):
    with pytest.raises(NotAnIdentifier, match="phone number"):
        canonical(Kind.PHONE, written)


# --- email: mailto and brackets removed, NFKC, case-folded whole ---------------------------------------


@pytest.mark.parametrize(
    "written", ["dave77@example.com", "Dave77@Example.COM", " <dave77@example.com> ", "mailto:DAVE77@example.com"]
)
def test_an_address_written_any_way_is_one_address(written):
    assert canonical(Kind.EMAIL, written) == Identifier(Kind.EMAIL, "dave77@example.com")


def test_an_international_domain_is_compared_in_its_ascii_form():
    assert canonical(Kind.EMAIL, "mia@bücher.example").value == "mia@xn--bcher-kva.example"
    assert canonical(Kind.EMAIL, "mia@xn--bcher-kva.example").value == "mia@xn--bcher-kva.example"


@pytest.mark.parametrize("written", ["dave77", "dave77@", "@example.com", "dave 77@example.com", "dave@localhost"])
def test_what_is_not_an_address_is_refused(written):
    with pytest.raises(NotAnIdentifier, match=r"e-mail address|mail domain"):
        canonical(Kind.EMAIL, written)


# --- handle: on a platform; platform aliases reduced; @ and u/ removed; case-folded ----------------------


@pytest.mark.parametrize(
    ("written", "platform"),
    [
        ("dave_77", "X"),
        ("@Dave_77", "Twitter"),
        ("DAVE_77", "x.com"),
        (" @dave_77 ", "twitter / x"),
    ],
)
def test_a_handle_written_any_way_on_one_platform_is_one_handle(written, platform):
    assert canonical(Kind.HANDLE, written, platform) == Identifier(Kind.HANDLE, "dave_77", "x")


def test_the_same_name_on_two_platforms_is_two_identifiers():
    assert canonical(Kind.HANDLE, "dave_77", "Instagram").key != canonical(Kind.HANDLE, "dave_77", "X").key


def test_an_unknown_platform_s_name_is_case_folded_with_its_spaces_collapsed():
    assert platform_code("  Platform   X ") == "platform x"
    assert canonical(Kind.HANDLE, "Dave_77", "PLATFORM X") == Identifier(Kind.HANDLE, "dave_77", "platform x")


def test_a_reddit_user_prefix_is_not_part_of_the_name():
    assert canonical(Kind.HANDLE, "u/Kestrel_9", "reddit") == Identifier(Kind.HANDLE, "kestrel_9", "reddit")


@pytest.mark.parametrize(("written", "platform"), [("dave 77", "X"), ("a/b", "X"), ("", "X"), ("dave_77", "")])
def test_a_description_is_not_a_handle(written, platform):
    with pytest.raises(NotAnIdentifier):
        canonical(Kind.HANDLE, written, platform)


# --- url: a known platform's profile is its handle; any other address keeps host and path -----------------


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("https://twitter.com/Dave_77", ("x", "dave_77")),
        ("http://mobile.twitter.com/dave_77/", ("x", "dave_77")),
        ("x.com/dave_77?ref=share#top", ("x", "dave_77")),
        ("https://www.instagram.com/Dave_77/", ("instagram", "dave_77")),
        ("https://www.tiktok.com/@dave_77", ("tiktok", "dave_77")),
        ("https://www.snapchat.com/add/dave_77", ("snapchat", "dave_77")),
        ("https://t.me/Dave_77", ("telegram", "dave_77")),
        ("https://www.reddit.com/user/Dave_77/", ("reddit", "dave_77")),
        ("https://old.reddit.com/u/dave_77", None),  # another host: kept as an address
        ("https://m.facebook.com/profile.php?id=1000123", ("facebook", "1000123")),
        ("https://www.facebook.com/dave.77", ("facebook", "dave.77")),
    ],
)
def test_a_profile_address_on_a_known_platform_is_that_platform_s_handle(written, expected):
    identifier = canonical(Kind.URL, written)
    if expected is None:
        assert identifier == Identifier(Kind.URL, "old.reddit.com/u/dave_77")
    else:
        assert identifier == Identifier(Kind.HANDLE, expected[1], expected[0])
        assert identifier.key == canonical(Kind.HANDLE, expected[1], expected[0]).key


def test_a_whatsapp_link_is_the_phone_number_it_opens():
    assert canonical(Kind.URL, "https://wa.me/447700900123") == Identifier(Kind.PHONE, "+447700900123")
    assert canonical(Kind.URL, "https://api.whatsapp.com/send?phone=447700900123").value == "+447700900123"


@pytest.mark.parametrize(
    "written",
    [
        "https://forum.example.org/members/Dave77",
        "http://forum.example.org/members/Dave77/",
        "forum.example.org/members/Dave77?tab=posts",
        "HTTPS://WWW.Forum.Example.org:443/members/Dave77#about",
    ],
)
def test_another_site_s_address_keeps_its_host_and_its_path_as_written(written):
    assert canonical(Kind.URL, written) == Identifier(Kind.URL, "forum.example.org/members/Dave77")


def test_a_path_s_case_and_a_non_default_port_are_kept():
    assert (
        canonical(Kind.URL, "forum.example.org/members/dave77").key
        != canonical(Kind.URL, "forum.example.org/members/Dave77").key
    )
    assert canonical(Kind.URL, "http://forum.example.org:8080/u/1").value == "forum.example.org:8080/u/1"


def test_a_platform_s_own_pages_are_not_profiles():
    assert canonical(Kind.URL, "https://x.com/home").kind == Kind.URL


# --- identify: the kind of a free-text identifier (an exhibit's other party) --------------------------


@pytest.mark.parametrize(
    ("text", "platform", "expected"),
    [
        ("Dave77@Example.com", "", Identifier(Kind.EMAIL, "dave77@example.com")),
        ("https://t.me/dave_77", "", Identifier(Kind.HANDLE, "dave_77", "telegram")),
        ("instagram.com/dave_77/", "", Identifier(Kind.HANDLE, "dave_77", "instagram")),
        ("07700 900123", "WhatsApp", Identifier(Kind.PHONE, "+447700900123")),
        ("+44 7700 900123", "", Identifier(Kind.PHONE, "+447700900123")),
        ("@dave_77", "Twitter", Identifier(Kind.HANDLE, "dave_77", "x")),
        ("dave_77", "Platform X", Identifier(Kind.HANDLE, "dave_77", "platform x")),
        ("user1234567", "Kik", Identifier(Kind.HANDLE, "user1234567", "kik")),
    ],
)
def test_a_free_text_identifier_s_kind_comes_from_its_form(text, platform, expected):
    assert identify(text, platform) == expected


# --- the blind index -----------------------------------------------------------------------------------


def test_one_identifier_however_written_has_one_blind_index_and_others_do_not_share_it():
    same = {blind_index(canonical(Kind.PHONE, w).key) for w in ("+44 7700 900123", "07700 900123")}
    assert len(same) == 1
    index = same.pop()
    assert len(index.value) == 64 and len(index.key_id) == 16
    assert blind_index(canonical(Kind.PHONE, "07700 900124").key) != index
    # The value alone is not the identifier's plain SHA-256: without the key nobody can test a guess.
    import hashlib

    assert index.value != hashlib.sha256(canonical(Kind.PHONE, "07700 900123").key.encode()).hexdigest()


def test_another_key_gives_another_index_and_a_rotation_still_finds_the_old_one(settings):
    key = canonical(Kind.EMAIL, "dave77@example.com").key
    old = blind_index(key)
    settings.PORTAL_DECONFLICTION_KEYS = [
        "bmV3LWtleS1uZXcta2V5LW5ldy1rZXktbmV3LWtleS0xMjM0NTY3OA==",
        *settings.PORTAL_DECONFLICTION_KEYS,
    ]
    new = blind_index(key)
    assert new.value != old.value and new.key_id != old.key_id
    assert blind_indexes(key) == [new, old]  # a check looks under both while the old key is listed


def test_a_key_too_short_or_not_base64_is_refused_with_how_to_make_one(settings):
    from django.core.exceptions import ImproperlyConfigured

    for bad in (["c2hvcnQ="], ["not base64 at all!"]):
        settings.PORTAL_DECONFLICTION_KEYS = bad
        with pytest.raises(ImproperlyConfigured, match="generate one with"):
            blind_index("email::dave77@example.com")


def test_a_list_s_indexes_computed_at_once_are_each_identifier_s_own_under_every_key(settings):
    written = ["dave_77", "+44 7700 900123", "Dave77@Example.com", "https://t.me/dave_77", "dave_77"]
    identifier_keys = [identify(text, "X").key for text in written]
    assert blind_indexes_many(identifier_keys) == [blind_indexes(key) for key in identifier_keys]
    settings.PORTAL_DECONFLICTION_KEYS = [
        "bmV3LWtleS1uZXcta2V5LW5ldy1rZXktbmV3LWtleS0xMjM0NTY3OA==",
        *settings.PORTAL_DECONFLICTION_KEYS,
    ]
    assert blind_indexes_many(identifier_keys) == [blind_indexes(key) for key in identifier_keys]
    assert all(len(every) == 2 for every in blind_indexes_many(identifier_keys))
    assert blind_indexes_many([]) == []


# --- identify's plain-account-name path gives exactly what the general rules give ----------------------------


def _read(rule, text: str, platform: str):
    """What a rule makes of the text: the identifier, or the refusal (its type and sentence)."""
    try:
        return rule(text, platform)
    except Exception as exc:  # whatever the rules do (refuse, or fail), the quick path must do the same
        return (type(exc).__name__, str(exc))


def _written_in_this_module() -> list[str]:
    """Every text the tests above give as an identifier or a platform (their parametrize lists)."""
    found = {FULL_WIDTH}
    for each in list(globals().values()):
        for mark in getattr(each, "pytestmark", []):
            if mark.name == "parametrize":
                for case in mark.args[1]:
                    found.update(
                        value for value in (case if isinstance(case, tuple) else (case,)) if isinstance(value, str)
                    )
    return sorted(found)


WRITTEN = _written_in_this_module()
# Near the quick path's edges: digits only (a phone number from seven), "@" twice or inside, "/" and ":",
# punctuation only, non-ASCII letters and digits, spaces, NFKC forms.
EDGES = [
    "1234567", "123456", "123.456.7890", "@1234567", "1234567a", "_1234567", "a", "_", "-", ".", "@", "@@dave",
    "@dave@x", "a@b.co", "@a@b.co", "dave.", ".dave", "-dave", "dave-77", "Dave_77", "DAVE", "x.com", "www.x.com",
    "x.com/dave", "u/dave", "@u/dave", "tel:07700900123", "mailto:a@b.co", "a:b", "İstanbul", "ﬁsh", "Straße",
    "dave\u00a0smith", " dave", "dave ", "dave\n", "\uff44\uff41\uff56\uff45", "dave\u200b",
]  # fmt: skip
PLATFORMS_WRITTEN = [
    "",
    "  ",
    "X",
    "Twitter",
    "x.com",
    "twitter / x",
    "Platform X",
    "PLATFORM X",
    "WhatsApp",
    "Kik",
    "reddit",
]


@pytest.mark.parametrize("text", WRITTEN + EDGES)
def test_the_quick_path_reads_every_text_of_these_tests_as_the_rules_do(text):
    assert len(WRITTEN) > 50  # the collection above found the parametrize lists
    for platform in PLATFORMS_WRITTEN:
        assert _read(identify, text, platform) == _read(identify_by_rules, text, platform), (text, platform)


def test_the_quick_path_is_taken_for_plain_account_names_and_only_them():
    assert _PLAIN_HANDLE.fullmatch("sender_001") and _PLAIN_HANDLE.fullmatch("@Dave.77")
    for text in ("1234567", "a@b.co", "x.com/dave", "dave smith", "İstanbul", "@@dave", ""):
        assert not _PLAIN_HANDLE.fullmatch(text)


_PLATFORM_TEXT = st.sampled_from(PLATFORMS_WRITTEN)


@examples(database=None, deadline=None, max_examples=400, derandomize=True)
@given(st.from_regex(_PLAIN_HANDLE, fullmatch=True), _PLATFORM_TEXT)
def test_any_plain_account_name_is_read_as_the_rules_read_it(text, platform):
    assert _read(identify, text, platform) == _read(identify_by_rules, text, platform)


@examples(database=None, deadline=None, max_examples=400, derandomize=True)
@given(st.text(st.sampled_from([*"aZ_09.-@/:+() \t", "İ", "ß", "ﬁ", "\uff10", "\u00a0"]), max_size=16), _PLATFORM_TEXT)
def test_any_text_near_the_quick_path_s_edges_is_read_as_the_rules_read_it(text, platform):
    assert _read(identify, text, platform) == _read(identify_by_rules, text, platform)
