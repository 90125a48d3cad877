"""The retention rules: from a case's outcome, or from the day a person left a scheme, the earliest day a record
may be disposed of, the rule that decided it, why in plain English, and its legal source.

Pure (no Django, no database): the one place these rules live, each with its own test in
tests/unit/test_retention_rules.py. `earliest=None` means "keep: there is no disposal date yet". Periods a
force may choose come in as `Periods` (retention/periods.py reads them from settings and the scheme); a scheme
may lengthen them, never shorten them (`lengthening_problems`). Paragraph numbers are those of the CPIA 1996
Code of Practice as revised in 2020; check them here, once, against the edition in force.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum

from dateutil.relativedelta import relativedelta


class Outcome(StrEnum):
    OPEN = "open"
    CHARGED = "charged"
    NO_FURTHER_ACTION = "nfa"
    CONVICTED = "convicted"
    ACQUITTED = "acquitted"
    DISCONTINUED = "discontinued"


OUTCOME_LABELS = {
    Outcome.OPEN: "Open: no charging decision yet",
    Outcome.CHARGED: "Charged: proceedings under way",
    Outcome.NO_FURTHER_ACTION: "No further action: decided not to prosecute",
    Outcome.CONVICTED: "Convicted",
    Outcome.ACQUITTED: "Acquitted",
    Outcome.DISCONTINUED: "Discontinued: the prosecutor decided not to proceed",
}
# Outcomes that end the case (an appeal may follow them); open and charged cases are kept whatever else is said.
CONCLUDED = {Outcome.NO_FURTHER_ACTION, Outcome.CONVICTED, Outcome.ACQUITTED, Outcome.DISCONTINUED}

# What each kind of decision date is called, in the words of the outcome it dates.
DECISION_WORDS = {
    Outcome.NO_FURTHER_ACTION: "the decision not to prosecute",
    Outcome.ACQUITTED: "the acquittal",
    Outcome.DISCONTINUED: "the decision not to proceed (discontinuance)",
}

CONVICTION_MONTHS = 6  # CPIA Code para 5.9: a statutory minimum, not a setting (a scheme may only add to it)

# Legal sources, cited by every rule below.
CPIA_5_7 = "CPIA 1996 Code of Practice para 5.7: kept at least until a decision whether to prosecute"
CPIA_5_8 = (
    "CPIA 1996 Code of Practice para 5.8: once proceedings are instituted, kept at least until acquittal, "
    "conviction or the prosecutor decides not to proceed"
)
CPIA_5_9 = (
    "CPIA 1996 Code of Practice para 5.9: after a conviction, kept at least until release from custody or "
    "discharge from hospital, or six months from conviction, whichever is later"
)
CPIA_5_10 = (
    "CPIA 1996 Code of Practice para 5.10: while an appeal against conviction, or a Criminal Cases Review "
    "Commission application, is in progress, kept until it is determined"
)
DPA_S39 = "DPA 2018 s.39: kept no longer than necessary, with periodic review"
SOURCES = {
    "vetting": (
        "College of Policing APP Vetting and Vetting Code of Practice: vetting records are kept for a period the "
        "force sets (configurable); UK GDPR Art. 5(1)(e) and DPA 2018 s.39: no longer than necessary"
    ),
    "training": (
        "UK GDPR Art. 5(1)(e) and DPA 2018 s.39: no longer than necessary; competence records for evidence a "
        "volunteer gave (Forensic Science Regulator Code) — period configurable"
    ),
    "welfare": (
        "UK GDPR Art. 9 and DPA 2018 Sch. 1 (health data, special category); occupational health practice of "
        "6 years after leaving, matching the Limitation Act 1980 claim periods — period configurable"
    ),
}
RECORD_WORDS = {"vetting": "vetting records", "training": "training records", "welfare": "welfare records"}


@dataclass(frozen=True)
class CaseFacts:
    """What is known of a case's outcome. Dates are calendar days in UK time."""

    outcome: str = Outcome.OPEN
    decided_on: date | None = None  # no further action, acquittal or discontinuance (for a charge: its date)
    convicted_on: date | None = None
    custodial: bool = False  # a custodial sentence or a hospital order
    release_on: date | None = None  # release from custody or discharge from hospital, when known
    appeal_pending: bool = False  # an appeal against conviction, or a CCRC application, in progress
    appeal_determined_on: date | None = None


@dataclass(frozen=True)
class Periods:
    """The periods in force for one scheme: the platform's (settings), lengthened where the scheme chose."""

    case_extra_months: int = 0  # kept this long beyond the CPIA minimum
    vetting_years: int = 6  # after the person leaves the scheme
    training_years: int = 6
    welfare_years: int = 6

    def years_for(self, records: str) -> int:
        return {"vetting": self.vetting_years, "training": self.training_years, "welfare": self.welfare_years}[records]


@dataclass(frozen=True)
class Retention:
    """The answer: the earliest disposal day (None: keep, no date yet), the rule's code, the reason in plain
    English (its short citation in brackets) and the legal source in full."""

    earliest: date | None
    rule: str
    reason: str
    source: str


def day(value: date) -> str:
    return f"{value.day} {value:%B %Y}"


# --- case material (a tasking and everything of it: exhibits, notes, statements, bundles) -----------------


def case_retention(facts: CaseFacts, periods: Periods = Periods()) -> Retention:
    """Case material: the CPIA minimum for this outcome, then any months the scheme keeps beyond it."""
    found = _cpia_minimum(facts)
    if found.earliest is not None and periods.case_extra_months > 0:
        months = periods.case_extra_months
        found = replace(
            found,
            earliest=found.earliest + relativedelta(months=months),
            reason=f"{found.reason}, then {months} month{'s' if months != 1 else ''} more (the scheme's own period)",
            source=f"{found.source}; the scheme keeps case material longer ({DPA_S39})",
        )
    return found


def _cpia_minimum(facts: CaseFacts) -> Retention:
    outcome = Outcome(facts.outcome)
    if outcome is Outcome.OPEN:
        # CPIA Code para 5.7: everything is kept until it is decided whether to prosecute.
        return Retention(
            None,
            "case_open",
            "no charging decision yet: kept at least until it is decided whether to prosecute (CPIA Code 5.7)",
            CPIA_5_7,
        )
    if outcome is Outcome.CHARGED:
        # CPIA Code para 5.8: proceedings instituted — kept until acquittal, conviction or discontinuance.
        return Retention(
            None,
            "case_charged",
            "charged: kept at least until acquittal, conviction or discontinuance (CPIA Code 5.8)",
            CPIA_5_8,
        )
    if facts.appeal_pending:
        # CPIA Code para 5.10: an appeal (or a CCRC application) in progress — kept until it is determined.
        return Retention(
            None,
            "case_appeal_pending",
            "an appeal or a Criminal Cases Review Commission application is in progress: kept until it is "
            "determined (CPIA Code 5.10)",
            CPIA_5_10,
        )
    found = _after_outcome(outcome, facts)
    determined = facts.appeal_determined_on
    if found.earliest is not None and determined is not None and determined > found.earliest:
        # CPIA Code para 5.10: an appeal that outlasted the minimum keeps the material until it was determined.
        return Retention(
            determined,
            "case_appeal_determined",
            f"the appeal was determined on {day(determined)} (CPIA Code 5.10) — later than {found.reason}",
            CPIA_5_10,
        )
    return found


def _after_outcome(outcome: Outcome, facts: CaseFacts) -> Retention:
    if outcome is Outcome.CONVICTED:
        return _after_conviction(facts)
    words = DECISION_WORDS[outcome]
    if facts.decided_on is None:
        source = CPIA_5_7 if outcome is Outcome.NO_FURTHER_ACTION else CPIA_5_8
        return Retention(None, "case_decision_date_missing", f"the date of {words} is not recorded yet", source)
    if outcome is Outcome.NO_FURTHER_ACTION:
        # CPIA Code para 5.7: the minimum ends with the decision not to prosecute; DPA 2018 s.39 then applies.
        return Retention(
            facts.decided_on,
            "case_no_further_action",
            f"{words} on {day(facts.decided_on)} (CPIA Code 5.7)",
            f"{CPIA_5_7}; after it, {DPA_S39}",
        )
    # CPIA Code para 5.8: the minimum ends with the acquittal, or with the prosecutor's decision not to proceed.
    code = "case_acquitted" if outcome is Outcome.ACQUITTED else "case_discontinued"
    return Retention(facts.decided_on, code, f"{words} on {day(facts.decided_on)} (CPIA Code 5.8)", CPIA_5_8)


def _after_conviction(facts: CaseFacts) -> Retention:
    # CPIA Code para 5.9: release from custody (or discharge from hospital), or six months from conviction,
    # whichever is later; six months when the sentence is not custodial.
    if facts.convicted_on is None:
        return Retention(None, "case_conviction_date_missing", "the date of conviction is not recorded yet", CPIA_5_9)
    six_months = facts.convicted_on + relativedelta(months=CONVICTION_MONTHS)
    if not facts.custodial:
        return Retention(
            six_months,
            "case_convicted_six_months",
            "six months from conviction (CPIA Code 5.9): no custodial sentence or hospital order",
            CPIA_5_9,
        )
    if facts.release_on is None:
        return Retention(
            None,
            "case_convicted_release_unknown",
            "custodial sentence or hospital order and the release date is not known: kept at least until release "
            "or six months from conviction, whichever is later (CPIA Code 5.9)",
            CPIA_5_9,
        )
    if facts.release_on > six_months:
        return Retention(
            facts.release_on,
            "case_convicted_release",
            "release from custody or discharge from hospital (CPIA Code 5.9) — later than six months from conviction",
            CPIA_5_9,
        )
    return Retention(
        six_months,
        "case_convicted_six_months_later",
        "six months from conviction (CPIA Code 5.9) — later than the release date",
        CPIA_5_9,
    )


def outcome_problems(facts: CaseFacts, today: date) -> dict[str, str]:
    """What is wrong with an outcome as recorded, by field: a date the outcome needs, a date in the future, a
    release date without a custodial sentence or before the conviction, an appeal on a case not concluded."""
    problems: dict[str, str] = {}
    outcome = Outcome(facts.outcome)
    if outcome in DECISION_WORDS and facts.decided_on is None:
        problems["decided_on"] = f"Enter the date of {DECISION_WORDS[outcome]}"
    if outcome is Outcome.CONVICTED and facts.convicted_on is None:
        problems["convicted_on"] = "Enter the date of conviction"
    for name, words in (
        ("decided_on", "The date of the decision"),
        ("convicted_on", "The date of conviction"),
        ("appeal_determined_on", "The date the appeal was determined"),
    ):
        value = getattr(facts, name)
        if value is not None and value > today and name not in problems:
            problems[name] = f"{words} cannot be in the future"
    if outcome is Outcome.CONVICTED:
        if facts.release_on is not None and not facts.custodial:
            problems["release_on"] = (
                "A release date goes with a custodial sentence or hospital order: tick that box, or leave the "
                "release date empty"
            )
        elif facts.release_on and facts.convicted_on and facts.release_on < facts.convicted_on:
            problems["release_on"] = "The release date cannot be before the date of conviction"
    if outcome not in CONCLUDED and (facts.appeal_pending or facts.appeal_determined_on):
        field = "appeal_pending" if facts.appeal_pending else "appeal_determined_on"
        problems[field] = "An appeal follows an outcome: record the conviction or acquittal first"
    elif facts.appeal_pending and facts.appeal_determined_on:
        problems["appeal_determined_on"] = (
            "An appeal is either in progress or determined: untick “in progress”, or clear the date it was determined"
        )
    return problems


def relevant_facts(facts: CaseFacts) -> CaseFacts:
    """The facts with what does not belong to the outcome left out (a release date on an acquittal, say)."""
    outcome = Outcome(facts.outcome)
    convicted = outcome is Outcome.CONVICTED
    return CaseFacts(
        outcome=outcome,
        decided_on=facts.decided_on if not convicted and outcome is not Outcome.OPEN else None,
        convicted_on=facts.convicted_on if convicted else None,
        custodial=facts.custodial if convicted else False,
        release_on=facts.release_on if convicted and facts.custodial else None,
        appeal_pending=facts.appeal_pending if outcome in CONCLUDED else False,
        appeal_determined_on=facts.appeal_determined_on if outcome in CONCLUDED else None,
    )


# --- people's records after they leave a scheme ----------------------------------------------------------


def person_retention(records: str, left_on: date | None, periods: Periods = Periods()) -> Retention:
    """Vetting, training or welfare records of a person: kept while they are in the scheme, then for the
    configured number of years after they leave (withdrawn or refused)."""
    years = periods.years_for(records)
    words = RECORD_WORDS[records]
    span = f"{years} year{'s' if years != 1 else ''}"
    if left_on is None:
        # Still in the scheme (or staff, whose leaving the portal does not record): nothing to count from.
        return Retention(
            None,
            f"{records}_in_scheme",
            f"still in the scheme: {words} are kept until {span} after they leave",
            SOURCES[records],
        )
    # Vetting: APP Vetting / DPA 2018 s.39; training: DPA 2018 s.39; welfare: UK GDPR Art. 9, DPA 2018 Sch. 1.
    return Retention(
        left_on + relativedelta(years=years),
        f"{records}_after_leaving",
        f"{span} after leaving the scheme on {day(left_on)} ({words}; the period is configurable)",
        SOURCES[records],
    )


# --- a scheme's own periods: longer, never shorter ----------------------------------------------------------

PERIOD_WORDS = {
    "case_extra_months": ("months beyond the CPIA minimum for case material", "months"),
    "vetting_years": ("years after leaving for vetting records", "years"),
    "training_years": ("years after leaving for training records", "years"),
    "welfare_years": ("years after leaving for welfare records", "years"),
}


def lengthening_problems(platform: Periods, scheme: dict[str, int | None]) -> dict[str, str]:
    """A scheme may keep records longer than the platform does, never for less time: each value it sets must be
    at least the platform's. An empty value means "the platform's period"."""
    problems = {}
    for name, value in scheme.items():
        floor = getattr(platform, name)
        if value is not None and value < floor:
            words, unit = PERIOD_WORDS[name]
            problems[name] = (
                f"A scheme may lengthen retention, never shorten it: the platform keeps {floor} {words}. Enter "
                f"{floor} or more, or leave it empty to use {floor} {unit}."
            )
    return problems


def scheme_periods(platform: Periods, scheme: dict[str, int | None]) -> Periods:
    """The periods in force: the scheme's where it set a longer one, the platform's otherwise (a value stored
    before the platform's period grew never shortens it)."""
    chosen = {name: max(getattr(platform, name), value) for name, value in scheme.items() if value is not None}
    return replace(platform, **chosen)
