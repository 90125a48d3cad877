"""The one rule, tried through the policy: every condition blocks with its own reason."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from evidence import services
from evidence.models import Authorisation, Tasking
from evidence.policy import submission_decision
from tests.conftest import invite_and_apply, make_tasking, module_data, screen


def test_an_assigned_deployable_volunteer_in_an_active_window_may_submit_until_the_window_closes(
    assigned_vera, tasking
):
    decision = submission_decision(user=assigned_vera.user, tasking=tasking)
    assert decision.allowed and decision.until == tasking.window_end
    assert decision.headline().startswith("You can submit evidence until ")


def test_not_assigned(deployable_vera, tasking):
    assert submission_decision(user=deployable_vera.user, tasking=tasking).codes == ["not_assigned"]


def test_unassignment_revokes_and_nothing_else_grants(assigned_vera, tasking, owen):
    assignment = tasking.assignments.get()
    services.tasking_unassign(assignment=assignment, by=owen)
    assert submission_decision(user=assigned_vera.user, tasking=tasking).codes == ["not_assigned"]


def test_a_superuser_is_not_assigned_by_being_a_superuser(root, tasking):
    assert submission_decision(user=root, tasking=tasking).codes == ["not_assigned"]


def test_another_schemes_volunteer_cannot_be_assigned(tasking, harbour, otto, owen, conduct):
    theirs = invite_and_apply(harbour, otto, "h@harbour.example", "Hugo Harbour")
    with pytest.raises(ValidationError, match="Only volunteers of this tasking's scheme"):
        services.tasking_assign(tasking=tasking, volunteer=theirs.user, by=owen)


@pytest.mark.parametrize("status", ["draft", "suspended", "closed"])
def test_a_tasking_that_is_not_active_blocks(assigned_vera, tasking, status):
    Tasking.objects.filter(pk=tasking.pk).update(status=status)
    tasking.refresh_from_db()
    assert f"tasking_{status}" in submission_decision(user=assigned_vera.user, tasking=tasking).codes


def test_outside_the_window_blocks(assigned_vera, tasking):
    later = tasking.window_end + timedelta(minutes=1)
    assert "window_ended" in submission_decision(user=assigned_vera.user, tasking=tasking, at=later).codes


def test_an_expired_authorisation_blocks_at_once(assigned_vera, tasking):
    Authorisation.objects.filter(pk=tasking.authorisation_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    tasking.refresh_from_db()
    assert "authorisation_expired" in submission_decision(user=assigned_vera.user, tasking=tasking).codes


def test_a_cancelled_authorisation_blocks_at_once(assigned_vera, tasking, owen):
    services.authorisation_cancel(authorisation=tasking.authorisation, by=owen, reason="Operation compromised.")
    tasking.refresh_from_db()
    assert "authorisation_cancelled" in submission_decision(user=assigned_vera.user, tasking=tasking).codes


def test_activation_needs_a_current_authorisation(lantern, owen):
    tasking = make_tasking(lantern, owen, status="draft", reference="OP-2")
    Authorisation.objects.filter(pk=tasking.authorisation_id).update(expires_at=timezone.now() - timedelta(days=1))
    tasking.refresh_from_db()
    with pytest.raises(ValidationError, match="Activation needs a current authorisation"):
        services.tasking_set_status(tasking=tasking, to="active", by=owen)


def test_expired_vetting_blocks(assigned_vera, tasking):
    expires = assigned_vera.vetting_records.get().expires_at
    decision = submission_decision(user=assigned_vera.user, tasking=tasking, at=expires + timedelta(seconds=1))
    assert "vetting_expired" in decision.codes


def test_overdue_screening_blocks_and_the_officer_reads_no_health_detail(assigned_vera, tasking, wendy):
    from volunteers.deployability import Audience
    from volunteers.models import ScreeningRecord

    ScreeningRecord.objects.filter(person=assigned_vera.user).update(next_due=timezone.now() - timedelta(days=1))
    decision = submission_decision(user=assigned_vera.user, tasking=tasking)
    assert "screening_overdue" in decision.codes
    assert decision.reasons_for(Audience.OFFICER) == ["Not deployable on welfare grounds."]


def test_an_unfit_screening_blocks(assigned_vera, tasking, wendy):
    screen(assigned_vera.user, wendy, outcome="unfit")
    assert "screening_unfit" in submission_decision(user=assigned_vera.user, tasking=tasking).codes


def test_training_not_current_blocks(assigned_vera, tasking):
    from training.services import module_publish

    module_publish(data=module_data())
    assert "training_not_current" in submission_decision(user=assigned_vera.user, tasking=tasking).codes


def test_an_outdated_code_of_conduct_blocks(assigned_vera, tasking):
    from volunteers.services import conduct_publish

    conduct_publish(title="Code", text="v2", by=None)
    assert "conduct_not_accepted" in submission_decision(user=assigned_vera.user, tasking=tasking).codes


def test_a_suspended_volunteer_is_blocked(assigned_vera, tasking, owen):
    from volunteers.services import volunteer_transition

    volunteer_transition(volunteer=assigned_vera, to="suspended", by=owen, reason="Inquiry.")
    assert "suspended" in submission_decision(user=assigned_vera.user, tasking=tasking).codes


def test_the_periodic_job_records_a_lapsed_authorisation_and_tells_the_handler_once(
    assigned_vera, tasking, owen, django_capture_on_commit_callbacks
):
    from django.core import mail

    from evidence.tasks import freeze_lapsed_taskings_task
    from portal.models import AuditEvent

    Authorisation.objects.filter(pk=tasking.authorisation_id).update(expires_at=timezone.now() - timedelta(minutes=1))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert freeze_lapsed_taskings_task() == 1
        assert freeze_lapsed_taskings_task() == 0
    tasking.refresh_from_db()
    assert tasking.status == "suspended"
    assert [m.to for m in mail.outbox] == [[owen.email]]
    assert AuditEvent.objects.filter(action="evidence.tasking_status", detail__to="suspended").exists()


@pytest.mark.parametrize(
    ("kind", "urgent", "expected"),
    [
        ("chis", False, timedelta(days=365)),
        ("directed", False, timedelta(days=92)),
        ("chis", True, timedelta(hours=72)),
    ],
)
def test_authorisations_default_to_the_ripa_periods(kind, urgent, expected):
    from datetime import UTC, datetime

    granted = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    expires = services.authorisation_default_expiry(kind=kind, granted_at=granted, urgent=urgent)
    assert abs((expires - granted) - expected) <= timedelta(days=3)  # calendar months vary


def test_an_officer_records_an_authorisation_in_the_admin_with_the_default_expiry(client, owen):
    from tests.conftest import enrol_totp, mfa_login

    mfa_login(client, owen, enrol_totp(owen))
    response = client.post(
        "/admin/evidence/authorisation/add/",
        {
            "kind": "directed",
            "reference": "DS/2026/77",
            "authorising_officer": "Supt Grant",
            "authorising_rank": "Superintendent",
            "granted_at_0": "2026-12-01",
            "granted_at_1": "09:00",
            "expires_at_0": "",
            "expires_at_1": "",
            "review_dates": "[]",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    authorisation = Authorisation.objects.get(reference="DS/2026/77")
    assert authorisation.scheme_id == owen.scheme_id
    assert (authorisation.expires_at - authorisation.granted_at).days in range(89, 93)
