"""Certificate codes can be read off paper and typed back in any reasonable way."""

from training.codes import ALPHABET, LENGTH, grouped, is_short_code, new_code, normalise


def test_a_new_code_is_twelve_unambiguous_characters():
    codes = {new_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(len(code) == LENGTH and set(code) <= set(ALPHABET) for code in codes)
    assert not set("ILOU") & set(ALPHABET)


def test_it_is_read_in_any_case_with_or_without_dashes_or_spaces():
    assert normalise(" 7kq2-m4xd 9tzp ") == "7KQ2M4XD9TZP"
    assert normalise("7KQ2\u2013M4XD\u2013 9TZP") == "7KQ2M4XD9TZP"


def test_letters_that_look_like_digits_are_read_as_the_digits():
    assert normalise("7kq2-m4xd-9tzo") == "7KQ2M4XD9TZ0"
    assert normalise("ikq2-m4xd-9tzl") == "1KQ2M4XD9TZ1"


def test_a_short_code_is_shown_in_groups_of_four_and_an_older_long_code_as_it_is():
    assert grouped("7KQ2M4XD9TZP") == "7KQ2-M4XD-9TZP"
    assert is_short_code("7KQ2M4XD9TZP") and not is_short_code("7KQ2M4XD9TZU")
    assert grouped("AbC_def-123456789012345678") == "AbC_def-123456789012345678"
