"""The retention rules (retention/rules.py), one test per rule and its edge cases, without a database."""

from datetime import date

import pytest

from retention.rules import (
    CaseFacts,
    Outcome,
    Periods,
    case_retention,
    lengthening_problems,
    outcome_problems,
    person_retention,
    relevant_facts,
    scheme_periods,
)

CONVICTED_ON = date(2026, 9, 12)
SIX_MONTHS_ON = date(2027, 3, 12)
TODAY = date(2027, 1, 10)


def convicted(**facts) -> CaseFacts:
    return CaseFacts(outcome=Outcome.CONVICTED, convicted_on=CONVICTED_ON, **facts)


# --- case material: the CPIA Code of Practice minimums ---------------------------------------------------------


def test_an_open_case_is_kept_with_no_date_until_a_charging_decision():
    found = case_retention(CaseFacts())
    assert found.earliest is None and found.rule == "case_open"
    assert "decided whether to prosecute" in found.reason and "para 5.7" in found.source


def test_a_charged_case_is_kept_with_no_date_until_it_ends():
    found = case_retention(CaseFacts(outcome=Outcome.CHARGED, decided_on=date(2026, 5, 1)))
    assert found.earliest is None and found.rule == "case_charged"
    assert "acquittal, conviction or discontinuance" in found.reason and "para 5.8" in found.source


def test_no_further_action_may_be_disposed_of_from_the_decision_not_to_prosecute():
    found = case_retention(CaseFacts(outcome=Outcome.NO_FURTHER_ACTION, decided_on=date(2026, 5, 3)))
    assert found.earliest == date(2026, 5, 3) and found.rule == "case_no_further_action"
    assert found.reason == "the decision not to prosecute on 3 May 2026 (CPIA Code 5.7)"
    assert "para 5.7" in found.source and "DPA 2018 s.39" in found.source


def test_an_acquittal_may_be_disposed_of_from_the_day_of_acquittal():
    found = case_retention(CaseFacts(outcome=Outcome.ACQUITTED, decided_on=date(2026, 7, 1)))
    assert found.earliest == date(2026, 7, 1) and found.rule == "case_acquitted" and "para 5.8" in found.source


def test_a_discontinuance_may_be_disposed_of_from_the_prosecutors_decision():
    found = case_retention(CaseFacts(outcome=Outcome.DISCONTINUED, decided_on=date(2026, 8, 2)))
    assert found.earliest == date(2026, 8, 2) and found.rule == "case_discontinued"


def test_an_outcome_without_its_date_is_kept_with_no_date():
    found = case_retention(CaseFacts(outcome=Outcome.ACQUITTED))
    assert found.earliest is None and found.rule == "case_decision_date_missing"
    assert case_retention(CaseFacts(outcome=Outcome.CONVICTED)).rule == "case_conviction_date_missing"


def test_a_conviction_without_custody_is_kept_six_months_from_conviction():
    found = case_retention(convicted())
    assert found.earliest == SIX_MONTHS_ON and found.rule == "case_convicted_six_months"
    assert "para 5.9" in found.source


def test_after_a_custodial_sentence_a_release_before_six_months_means_six_months_wins():
    found = case_retention(convicted(custodial=True, release_on=date(2026, 12, 1)))
    assert found.earliest == SIX_MONTHS_ON and found.rule == "case_convicted_six_months_later"
    assert found.reason == "six months from conviction (CPIA Code 5.9) — later than the release date"


def test_after_a_custodial_sentence_a_release_after_six_months_means_the_release_date_wins():
    found = case_retention(convicted(custodial=True, release_on=date(2028, 6, 30)))
    assert found.earliest == date(2028, 6, 30) and found.rule == "case_convicted_release"
    assert "later than six months from conviction" in found.reason


def test_after_a_custodial_sentence_an_unknown_release_date_means_no_date_yet():
    found = case_retention(convicted(custodial=True))
    assert found.earliest is None and found.rule == "case_convicted_release_unknown"


def test_six_months_from_the_end_of_august_is_the_end_of_february():
    found = case_retention(CaseFacts(outcome=Outcome.CONVICTED, convicted_on=date(2026, 8, 31)))
    assert found.earliest == date(2027, 2, 28)


def test_an_appeal_in_progress_keeps_everything_with_no_date():
    for facts in (
        convicted(appeal_pending=True),
        CaseFacts(outcome=Outcome.ACQUITTED, decided_on=TODAY, appeal_pending=True),
    ):
        found = case_retention(facts)
        assert found.earliest is None and found.rule == "case_appeal_pending" and "para 5.10" in found.source


def test_an_appeal_determined_after_the_minimum_moves_the_date_to_its_determination():
    found = case_retention(convicted(appeal_determined_on=date(2027, 5, 20)))
    assert found.earliest == date(2027, 5, 20) and found.rule == "case_appeal_determined"
    assert "later than six months from conviction" in found.reason


def test_an_appeal_determined_before_the_minimum_changes_nothing():
    assert case_retention(convicted(appeal_determined_on=date(2026, 10, 1))).earliest == SIX_MONTHS_ON


def test_a_scheme_keeping_case_material_longer_adds_its_months_to_the_minimum():
    found = case_retention(convicted(), Periods(case_extra_months=12))
    assert found.earliest == date(2028, 3, 12) and found.rule == "case_convicted_six_months"
    assert "12 months more" in found.reason
    assert case_retention(CaseFacts(), Periods(case_extra_months=12)).earliest is None  # no date stays no date


# --- people's records after they leave a scheme ----------------------------------------------------------------


@pytest.mark.parametrize("records", ["vetting", "training", "welfare"])
def test_a_persons_records_are_kept_while_they_are_in_the_scheme(records):
    found = person_retention(records, None)
    assert (
        found.earliest is None and found.rule == f"{records}_in_scheme" and "6 years after they leave" in found.reason
    )


def test_vetting_records_may_be_disposed_of_six_years_after_leaving_by_default():
    found = person_retention("vetting", date(2026, 5, 3))
    assert found.earliest == date(2032, 5, 3) and found.rule == "vetting_after_leaving"
    assert "APP Vetting" in found.source and "DPA 2018 s.39" in found.source


def test_training_records_follow_their_own_configured_period():
    found = person_retention("training", date(2026, 5, 3), Periods(training_years=3))
    assert found.earliest == date(2029, 5, 3) and found.rule == "training_after_leaving"


def test_welfare_records_cite_special_category_health_data():
    found = person_retention("welfare", date(2026, 5, 3), Periods(welfare_years=8))
    assert found.earliest == date(2034, 5, 3) and "Art. 9" in found.source and "Sch. 1" in found.source


# --- a scheme may lengthen, never shorten ---------------------------------------------------------------------


def test_a_scheme_may_lengthen_the_platforms_periods():
    platform = Periods()
    chosen = {"vetting_years": 10, "welfare_years": None, "case_extra_months": 3, "training_years": 6}
    assert lengthening_problems(platform, chosen) == {}
    assert scheme_periods(platform, chosen) == Periods(case_extra_months=3, vetting_years=10)


def test_a_scheme_may_not_shorten_the_platforms_periods():
    problems = lengthening_problems(Periods(case_extra_months=2), {"vetting_years": 5, "case_extra_months": 1})
    assert set(problems) == {"vetting_years", "case_extra_months"}
    assert problems["vetting_years"] == (
        "A scheme may lengthen retention, never shorten it: the platform keeps 6 years after leaving for vetting "
        "records. Enter 6 or more, or leave it empty to use 6 years."
    )


def test_a_period_stored_before_the_platform_lengthened_its_own_never_shortens_it():
    assert scheme_periods(Periods(vetting_years=8), {"vetting_years": 7}).vetting_years == 8


# --- what an outcome needs ----------------------------------------------------------------------------------------


def test_an_outcome_must_carry_its_date_and_no_date_in_the_future():
    assert outcome_problems(CaseFacts(outcome=Outcome.NO_FURTHER_ACTION), TODAY) == {
        "decided_on": "Enter the date of the decision not to prosecute"
    }
    assert outcome_problems(CaseFacts(outcome=Outcome.CONVICTED, convicted_on=date(2027, 2, 1)), TODAY) == {
        "convicted_on": "The date of conviction cannot be in the future"
    }


def test_a_release_date_needs_a_custodial_sentence_and_follows_the_conviction():
    assert set(outcome_problems(convicted(release_on=date(2027, 1, 1)), TODAY)) == {"release_on"}
    assert (
        "before the date of conviction"
        in outcome_problems(convicted(custodial=True, release_on=date(2026, 1, 1)), TODAY)["release_on"]
    )
    assert outcome_problems(convicted(custodial=True, release_on=date(2030, 1, 1)), TODAY) == {}  # expected release


def test_an_appeal_needs_an_outcome_and_is_either_in_progress_or_determined():
    assert set(outcome_problems(CaseFacts(outcome=Outcome.CHARGED, appeal_pending=True), TODAY)) == {"appeal_pending"}
    both = convicted(appeal_pending=True, appeal_determined_on=date(2026, 12, 1))
    assert set(outcome_problems(both, TODAY)) == {"appeal_determined_on"}


def test_what_does_not_belong_to_the_outcome_is_left_out():
    kept = relevant_facts(
        CaseFacts(outcome=Outcome.ACQUITTED, decided_on=TODAY, convicted_on=TODAY, custodial=True, release_on=TODAY)
    )
    assert kept == CaseFacts(outcome=Outcome.ACQUITTED, decided_on=TODAY)
