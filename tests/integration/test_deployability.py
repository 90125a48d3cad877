"""The deployability gate: every condition, every reason, each audience's wording."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.conftest import clear_vetting, invite_and_apply, screen
from volunteers import services
from volunteers.deployability import Audience, Code, deployability_for
from volunteers.models import IntegrityReview


def test_a_fully_vetted_screened_accredited_volunteer_is_deployable(deployable_vera):
    decision = deployability_for(deployable_vera)
    assert decision.allowed, decision.codes
    assert deployable_vera.exhibit_initials == "VD"


def test_a_new_applicant_sees_every_reason_at_once(lantern, owen, conduct):
    volunteer = invite_and_apply(lantern, owen, "new@lantern.example", "Nia New")
    decision = deployability_for(volunteer)
    assert not decision.allowed
    assert set(decision.codes) == {Code.NOT_ACCREDITED, Code.VETTING_MISSING, Code.SCREENING_MISSING}


def test_the_gate_closes_by_itself_when_vetting_expires(deployable_vera):
    expires = deployable_vera.vetting_records.get().expires_at
    assert deployability_for(deployable_vera, at=expires - timedelta(seconds=1)).codes.count(Code.VETTING_EXPIRED) == 0
    closed = deployability_for(deployable_vera, at=expires + timedelta(seconds=1))
    assert Code.VETTING_EXPIRED in closed.codes and not closed.allowed


def test_the_gate_closes_when_the_screening_falls_due(deployable_vera):
    due = deployability_for(deployable_vera).screening_next_due
    later = deployability_for(deployable_vera, at=due + timedelta(minutes=1))
    assert Code.SCREENING_OVERDUE in later.codes
    when = f"{timezone.localtime(due):%-d %B %Y}"
    assert f"screening was due on {when}: contact the welfare team" in " ".join(later.reasons_for(Audience.VOLUNTEER))


def test_an_overdue_integrity_review_closes_the_gate_and_a_review_reopens_it(deployable_vera, owen):
    due = deployable_vera.vetting_records.get().integrity_review_due
    assert Code.INTEGRITY_REVIEW_OVERDUE in deployability_for(deployable_vera, at=due + timedelta(days=1)).codes
    review = services.integrity_review_record(volunteer=deployable_vera, notes="No concerns.", by=owen)
    assert review.next_due > due
    assert deployability_for(deployable_vera).allowed


def test_adverse_information_suspends_deployability_until_resolved(deployable_vera, owen):
    item = services.adverse_information_report(volunteer=deployable_vera, summary="Arrest reported", by=owen)
    assert Code.ADVERSE_REVIEW_OPEN in deployability_for(deployable_vera).codes
    services.adverse_information_resolve(item=item, resolution="No further action; clearance stands.", by=owen)
    assert deployability_for(deployable_vera).allowed


def test_an_unfit_screening_reads_differently_to_each_audience(deployable_vera, wendy):
    screen(deployable_vera.user, wendy, outcome="unfit", notes="Signs of acute stress after last operation.")
    decision = deployability_for(deployable_vera)
    assert Code.SCREENING_UNFIT in decision.codes
    volunteer_text = " ".join(decision.reasons_for(Audience.VOLUNTEER))
    officer_text = " ".join(decision.reasons_for(Audience.OFFICER))
    welfare_text = " ".join(decision.reasons_for(Audience.WELFARE))
    assert "welfare" in volunteer_text and "unfit" not in volunteer_text and "stress" not in volunteer_text
    assert officer_text == "Not deployable on welfare grounds: the welfare team will say when this changes."
    assert "unfit" in welfare_text


def test_restrictions_are_shown_to_officers_without_clinical_detail(deployable_vera, wendy):
    screen(deployable_vera.user, wendy, outcome="fit_restricted", restrictions="No image review.", notes="Anxiety.")
    decision = deployability_for(deployable_vera)
    assert decision.allowed
    assert decision.restrictions == "No image review."


def test_a_suspended_volunteer_is_not_deployable(deployable_vera, owen):
    services.volunteer_transition(volunteer=deployable_vera, to="suspended", by=owen, reason="Pending inquiry.")
    assert deployability_for(deployable_vera).codes == [Code.SUSPENDED]


def test_a_new_code_of_conduct_must_be_accepted_again(deployable_vera):
    services.conduct_publish(title="Volunteer code of conduct", text="Version two.", by=None)
    decision = deployability_for(deployable_vera)
    assert decision.codes == [Code.CONDUCT_NOT_ACCEPTED]
    services.conduct_accept(user=deployable_vera.user, version=2)
    assert deployability_for(deployable_vera).allowed


def test_accepting_an_outdated_code_is_refused(deployable_vera):
    services.conduct_publish(title="Volunteer code of conduct", text="Version two.", by=None)
    with pytest.raises(Exception, match="newer code of conduct"):
        services.conduct_accept(user=deployable_vera.user, version=1)


def test_vetting_below_the_schemes_required_level_blocks(lantern, owen, wendy, conduct):
    volunteer = invite_and_apply(lantern, owen, "low@lantern.example", "Lou Low")
    clear_vetting(volunteer, owen, level="NPPV2")
    screen(volunteer.user, wendy)
    volunteer.refresh_from_db()
    services.volunteer_transition(volunteer=volunteer, to="accredited", by=owen, reason="Accredit.")
    assert deployability_for(volunteer).codes == [Code.VETTING_BELOW_LEVEL]


def test_exhibit_initials_are_unique_within_a_scheme(lantern, owen, wendy, conduct):
    made = []
    for email in ["ab1@x.example", "ab2@x.example", "ab3@x.example"]:
        volunteer = invite_and_apply(lantern, owen, email, "Alex Brown")
        clear_vetting(volunteer, owen)
        volunteer.refresh_from_db()
        made.append(
            services.volunteer_transition(volunteer=volunteer, to="accredited", by=owen, reason="ok").exhibit_initials
        )
    assert made == ["AB", "AB2", "AB3"]


def test_integrity_review_replaces_the_due_date_from_vetting(deployable_vera, owen):
    services.integrity_review_record(volunteer=deployable_vera, notes="", by=owen)
    assert IntegrityReview.objects.filter(volunteer=deployable_vera).count() == 1
