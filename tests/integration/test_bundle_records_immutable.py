"""What evidence left, to whom, and who downloaded it must stand as recorded: even the tables' owner is refused."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.utils import timezone

from evidence import bundles, services
from evidence.models import BundleAccess, BundleShare, HandoverBundle
from portal.jobs import job_fail
from tests.conftest import make_tasking
from tests.integration import bundle_helpers
from tests.integration.bundle_helpers import sign_schedules

# Fixtures from bundle_helpers, made visible to pytest in this module.
signing_key, ready_tasking, built = bundle_helpers.signing_key, bundle_helpers.ready_tasking, bundle_helpers.built

pytestmark = pytest.mark.postgres

READY_IS_FINAL = "UPDATE of ready bundle .* on evidence_handoverbundle is refused"
REQUEST_IS_FIXED = "UPDATE of the request of bundle .* on evidence_handoverbundle is refused"
SHARE_IS_FIXED = "UPDATE of share .* on evidence_bundleshare is refused"
REVOCATION_STANDS = "UPDATE of the revocation of share .* on evidence_bundleshare is refused"


def stored(row) -> dict:
    """Every column of `row` as the database holds it now."""
    fresh = type(row).objects.get(pk=row.pk)
    return {field.attname: getattr(fresh, field.attname) for field in fresh._meta.concrete_fields}


def assert_refused(row, change, match: str) -> None:
    """`change` fails with `match`, in a savepoint of its own so the test can still read, and `row` is as it was."""
    before = stored(row)
    with pytest.raises(DatabaseError, match=match), transaction.atomic():
        change()
    assert stored(row) == before


def sql(statement: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


@pytest.fixture
def queued(tasking, owen):
    """A bundle asked for and not yet built (a later version when `built` is there too)."""
    return HandoverBundle.objects.create(tasking=tasking, version=tasking.bundles.count() + 1, requested_by=owen)


@pytest.fixture
def another_tasking(lantern, owen):
    return make_tasking(lantern, owen, reference="OP-LANTERN-2")


@pytest.fixture
def share(built, carla, owen):
    return services.bundle_share(bundle=built, recipient=carla, until=timezone.now() + timedelta(days=30), by=owen)


@pytest.fixture
def access(built, carla):
    return BundleAccess.objects.create(bundle=built, user=carla, ip="203.0.113.7")


# --- downloads --------------------------------------------------------------------------------------------


def test_a_record_of_a_download_cannot_be_deleted(access):
    refusal = "DELETE on evidence_bundleaccess is refused"
    assert_refused(access, lambda: BundleAccess.objects.filter(pk=access.pk).delete(), refusal)
    assert_refused(access, lambda: sql("DELETE FROM evidence_bundleaccess WHERE id = %s", [access.pk]), refusal)


def test_a_record_of_a_download_cannot_be_altered(access, owen):
    refusal = "UPDATE on evidence_bundleaccess is refused"
    assert_refused(access, lambda: BundleAccess.objects.filter(pk=access.pk).update(user=owen), refusal)
    assert_refused(access, lambda: sql("UPDATE evidence_bundleaccess SET ip = '' WHERE id = %s", [access.pk]), refusal)


# --- bundles ----------------------------------------------------------------------------------------------


def test_a_built_bundle_cannot_be_deleted(built):
    assert_refused(built, built.delete, "DELETE on evidence_handoverbundle is refused")


def test_a_bundle_cannot_be_deleted_before_it_is_built_either(queued):
    assert_refused(
        queued,
        lambda: sql("DELETE FROM evidence_handoverbundle WHERE id = %s", [queued.pk]),
        "DELETE on evidence_handoverbundle is refused",
    )


def test_a_built_bundles_hash_cannot_be_changed(built):
    assert_refused(
        built, lambda: HandoverBundle.objects.filter(pk=built.pk).update(pdf_sha256="0" * 64), READY_IS_FINAL
    )


def test_a_built_bundles_version_cannot_be_changed(built):
    assert_refused(
        built,
        lambda: sql("UPDATE evidence_handoverbundle SET version = version + 1 WHERE id = %s", [built.pk]),
        READY_IS_FINAL,
    )


def test_a_built_bundle_cannot_be_moved_to_another_tasking(built, another_tasking):
    assert_refused(
        built, lambda: HandoverBundle.objects.filter(pk=built.pk).update(tasking=another_tasking), READY_IS_FINAL
    )


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("pdf_name", "bundles/forged.pdf"),
        ("package_name", "bundles/forged.zip"),
        ("package_sha256", "1" * 64),
        ("manifest", {"files": []}),
        ("page_count", 1),
        ("finished_at", timezone.now() - timedelta(days=365)),
        ("state", HandoverBundle.State.FAILED),
        ("error", "rebuilt"),
    ],
)
def test_nothing_else_about_a_built_bundle_can_be_changed(built, column, value):
    assert_refused(built, lambda: HandoverBundle.objects.filter(pk=built.pk).update(**{column: value}), READY_IS_FINAL)


def test_a_built_bundle_cannot_be_saved_again_even_unchanged(built):
    assert_refused(built, built.save, READY_IS_FINAL)


@pytest.mark.parametrize("column", ["version", "tasking", "requested_by", "requested_at"])
def test_what_was_asked_for_cannot_be_rewritten_while_a_bundle_waits(queued, column, another_tasking, carla):
    value = {
        "version": 2,
        "tasking": another_tasking,
        "requested_by": carla,
        "requested_at": queued.requested_at - timedelta(hours=1),
    }[column]
    assert_refused(
        queued, lambda: HandoverBundle.objects.filter(pk=queued.pk).update(**{column: value}), REQUEST_IS_FIXED
    )


def test_a_bundles_plan_is_fixed_once_and_never_replaced(queued):
    HandoverBundle.objects.filter(pk=queued.pk).update(plan={"chunks": [{"exhibits": [1]}]})
    refusal = "UPDATE of the plan of bundle .* on evidence_handoverbundle is refused"
    for other in ({"chunks": []}, {}):
        assert_refused(
            queued, lambda other=other: HandoverBundle.objects.filter(pk=queued.pk).update(plan=other), refusal
        )


# --- shares -----------------------------------------------------------------------------------------------


def test_a_share_cannot_be_deleted(share):
    assert_refused(share, share.delete, "DELETE on evidence_bundleshare is refused")
    assert_refused(
        share,
        lambda: sql("DELETE FROM evidence_bundleshare WHERE id = %s", [share.pk]),
        "DELETE on evidence_bundleshare is refused",
    )


def test_a_share_cannot_be_handed_to_another_recipient(share, owen):
    assert_refused(share, lambda: BundleShare.objects.filter(pk=share.pk).update(recipient=owen), SHARE_IS_FIXED)


def test_a_shares_end_date_cannot_be_moved(share):
    for until in (share.until + timedelta(days=365), share.until - timedelta(days=1)):
        assert_refused(
            share, lambda until=until: BundleShare.objects.filter(pk=share.pk).update(until=until), SHARE_IS_FIXED
        )


@pytest.mark.parametrize("column", ["bundle", "shared_by", "shared_at"])
def test_who_shared_what_and_when_cannot_be_rewritten(share, column, queued, carla):
    value = {"bundle": queued, "shared_by": carla, "shared_at": share.shared_at - timedelta(days=1)}[column]
    assert_refused(share, lambda: BundleShare.objects.filter(pk=share.pk).update(**{column: value}), SHARE_IS_FIXED)


def test_a_revoked_share_cannot_be_restored(share, owen):
    services.bundle_share_revoke(share=share, by=owen)
    assert_refused(
        share,
        lambda: BundleShare.objects.filter(pk=share.pk).update(revoked_at=None, revoked_by=None),
        REVOCATION_STANDS,
    )
    assert_refused(
        share,
        lambda: sql("UPDATE evidence_bundleshare SET revoked_at = NULL WHERE id = %s", [share.pk]),
        REVOCATION_STANDS,
    )


def test_a_revocation_cannot_be_recorded_again_by_someone_else_or_at_another_time(share, owen, ada):
    services.bundle_share_revoke(share=share, by=owen)
    share.refresh_from_db()
    assert_refused(share, lambda: BundleShare.objects.filter(pk=share.pk).update(revoked_by=ada), REVOCATION_STANDS)
    assert_refused(
        share,
        lambda: BundleShare.objects.filter(pk=share.pk).update(revoked_at=share.revoked_at + timedelta(days=1)),
        REVOCATION_STANDS,
    )


# --- what the portal does itself still works --------------------------------------------------------------


def test_a_bundle_built_end_to_end_is_recorded_once_as_ready(built):
    row = HandoverBundle.objects.get(pk=built.pk)
    assert row.state == HandoverBundle.State.READY
    assert len(row.pdf_sha256) == 64 and row.pdf_name and row.page_count and row.finished_at
    assert row.plan and row.manifest
    assert bundles.bundle_build(row) == row  # building it again leaves the ready bundle alone


def test_a_failed_build_can_be_sent_again_and_then_finished(ready_tasking, owen, signing_key):
    sign_schedules(ready_tasking, owen)
    bundle = bundles.bundle_request(tasking=ready_tasking, by=owen)
    plan = bundles.bundle_start(bundle)
    bundles.bundle_fail(bundle, "the worker was stopped")
    job_fail(job_id=bundles.bundle_job(bundle).pk, error="the worker was stopped")
    assert bundles.bundle_retry(bundle, by=owen)
    bundle.refresh_from_db()
    assert (bundle.state, bundle.plan) == (HandoverBundle.State.QUEUED, plan)
    finished = bundles.bundle_build(bundle)
    assert finished.state == HandoverBundle.State.READY and finished.plan == plan


def test_a_share_is_revoked_once(share, owen):
    services.bundle_share_revoke(share=share, by=owen)
    row = BundleShare.objects.get(pk=share.pk)
    assert row.revoked_at is not None and row.revoked_by == owen
    # Saving the share again as it stands is no change, so it is not refused.
    row.save()
    assert stored(row)["revoked_at"] == row.revoked_at
