"""Assessment scoring and ordering, without a database."""

from training.scoring import QuestionKey, score, seeded_order

KEYS = [
    QuestionKey(1, frozenset({11})),  # single answer
    QuestionKey(2, frozenset({21, 23})),  # multiple answers
    QuestionKey(3, frozenset({31})),
    QuestionKey(4, frozenset({42})),
]


def test_all_right_scores_100():
    result = score(KEYS, {1: [11], 2: [23, 21], 3: [31], 4: [42]})
    assert result.percent == 100 and result.passed(80)


def test_a_partial_answer_to_a_multiple_answer_question_is_wrong():
    result = score(KEYS, {1: [11], 2: [21], 3: [31], 4: [42]})
    assert result.percent == 75 and 2 not in result.right


def test_an_extra_wrong_choice_makes_a_multiple_answer_question_wrong():
    assert 2 not in score(KEYS, {2: [21, 22, 23]}).right


def test_two_choices_on_a_single_answer_question_is_wrong():
    assert 1 not in score(KEYS, {1: [11, 12]}).right


def test_unanswered_questions_are_wrong_and_the_pass_mark_is_inclusive():
    result = score(KEYS, {1: [11], 2: [21, 23], 3: [31]})
    assert result.percent == 75
    assert result.passed(75) and not result.passed(76)


def test_the_same_seed_gives_the_same_order_and_another_seed_usually_differs():
    items = list(range(20))
    assert seeded_order(items, 42) == seeded_order(items, 42)
    assert sorted(seeded_order(items, 42)) == items
    assert seeded_order(items, 42) != seeded_order(items, 43)
    assert seeded_order(items, 42, salt=1) != seeded_order(items, 42, salt=2)
