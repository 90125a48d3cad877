"""Admin actions and the services behind them ask who is acting, not only whether they can see the list:
retrying jobs, withdrawing invitations, sharing bundles, and the safeguarding banner each try the wrong
role or the wrong scheme."""

import pytest
from django.core.exceptions import PermissionDenied

from portal.models import AuditEvent, Job
from tests.conftest import enrol_totp, mfa_login


def _action(client, url: str, action: str, *pks) -> None:
    client.post(url, {"action": action, "_selected_action": [str(pk) for pk in pks], "index": "0"})


@pytest.fixture
def failed_job(lantern):
    return Job.objects.create(kind="portal.ping", scheme=lantern, state=Job.State.FAILED, last_error="Broke.")


def test_an_officer_who_may_only_view_jobs_cannot_send_one_again(client, owen, failed_job):
    mfa_login(client, owen, enrol_totp(owen))
    assert "retry_failed" not in client.get("/admin/portal/job/").content.decode()
    _action(client, "/admin/portal/job/", "retry_failed", failed_job.pk)
    failed_job.refresh_from_db()
    assert failed_job.state == Job.State.FAILED


def test_the_scheme_administrator_sends_a_failed_job_again(client, ada, failed_job):
    mfa_login(client, ada, enrol_totp(ada))
    _action(client, "/admin/portal/job/", "retry_failed", failed_job.pk)
    failed_job.refresh_from_db()
    assert failed_job.state == Job.State.QUEUED


def test_withdrawing_an_invitation_goes_through_the_service_and_is_audited(client, owen, lantern):
    from volunteers.models import Invitation
    from volunteers.services import invitation_create

    invitation, _ = invitation_create(scheme=lantern, email="newbie@lantern.example", full_name="New", by=owen)
    mfa_login(client, owen, enrol_totp(owen))
    _action(client, "/admin/volunteers/invitation/", "revoke", invitation.pk)
    assert Invitation.objects.get(pk=invitation.pk).revoked_at is not None
    assert AuditEvent.objects.filter(action="invitation.revoke", object_id=str(invitation.pk)).exists()


def test_another_schemes_officer_cannot_withdraw_an_invitation(owen, otto, lantern):
    from volunteers.services import invitation_create, invitation_revoke

    invitation, _ = invitation_create(scheme=lantern, email="newbie@lantern.example", full_name="New", by=owen)
    with pytest.raises(PermissionDenied):
        invitation_revoke(invitation=invitation, by=otto)


@pytest.mark.parametrize("who", ["otto", "ada"])
def test_only_an_officer_of_the_bundles_scheme_shares_or_revokes_it(request, who, lantern, owen, carla, tasking):
    from datetime import timedelta

    from django.utils import timezone

    from evidence import services
    from evidence.models import BundleShare, HandoverBundle

    bundle = HandoverBundle.objects.create(tasking=tasking, version=1, requested_by=owen, state="ready")
    person = request.getfixturevalue(who)
    until = timezone.now() + timedelta(days=7)
    with pytest.raises(PermissionDenied):
        services.bundle_share(bundle=bundle, recipient=carla, until=until, by=person)
    share = services.bundle_share(bundle=bundle, recipient=carla, until=until, by=owen)
    with pytest.raises(PermissionDenied):
        services.bundle_share_revoke(share=share, by=person)
    assert BundleShare.objects.get(pk=share.pk).revoked_at is None


def test_a_bundles_job_belongs_to_the_bundles_scheme_so_its_officers_see_it(
    lantern, tasking, owen, django_capture_on_commit_callbacks
):
    from evidence.models import HandoverBundle
    from portal.jobs import job_create

    bundle = HandoverBundle.objects.create(tasking=tasking, version=1, requested_by=owen)
    with django_capture_on_commit_callbacks(execute=False):
        job = job_create(kind="evidence.bundle_build", obj=bundle, by=None)
    assert job.scheme_id == lantern.pk


def test_the_safeguarding_banner_shows_only_alerts_of_the_officers_own_scheme(client, otto, tasking, assigned_vera):
    from evidence import services
    from evidence.models import Tasking

    services.safeguarding_raise(tasking=tasking, by=assigned_vera.user, note="She is 12.")
    Tasking.objects.filter(pk=tasking.pk).update(handler=otto)  # Otto handled it, then moved scheme
    mfa_login(client, otto, enrol_totp(otto))
    assert tasking.reference not in client.get("/admin/").content.decode()


@pytest.mark.parametrize("who", ["volunteer", "welfare", "scheme_admin", "other_officer"])
def test_only_a_supervising_officer_acknowledges_a_safeguarding_alert(
    who, tasking, assigned_vera, wendy, ada, otto, owen
):
    """The rule is the service's, so no caller — the admin, the home page, a script — can let the wrong
    person say an alert has been taken on."""
    from evidence import services

    alert = services.safeguarding_raise(tasking=tasking, by=assigned_vera.user, note="She is 12.")
    person = {"volunteer": assigned_vera.user, "welfare": wendy, "scheme_admin": ada, "other_officer": otto}[who]
    with pytest.raises(PermissionDenied):
        services.safeguarding_acknowledge(alert=alert, by=person)
    alert.refresh_from_db()
    assert alert.acknowledged_at is None
    services.safeguarding_acknowledge(alert=alert, by=owen)
    alert.refresh_from_db()
    assert alert.acknowledged_by == owen
