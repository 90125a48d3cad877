"""Retention facts in words, the same on every page and on the disposal certificate."""

from __future__ import annotations

from portal.display import when
from retention import rules
from retention.models import CaseOutcome


def outcome_words(outcome: CaseOutcome | None) -> str:
    if outcome is None:
        return "Open: no outcome recorded yet."
    facts = outcome.facts()
    parts = [outcome.get_outcome_display()]
    if facts.outcome == rules.Outcome.CONVICTED and facts.convicted_on:
        parts = [f"Convicted on {rules.day(facts.convicted_on)}"]
        if outcome.sentence:
            parts.append(f"sentence: {outcome.sentence}")
        if facts.custodial:
            parts.append(
                f"custodial; release or discharge on {rules.day(facts.release_on)}"
                if facts.release_on
                else "custodial; release date not known"
            )
    elif facts.decided_on:
        parts.append(f"on {rules.day(facts.decided_on)}")
    if facts.appeal_pending:
        parts.append("appeal in progress")
    elif facts.appeal_determined_on:
        parts.append(f"appeal determined on {rules.day(facts.appeal_determined_on)}")
    who = outcome.recorded_by.get_full_name() or outcome.recorded_by.email
    return f"{', '.join(parts)}. Recorded by {who}, {when(outcome.recorded_at)}."
