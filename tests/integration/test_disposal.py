"""Two-person disposal of an exhibit's content, and everyone who may not.

Vera produced the exhibits of Owen's tasking OP-LANTERN-1 in Lantern. The case ended in no further action long
enough ago for its material to be disposed of. Owen proposes; Olive, another Lantern officer, approves. Owen may
not approve his own proposal; Otto (Harbour's officer), Wendy (welfare), Carla (court) and Vera may do neither.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from evidence.custody import custody_append, custody_verify_exhibit
from evidence.models import CustodyEvent, Exhibit
from portal import roles
from portal.models import AuditEvent
from retention import services
from retention.disposal import DisposalRefused, disposal_approve, disposal_propose, disposal_refuse
from retention.models import DisposalProposal, Tombstone
from retention.selectors import disposal_status
from tests.conftest import make_person, on_postgres
from tests.integration import bundle_helpers
from tests.integration.bundle_helpers import PNG, submit_exhibit

REASON = "Retention period over: no further action, no appeal, no claim."

signing_key = bundle_helpers.signing_key  # a fixture: a disposal ends with a certificate signed by the scheme's key


@pytest.fixture
def olive(lantern):
    return make_person("olive@lantern.example", roles.OFFICER, lantern)


@pytest.fixture
def exhibit(assigned_vera, tasking, tmp_path):
    return submit_exhibit(assigned_vera.user, tasking, tmp_path, "shot.png", PNG, "image/png")


@pytest.fixture
def past_its_date(exhibit, tasking, owen, signing_key):
    """The case closed (no further action) long enough ago: the exhibit may be disposed of now."""
    services.outcome_record(
        tasking=tasking, by=owen, outcome="nfa", decided_on=timezone.localdate() - timedelta(days=30)
    )
    assert disposal_status(exhibit).may_dispose_now, disposal_status(exhibit).summary
    return exhibit


def hold_on(target, by):
    return services.hold_place(
        target=target,
        kind="civil_claim",
        reason="Civil claim against the force, ref CL-2027-1.",
        review_on=timezone.localdate() + timedelta(days=90),
        by=by,
    )


def test_two_officers_dispose_of_an_exhibit_and_a_tombstone_custody_event_and_audit_remain(past_its_date, owen, olive):
    exhibit = past_its_date
    assert default_storage.exists(exhibit.stored_name)
    proposal = disposal_propose(exhibit=exhibit, by=owen, reason=REASON)
    assert proposal.state == "proposed" and proposal.rule == disposal_status(exhibit).rule

    tombstone = disposal_approve(proposal=proposal, by=olive)

    exhibit = Exhibit.objects.get(pk=exhibit.pk)
    assert exhibit.disposed_at is not None
    assert not default_storage.exists(exhibit.stored_name)
    assert (tombstone.reference, tombstone.sha256, tombstone.size) == (exhibit.reference, exhibit.sha256, exhibit.size)
    assert tombstone.proposed_by == owen and tombstone.approved_by == olive and tombstone.rule == proposal.rule
    assert tombstone.legal_source and tombstone.rule_reason and "shot.png" in tombstone.what
    last = CustodyEvent.objects.filter(exhibit=exhibit).order_by("-id").first()
    assert last.action == "disposed" and last.actor_email == olive.email
    assert last.detail["sha256"] == exhibit.sha256 and last.detail["tombstone"] == tombstone.pk
    assert DisposalProposal.objects.get(pk=proposal.pk).state == "approved"
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"retention.disposal_propose", "retention.disposal_approve", "retention.disposal_content_removed"} <= actions
    # verify_custody understands a disposed exhibit: no file, by design.
    assert custody_verify_exhibit(exhibit) is None
    call_command("verify_custody")


def test_the_proposer_cannot_approve_their_own_proposal(past_its_date, owen):
    proposal = disposal_propose(exhibit=past_its_date, by=owen, reason=REASON)
    with pytest.raises(DisposalRefused, match="two people"):
        disposal_approve(proposal=proposal, by=owen)
    assert default_storage.exists(past_its_date.stored_name) and not Tombstone.objects.exists()


def test_nothing_is_disposed_of_before_its_date(exhibit, owen):
    # An open case: no disposal date at all.
    with pytest.raises(DisposalRefused, match="may not be disposed of now"):
        disposal_propose(exhibit=exhibit, by=owen, reason=REASON)
    assert not DisposalProposal.objects.exists()


def test_a_proposal_needs_a_reason(past_its_date, owen):
    with pytest.raises(ValidationError):
        disposal_propose(exhibit=past_its_date, by=owen, reason="  ")


def test_a_hold_stops_a_proposal(past_its_date, owen):
    hold_on(past_its_date.tasking, owen)
    with pytest.raises(DisposalRefused, match="Held"):
        disposal_propose(exhibit=past_its_date, by=owen, reason=REASON)


def test_a_hold_placed_after_the_proposal_stops_the_approval(past_its_date, owen, olive):
    proposal = disposal_propose(exhibit=past_its_date, by=owen, reason=REASON)
    hold_on(past_its_date, olive)
    with pytest.raises(DisposalRefused, match="Held"):
        disposal_approve(proposal=proposal, by=olive)
    assert default_storage.exists(past_its_date.stored_name)
    assert Exhibit.objects.get(pk=past_its_date.pk).disposed_at is None and not Tombstone.objects.exists()


def test_a_proposal_is_approved_once(past_its_date, owen, olive, lantern):
    proposal = disposal_propose(exhibit=past_its_date, by=owen, reason=REASON)
    with pytest.raises(DisposalRefused, match="already awaiting approval"):
        disposal_propose(exhibit=past_its_date, by=olive, reason=REASON)
    disposal_approve(proposal=proposal, by=olive)
    third = make_person("oscar@lantern.example", roles.OFFICER, lantern)
    with pytest.raises(DisposalRefused, match="already approved"):
        disposal_approve(proposal=proposal, by=third)
    with pytest.raises(DisposalRefused, match="already disposed of"):
        disposal_propose(exhibit=past_its_date, by=owen, reason=REASON)


def test_a_refused_proposal_stays_and_disposes_of_nothing(past_its_date, owen, olive):
    proposal = disposal_propose(exhibit=past_its_date, by=owen, reason=REASON)
    with pytest.raises(ValidationError, match="Enter why you refuse"):  # a refusal must say why, wherever it comes from
        disposal_refuse(proposal=proposal, by=olive, note="  ")
    assert DisposalProposal.objects.get(pk=proposal.pk).state == "proposed"
    disposal_refuse(proposal=proposal, by=olive, note="The force's civil team asked us to wait.")
    assert DisposalProposal.objects.get(pk=proposal.pk).state == "refused"
    assert default_storage.exists(past_its_date.stored_name)


@pytest.mark.parametrize("who", ["otto", "wendy", "carla", "vera", "ada", "root"])
def test_nobody_but_the_schemes_officers_proposes_or_approves(request, who, past_its_date, owen):
    person = request.getfixturevalue(who)
    person = getattr(person, "user", person)
    with pytest.raises(DisposalRefused):
        disposal_propose(exhibit=past_its_date, by=person, reason=REASON)
    proposal = disposal_propose(exhibit=past_its_date, by=owen, reason=REASON)
    with pytest.raises(DisposalRefused):
        disposal_approve(proposal=proposal, by=person)
    assert default_storage.exists(past_its_date.stored_name) and not Tombstone.objects.exists()


def test_verify_custody_fails_when_the_chain_continues_after_disposal(past_its_date, owen, olive):
    disposal_approve(proposal=disposal_propose(exhibit=past_its_date, by=owen, reason=REASON), by=olive)
    custody_append(exhibit=past_its_date, action=CustodyEvent.Action.VIEWED, actor=owen)
    assert "continues after its disposal" in custody_verify_exhibit(Exhibit.objects.get(pk=past_its_date.pk))
    with pytest.raises(CommandError, match="continues after its disposal"):
        call_command("verify_custody")


def test_verify_custody_fails_when_content_is_left_behind(past_its_date, owen, olive):
    disposal_approve(proposal=disposal_propose(exhibit=past_its_date, by=owen, reason=REASON), by=olive)
    default_storage.save(past_its_date.stored_name, __import__("io").BytesIO(b"left behind"))
    assert "still stored" in custody_verify_exhibit(Exhibit.objects.get(pk=past_its_date.pk))


def test_verify_custody_fails_when_the_tombstone_disagrees(past_its_date, owen, olive):
    tombstone = disposal_approve(proposal=disposal_propose(exhibit=past_its_date, by=owen, reason=REASON), by=olive)
    with transaction.atomic():
        if on_postgres():  # as a database superuser would, past the triggers
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL session_replication_role = replica")
        Tombstone.objects.filter(pk=tombstone.pk).update(sha256="0" * 64)
    assert "tombstone" in custody_verify_exhibit(Exhibit.objects.get(pk=past_its_date.pk))


def test_verify_custody_fails_when_an_exhibit_is_marked_disposed_without_a_disposal(exhibit):
    Exhibit.objects.filter(pk=exhibit.pk).update(disposed_at=timezone.now())
    assert "records no disposal" in custody_verify_exhibit(Exhibit.objects.get(pk=exhibit.pk))


@pytest.mark.postgres
def test_the_database_refuses_to_change_or_delete_a_tombstone_a_proposal_or_an_exhibit(past_its_date, owen, olive):
    assert on_postgres()
    tombstone = disposal_approve(proposal=disposal_propose(exhibit=past_its_date, by=owen, reason=REASON), by=olive)
    for attempt in (
        lambda: Tombstone.objects.filter(pk=tombstone.pk).update(sha256="0" * 64),
        lambda: Tombstone.objects.filter(pk=tombstone.pk)._raw_delete("default"),
        lambda: DisposalProposal.objects.filter(pk=tombstone.proposal_id).update(state="refused"),
        lambda: DisposalProposal.objects.filter(pk=tombstone.proposal_id)._raw_delete("default"),
        lambda: Exhibit.objects.filter(pk=past_its_date.pk).update(disposed_at=None),
        lambda: Exhibit.objects.filter(pk=past_its_date.pk)._raw_delete("default"),
    ):
        with pytest.raises(DatabaseError, match="refused"), transaction.atomic():
            attempt()


def test_on_a_versioned_bucket_every_version_of_the_content_is_removed(
    object_storage, assigned_vera, tasking, tmp_path, owen, olive, signing_key
):
    client = object_storage.server.client()
    client.put_bucket_versioning(Bucket=object_storage.bucket, VersioningConfiguration={"Status": "Enabled"})
    exhibit = submit_exhibit(assigned_vera.user, tasking, tmp_path, "shot.png", PNG, "image/png")
    key = next(name for name in object_storage.keys(prefix="") if name.endswith(exhibit.stored_name))
    # An earlier version of the object stays behind a newer one (a key rotation rewrites every object).
    client.put_object(Bucket=object_storage.bucket, Key=key, Body=object_storage.read_raw(key))
    assert len(client.list_object_versions(Bucket=object_storage.bucket, Prefix=key)["Versions"]) == 2
    services.outcome_record(
        tasking=tasking, by=owen, outcome="nfa", decided_on=timezone.localdate() - timedelta(days=30)
    )

    disposal_approve(proposal=disposal_propose(exhibit=exhibit, by=owen, reason=REASON), by=olive)

    left = client.list_object_versions(Bucket=object_storage.bucket, Prefix=key)
    assert not left.get("Versions") and not left.get("DeleteMarkers")
    assert custody_verify_exhibit(Exhibit.objects.get(pk=exhibit.pk)) is None


def test_a_disposed_exhibit_is_described_not_opened(past_its_date, owen, olive):
    from tests.integration.test_retention import signed_in, text_of

    disposal_approve(proposal=disposal_propose(exhibit=past_its_date, by=owen, reason=REASON), by=olive)
    client = signed_in(owen)
    download = client.get(f"/exhibits/{past_its_date.pk}/download/")
    assert download.status_code == 410 and "has been disposed of" in download.content.decode()
    review = client.get(f"/admin/evidence/exhibit/{past_its_date.pk}/review/")
    assert "was disposed of on" in text_of(review) and "under the retention rule" in text_of(review)
    assert client.get(f"/admin/evidence/exhibit/{past_its_date.pk}/preview/").status_code == 404
    record = text_of(client.get(f"/admin/evidence/exhibit/{past_its_date.pk}/change/"))
    assert "See its record · disposed of" in record and "Download the original" not in record


def test_no_bundle_is_requested_for_a_tasking_whose_exhibit_was_disposed_of(past_its_date, owen, olive):
    from evidence.bundles.requests import bundle_missing

    disposal_approve(proposal=disposal_propose(exhibit=past_its_date, by=owen, reason=REASON), by=olive)
    assert any("was disposed of on" in line for line in bundle_missing(past_its_date.tasking))


# --- through the admin, as officers use it -----------------------------------------------------------------------


def test_officers_review_propose_and_approve_after_giving_their_password_again(past_its_date, owen, olive):
    from django.urls import reverse

    from tests.conftest import PASSWORD
    from tests.integration.test_retention import signed_in, text_of

    exhibit = past_its_date
    owen_client, olive_client = signed_in(owen), signed_in(olive)
    review = text_of(owen_client.get(reverse("admin:retention_disposal_review")))
    assert exhibit.reference in review and "may be disposed of from" in review.lower()
    propose = reverse("admin:retention_disposal_propose", args=[exhibit.pk])
    assert "Enter why the exhibit" in text_of(owen_client.post(propose, {"reason": ""}))
    done = owen_client.post(propose, {"reason": REASON}, follow=True)
    assert "another officer must now approve it" in done.content.decode()
    proposal = DisposalProposal.objects.get(exhibit=exhibit)
    decide = reverse("admin:retention_disposal_decide", args=[proposal.pk])
    # Owen cannot approve his own: he is offered withdrawal only, and an approval he posts withdraws nothing.
    assert "Withdraw the proposal" in text_of(owen_client.get(decide))
    assert "Approve or refuse" in text_of(olive_client.get(reverse("admin:retention_disposal_review")))
    # Olive approves: first her password again.
    asked = olive_client.post(decide, {"decision": "approve", "note": ""})
    assert asked.status_code == 302 and asked["Location"].startswith(reverse("account_reauthenticate"))
    assert Exhibit.objects.get(pk=exhibit.pk).disposed_at is None
    olive_client.post(asked["Location"], {"password": PASSWORD})
    approved = olive_client.post(decide, {"decision": "approve", "note": ""}, follow=True)
    assert f"Exhibit {exhibit.reference} disposed of" in approved.content.decode()
    assert Exhibit.objects.get(pk=exhibit.pk).disposed_at is not None
    assert not default_storage.exists(exhibit.stored_name)
    assert "Nothing of your scheme may be disposed of now" in text_of(
        olive_client.get(reverse("admin:retention_disposal_review"))
    )


def test_a_second_officer_refuses_with_a_reason(past_its_date, owen, olive):
    from django.urls import reverse

    from tests.integration.test_retention import signed_in, text_of

    proposal = disposal_propose(exhibit=past_its_date, by=owen, reason=REASON)
    decide = reverse("admin:retention_disposal_decide", args=[proposal.pk])
    client = signed_in(olive)
    assert "Enter why you refuse" in text_of(client.post(decide, {"decision": "refuse", "note": ""}))
    client.post(decide, {"decision": "refuse", "note": "A civil claim is expected."})
    assert DisposalProposal.objects.get(pk=proposal.pk).state == "refused"
    assert default_storage.exists(past_its_date.stored_name)


@pytest.mark.parametrize("who", ["otto", "wendy", "ada", "root"])
def test_the_disposal_pages_are_refused_to_everyone_else(request, who, past_its_date, owen):
    from django.urls import reverse

    from tests.integration.test_retention import signed_in

    proposal = disposal_propose(exhibit=past_its_date, by=owen, reason=REASON)
    client = signed_in(request.getfixturevalue(who))
    assert client.get(reverse("admin:retention_disposal_review")).status_code in (403, 200)
    if who == "otto":  # his own scheme's list: none of Lantern's exhibits
        assert past_its_date.reference not in client.get(reverse("admin:retention_disposal_review")).content.decode()
    for url in (
        reverse("admin:retention_disposal_propose", args=[past_its_date.pk]),
        reverse("admin:retention_disposal_decide", args=[proposal.pk]),
    ):
        assert client.get(url).status_code in (403, 404)
        assert client.post(url, {"reason": REASON, "decision": "approve", "note": "x"}).status_code in (403, 404)
    assert DisposalProposal.objects.get(pk=proposal.pk).state == "proposed"
    assert default_storage.exists(past_its_date.stored_name)


@pytest.mark.parametrize("who", ["owen", "root"])
def test_nothing_is_deleted_any_other_way_through_the_admin(request, who, past_its_date, olive, owen):
    from django.urls import reverse

    from tests.integration.test_retention import signed_in

    tombstone = disposal_approve(proposal=disposal_propose(exhibit=past_its_date, by=owen, reason=REASON), by=olive)
    client = signed_in(request.getfixturevalue(who))
    for url in (
        reverse("admin:evidence_exhibit_delete", args=[past_its_date.pk]),
        reverse("admin:retention_tombstone_delete", args=[tombstone.pk]),
        reverse("admin:retention_disposalproposal_delete", args=[tombstone.proposal_id]),
    ):
        assert client.post(url, {"post": "yes"}).status_code in (403, 404), url
    bulk = client.post(
        reverse("admin:evidence_exhibit_changelist"),
        {"action": "delete_selected", "_selected_action": [past_its_date.pk], "post": "yes"},
    )
    assert bulk.status_code in (200, 302)
    assert Exhibit.objects.filter(pk=past_its_date.pk).exists() and Tombstone.objects.filter(pk=tombstone.pk).exists()
    assert DisposalProposal.objects.filter(pk=tombstone.proposal_id).exists()


def test_officers_find_the_review_list_from_their_home_and_the_proposals_list(past_its_date, owen, olive, wendy):
    from django.urls import reverse

    from tests.integration.test_retention import signed_in, text_of

    review = reverse("admin:retention_disposal_review")
    owen_client = signed_in(owen)
    home = owen_client.get(reverse("admin:index")).content.decode()
    assert review in home and "Disposal review" in home
    assert review in owen_client.get(reverse("admin:retention_disposalproposal_changelist")).content.decode()
    proposal = disposal_propose(exhibit=past_its_date, by=owen, reason=REASON)
    # The second officer is shown what awaits her approval; the proposer is not asked to approve his own.
    olive_home = signed_in(olive).get(reverse("admin:index")).content.decode()
    assert f"Approve or refuse the disposal of {past_its_date.reference}" in olive_home
    assert reverse("admin:retention_disposal_decide", args=[proposal.pk]) in olive_home
    assert "Approve or refuse" not in text_of(owen_client.get(reverse("admin:index")))
    # Welfare staff have no disposal task.
    assert "Disposal review" not in signed_in(wendy).get(reverse("admin:index")).content.decode()
