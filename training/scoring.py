"""Assessment logic without Django: seeded ordering and all-or-nothing scoring per question."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


def seeded_order(items: Sequence[int], seed: int, salt: int = 0) -> list[int]:
    """The same seed always gives the same order, so an attempt can be shown again identically."""
    order = list(items)
    random.Random(seed * 1_000_003 + salt).shuffle(order)  # noqa: S311  (ordering, not security)
    return order


@dataclass(frozen=True)
class QuestionKey:
    question_id: int
    correct: frozenset[int]


@dataclass(frozen=True)
class Score:
    correct: int
    total: int
    right: frozenset[int]  # question ids answered exactly right

    @property
    def percent(self) -> int:
        return (100 * self.correct) // self.total if self.total else 0

    def passed(self, pass_mark: int) -> bool:
        return self.percent >= pass_mark


def score(keys: Sequence[QuestionKey], answers: Mapping[int, Sequence[int]]) -> Score:
    """A question counts only if exactly the correct choices were selected (partial answers are wrong)."""
    right = frozenset(key.question_id for key in keys if frozenset(answers.get(key.question_id, ())) == key.correct)
    return Score(correct=len(right), total=len(keys), right=right)
