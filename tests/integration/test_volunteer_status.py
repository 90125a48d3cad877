"""The status state machine: only allowed transitions, each by a named person with a reason, audited."""

import pytest
from django.core.exceptions import ValidationError

from portal.models import AuditEvent
from tests.conftest import invite_and_apply
from volunteers import services
from volunteers.models import StatusChange, VettingCheck


@pytest.fixture
def applicant(lantern, owen, conduct):
    return invite_and_apply(lantern, owen, "amy@lantern.example", "Amy Applicant")


@pytest.mark.parametrize("to", ["accredited", "vetted", "suspended"])
def test_an_applicant_cannot_skip_vetting(applicant, owen, to):
    with pytest.raises(ValidationError, match="cannot become"):
        services.volunteer_transition(volunteer=applicant, to=to, by=owen, reason="Shortcut")
    applicant.refresh_from_db()
    assert applicant.status == "applicant"


def test_a_refused_volunteer_stays_refused_and_their_record_is_kept(applicant, owen):
    services.volunteer_transition(volunteer=applicant, to="refused", by=owen, reason="Failed to disclose.")
    with pytest.raises(ValidationError, match="Allowed next: none"):
        services.volunteer_transition(volunteer=applicant, to="in_vetting", by=owen, reason="Try again")
    assert StatusChange.objects.filter(volunteer=applicant).count() == 1


def test_every_change_needs_a_reason(applicant, owen):
    with pytest.raises(ValidationError, match="Give a reason"):
        services.volunteer_transition(volunteer=applicant, to="withdrawn", by=owen, reason="  ")


def test_each_change_is_recorded_and_audited_with_who_and_why(applicant, owen):
    services.volunteer_transition(volunteer=applicant, to="withdrawn", by=owen, reason="Moved abroad.")
    change = StatusChange.objects.get(volunteer=applicant)
    assert (change.from_status, change.to_status, change.by, change.reason) == (
        "applicant",
        "withdrawn",
        owen,
        "Moved abroad.",
    )
    event = AuditEvent.objects.get(action="volunteer.status", object_id=str(applicant.pk))
    assert event.actor_email == owen.email and event.detail["reason"] == "Moved abroad."


def test_clearance_needs_every_check(applicant, owen):
    record = services.vetting_start(volunteer=applicant, level="MV", by=owen)
    services.vetting_record_check(record=record, kind="pnc_pnd", result="satisfactory", notes="", by=owen)
    with pytest.raises(ValidationError, match="Missing: Identity"):
        services.vetting_decide(record=record, outcome="cleared", reasons="", by=owen)


def test_identity_check_must_name_the_documents_seen(applicant, owen):
    record = services.vetting_start(volunteer=applicant, level="MV", by=owen)
    with pytest.raises(ValidationError, match="identity documents were seen"):
        services.vetting_record_check(record=record, kind="identity", result="satisfactory", notes="", by=owen)


def test_a_concern_needs_reasons_to_clear_and_clearing_sets_expiry_from_the_level(applicant, owen):
    record = services.vetting_start(volunteer=applicant, level="MV", by=owen)
    for kind in VettingCheck.Kind.values:
        result = "concern" if kind == "financial" else "satisfactory"
        services.vetting_record_check(record=record, kind=kind, result=result, notes="Seen.", by=owen)
    with pytest.raises(ValidationError, match="raised a concern"):
        services.vetting_decide(record=record, outcome="cleared", reasons="", by=owen)
    services.vetting_decide(record=record, outcome="cleared", reasons="Debt repaid; no risk.", by=owen)
    record.refresh_from_db()
    assert record.expires_at.year - record.decided_at.year == 7  # MV renews every 7 years
    applicant.refresh_from_db()
    assert applicant.status == "vetted"


def test_refusal_moves_the_volunteer_to_refused(applicant, owen):
    record = services.vetting_start(volunteer=applicant, level="MV", by=owen)
    services.vetting_decide(record=record, outcome="refused", reasons="Undisclosed conviction.", by=owen)
    applicant.refresh_from_db()
    assert applicant.status == "refused"
