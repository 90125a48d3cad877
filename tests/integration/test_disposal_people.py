"""Two-person disposal of a departed volunteer's records, one kind at a time, and everyone who may not.

Vera was vetted and accredited in Lantern by Owen, screened by Wendy (welfare), passed a training module, and
withdrew seven years ago: six years on, each kind of her records may go. Owen proposes disposing of her vetting or
training records and Olive, another Lantern officer, approves; her welfare records are Wendy's and Wyn's (welfare
officers) to dispose of, and the officers never see them. Dan is still volunteering: nothing of his is touched.
Otto (Harbour's officer), Carla (court), Ada (Lantern's administrator) and Vera herself may do nothing.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from dateutil.relativedelta import relativedelta
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pypdf import PdfReader

from portal import roles
from portal.models import AuditEvent
from retention import services
from retention.disposal import complete_disposals
from retention.models import DisposalCertificate, PersonDisposalProposal, PersonTombstone
from retention.person_disposal import (
    RECORD_MODELS,
    PersonDisposalRefused,
    person_disposal_approve,
    person_disposal_propose,
    person_disposal_refuse,
    person_disposal_review,
    records_held,
)
from retention.selectors import PERSON_RECORDS, left_on, person_records_status, person_statuses
from tests.conftest import (
    PASSWORD,
    clear_vetting,
    invite_and_apply,
    make_person,
    module_data,
    on_postgres,
    pass_module,
    screen,
)
from tests.integration import bundle_helpers
from training import services as training_services
from training.certificates import certificate_store_pdf
from training.models import Attempt, Certificate
from volunteers.models import ScreeningRecord, StatusChange, VettingCheck, VettingRecord
from volunteers.personal_data import personal_data_for, personal_data_pdf
from volunteers.services import volunteer_transition

REASON = "Six years since she left; no claim, no review, no hold."
signing_key = bundle_helpers.signing_key  # a fixture: each disposal ends with a certificate signed by the scheme's key


@pytest.fixture
def olive(lantern):
    return make_person("olive@lantern.example", roles.OFFICER, lantern, full_name="DI Olive Officer")


@pytest.fixture
def wyn(lantern):
    return make_person("wyn@lantern.example", roles.WELFARE, lantern, full_name="Wyn Welfare")


@pytest.fixture
def module(db):
    return training_services.module_publish(data=module_data())


def a_volunteer(lantern, owen, wendy, module, email, name):
    volunteer = invite_and_apply(lantern, owen, email, name)
    clear_vetting(volunteer, owen)
    screen(volunteer.user, wendy, notes="Clinical note: sleeping badly after exposure.")
    certificate_store_pdf(pass_module(volunteer.user, module).certificate)
    volunteer.refresh_from_db()
    return volunteer_transition(volunteer=volunteer, to="accredited", by=owen, reason="All checks complete.")


@pytest.fixture
def dan(lantern, owen, wendy, module, conduct):
    """Still volunteering: his records stay whatever happens to Vera's."""
    return a_volunteer(lantern, owen, wendy, module, "dan@lantern.example", "Dan Stays")


@pytest.fixture
def gone(lantern, owen, wendy, module, conduct, signing_key):
    """Vera, who withdrew seven years ago (her leaving backdated: the rules count from it)."""
    volunteer = a_volunteer(lantern, owen, wendy, module, "vera.gone@lantern.example", "Vera Gone")
    volunteer = volunteer_transition(volunteer=volunteer, to="withdrawn", by=owen, reason="Moved abroad.")
    StatusChange.objects.filter(volunteer=volunteer, to_status="withdrawn").update(
        at=timezone.now() - relativedelta(years=7)
    )
    return volunteer


def hold_on(person, by):
    return services.hold_place(
        target=person,
        kind="civil_claim",
        reason="She is suing the scheme, ref CL-2031-4.",
        review_on=timezone.localdate() + timedelta(days=90),
        by=by,
    )


def counts_of(user) -> dict[str, dict[str, int]]:
    return {kind: records_held(user, kind) for kind in RECORD_MODELS}


def test_every_kind_of_persons_record_has_its_place_in_the_deletion_order():
    listed = {model._meta.label_lower for models in RECORD_MODELS.values() for model, _, _ in models}
    assert listed == set(PERSON_RECORDS)
    assert all(
        PERSON_RECORDS[model._meta.label_lower] == kind for kind, rows in RECORD_MODELS.items() for model, _, _ in rows
    )


def test_each_kind_appears_on_the_review_list_only_once_past_its_date(gone, owen, wendy, lantern):
    left = left_on(gone.user)
    # Lantern keeps training records eight years, welfare records nine: each kind has its own date.
    from retention.models import SchemeRetention

    SchemeRetention.objects.create(scheme=lantern, training_years=8, welfare_years=9)
    officer_kinds, welfare_kinds = ("vetting", "training"), ("welfare",)

    def listed(kinds, years):
        today = left + relativedelta(years=years)
        return [(row.person, row.kind) for row in person_disposal_review(lantern.pk, kinds, today=today)]

    assert listed(officer_kinds, 5) == [] and listed(welfare_kinds, 5) == []
    assert listed(officer_kinds, 6) == [(gone.user, "vetting")]
    assert listed(officer_kinds, 8) == [(gone.user, "vetting"), (gone.user, "training")]
    assert listed(welfare_kinds, 8) == []
    assert listed(welfare_kinds, 9) == [(gone.user, "welfare")]
    # Row by row, the list says what person_records_status says alone.
    today = left + relativedelta(years=9)
    for row in person_disposal_review(lantern.pk, ("vetting", "training", "welfare"), today=today):
        alone = person_records_status(gone.user, row.kind, today=today)
        assert (row.status.earliest, row.status.rule, row.status.reason, row.status.source) == (
            alone.earliest,
            alone.rule,
            alone.reason,
            alone.source,
        )


def test_a_hold_on_the_person_keeps_her_records_off_the_list_and_stops_a_proposal(gone, owen, wendy, lantern):
    hold_on(gone.user, owen)
    assert person_disposal_review(lantern.pk, ("vetting", "training", "welfare")) == []
    with pytest.raises(PersonDisposalRefused, match="Held"):
        person_disposal_propose(person=gone.user, kind="vetting", by=owen, reason=REASON)
    with pytest.raises(PersonDisposalRefused, match="Held"):
        person_disposal_propose(person=gone.user, kind="welfare", by=wendy, reason=REASON)
    assert not PersonDisposalProposal.objects.exists()


def test_a_hold_placed_after_the_proposal_stops_the_approval(gone, owen, olive):
    proposal = person_disposal_propose(person=gone.user, kind="vetting", by=owen, reason=REASON)
    hold_on(gone.user, olive)
    before = counts_of(gone.user)
    with pytest.raises(PersonDisposalRefused, match="Held"):
        person_disposal_approve(proposal=proposal, by=olive)
    assert counts_of(gone.user) == before and not PersonTombstone.objects.exists()
    assert PersonDisposalProposal.objects.get(pk=proposal.pk).state == "proposed"


def test_nothing_is_disposed_of_while_she_is_in_the_scheme_or_before_its_date(dan, gone, owen):
    with pytest.raises(PersonDisposalRefused, match="may not be disposed of now"):
        person_disposal_propose(person=dan.user, kind="vetting", by=owen, reason=REASON)
    StatusChange.objects.filter(volunteer=gone, to_status="withdrawn").update(
        at=timezone.now() - relativedelta(years=5)
    )
    with pytest.raises(PersonDisposalRefused, match="may not be disposed of now"):
        person_disposal_propose(person=gone.user, kind="vetting", by=owen, reason=REASON)


def test_a_proposal_needs_a_reason(gone, owen):
    with pytest.raises(ValidationError):
        person_disposal_propose(person=gone.user, kind="vetting", by=owen, reason="  ")


def test_the_proposer_cannot_approve_their_own_proposal(gone, owen, wendy):
    proposal = person_disposal_propose(person=gone.user, kind="training", by=owen, reason=REASON)
    with pytest.raises(PersonDisposalRefused, match="two people"):
        person_disposal_approve(proposal=proposal, by=owen)
    welfare = person_disposal_propose(person=gone.user, kind="welfare", by=wendy, reason=REASON)
    with pytest.raises(PersonDisposalRefused, match="two people"):
        person_disposal_approve(proposal=welfare, by=wendy)
    assert not PersonTombstone.objects.exists()


@pytest.mark.parametrize("kind", ["vetting", "training"])
def test_officers_dispose_of_vetting_and_training_welfare_officers_may_not(gone, owen, olive, wendy, wyn, kind):
    with pytest.raises(PersonDisposalRefused):
        person_disposal_propose(person=gone.user, kind=kind, by=wendy, reason=REASON)
    proposal = person_disposal_propose(person=gone.user, kind=kind, by=owen, reason=REASON)
    with pytest.raises(PersonDisposalRefused):
        person_disposal_approve(proposal=proposal, by=wyn)
    with pytest.raises(PersonDisposalRefused):
        person_disposal_refuse(proposal=proposal, by=wyn, note="No.")


def test_welfare_records_are_the_welfare_officers_to_dispose_of_never_the_officers(
    gone, owen, olive, wendy, wyn, lantern
):
    with pytest.raises(PersonDisposalRefused, match="welfare officer"):
        person_disposal_propose(person=gone.user, kind="welfare", by=owen, reason=REASON)
    proposal = person_disposal_propose(person=gone.user, kind="welfare", by=wendy, reason=REASON)
    with pytest.raises(PersonDisposalRefused):
        person_disposal_approve(proposal=proposal, by=olive)
    # The officers' list shows no welfare row, not even that one awaits approval.
    officer_rows = person_disposal_review(lantern.pk, ("vetting", "training"))
    assert {row.kind for row in officer_rows} == {"vetting", "training"}
    tombstone = person_disposal_approve(proposal=proposal, by=wyn)
    assert tombstone.kind == "welfare" and not ScreeningRecord.objects.filter(person=gone.user).exists()
    # Its steps are audited in the welfare compartment.
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"welfare.records_disposal_propose", "welfare.records_disposal_approve"} <= actions


def test_no_one_else_proposes_approves_or_refuses(gone, owen, otto, carla, ada, root):
    proposal = person_disposal_propose(person=gone.user, kind="vetting", by=owen, reason=REASON)
    for someone in (otto, carla, ada, root, gone.user):
        for kind in ("vetting", "training", "welfare"):
            with pytest.raises(PersonDisposalRefused):
                person_disposal_propose(person=gone.user, kind=kind, by=someone, reason=REASON)
        with pytest.raises(PersonDisposalRefused):
            person_disposal_approve(proposal=proposal, by=someone)
        with pytest.raises(PersonDisposalRefused):
            person_disposal_refuse(proposal=proposal, by=someone, note="No.")
    assert PersonDisposalProposal.objects.get(pk=proposal.pk).state == "proposed"


def test_a_refused_or_withdrawn_proposal_stays_and_nothing_is_disposed_of(gone, owen, olive):
    proposal = person_disposal_propose(person=gone.user, kind="vetting", by=owen, reason=REASON)
    with pytest.raises(ValidationError, match="Enter why you refuse"):
        person_disposal_refuse(proposal=proposal, by=olive, note="")
    person_disposal_refuse(proposal=proposal, by=olive, note="Her claim is expected.")
    again = person_disposal_propose(person=gone.user, kind="vetting", by=owen, reason=REASON)
    person_disposal_refuse(proposal=again, by=owen, note="")
    states = list(PersonDisposalProposal.objects.order_by("pk").values_list("state", flat=True))
    assert states == ["refused", "withdrawn"] and records_held(gone.user, "vetting")
    with pytest.raises(PersonDisposalRefused, match="already"):
        person_disposal_approve(proposal=proposal, by=olive)


def test_approval_deletes_that_kind_of_her_records_only_and_keeps_the_day_she_left(gone, dan, owen, olive):
    user = gone.user
    before_dates = {kind: status.earliest for kind, status in person_statuses(user).items()}
    dan_before = counts_of(dan.user)
    held = records_held(user, "training")
    files = list(Certificate.objects.filter(user=user).values_list("pdf_path", flat=True))
    assert files and all(default_storage.exists(name) for name in files)
    vetting_before, welfare_before = records_held(user, "vetting"), records_held(user, "welfare")

    proposal = person_disposal_propose(person=user, kind="training", by=owen, reason=REASON)
    tombstone = person_disposal_approve(proposal=proposal, by=olive)

    assert records_held(user, "training") == {}
    assert not Attempt.objects.filter(user=user).exists()
    assert records_held(user, "vetting") == vetting_before and records_held(user, "welfare") == welfare_before
    assert counts_of(dan.user) == dan_before
    assert not any(default_storage.exists(name) for name in files)
    # The day she left stays, so the other kinds' dates do not move.
    assert {kind: status.earliest for kind, status in person_statuses(user).items()} == before_dates
    assert (tombstone.person_name, tombstone.person_email, tombstone.kind) == ("Vera Gone", user.email, "training")
    assert tombstone.counts == held and tombstone.files == files
    assert (tombstone.proposed_by, tombstone.approved_by, tombstone.rule) == (owen, olive, "training_after_leaving")
    assert tombstone.legal_source and tombstone.rule_reason and tombstone.left_on == left_on(user)
    assert PersonDisposalProposal.objects.get(pk=proposal.pk).state == "approved"
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "retention.person_disposal_propose",
        "retention.person_disposal_approve",
        "retention.person_disposal_files_removed",
        "retention.disposal_certificate_issued",
    } <= actions
    # Done once: nothing more to propose, and the list no longer shows it.
    with pytest.raises(PersonDisposalRefused, match="already disposed of"):
        person_disposal_propose(person=user, kind="training", by=owen, reason=REASON)


def test_vetting_disposal_keeps_only_the_status_change_recording_that_she_left(gone, owen, olive):
    leaving = StatusChange.objects.get(volunteer=gone, to_status="withdrawn")
    assert StatusChange.objects.filter(volunteer=gone).count() > 1
    proposal = person_disposal_propose(person=gone.user, kind="vetting", by=owen, reason=REASON)
    tombstone = person_disposal_approve(proposal=proposal, by=olive)
    assert list(StatusChange.objects.filter(volunteer=gone)) == [leaving]
    assert not VettingRecord.objects.filter(volunteer=gone).exists()
    assert not VettingCheck.objects.filter(record__volunteer=gone).exists()
    assert tombstone.counts["volunteers.VettingCheck"] == len(VettingCheck.Kind.values)
    # Counted in words, one or many: "1 vetting record", never "1 vetting records".
    assert tombstone.counts["volunteers.VettingRecord"] == 1 and "1 vetting record;" in tombstone.what
    assert f"{len(VettingCheck.Kind.values)} vetting checks" in tombstone.what
    gone.refresh_from_db()
    assert gone.current_clearance_expires is None and gone.user.is_active


def test_the_certificate_names_the_kind_the_rule_and_both_people(gone, owen, olive):
    proposal = person_disposal_propose(person=gone.user, kind="vetting", by=owen, reason=REASON)
    tombstone = person_disposal_approve(proposal=proposal, by=olive)
    certificate = DisposalCertificate.objects.get(person_tombstone=tombstone)
    assert certificate.number.startswith("DCP-") and certificate.tombstone is None
    with default_storage.open(certificate.pdf_name, "rb") as handle:
        text = " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(handle.read())).pages).split())
    for expected in ("vetting records", "Vera Gone", gone.user.email, "DI Olive Officer", "Proposed by Owen", REASON):
        assert expected in text, expected
    assert "6 years after leaving the scheme" in text and "vetting_after_leaving" in text


def test_complete_disposals_issues_a_missing_person_certificate(gone, owen, olive, settings, monkeypatch):
    import retention.certificates as certificates

    def fails(*args, **kwargs):
        raise ValidationError("No signing key.")

    monkeypatch.setattr(certificates, "_sign", fails)
    proposal = person_disposal_propose(person=gone.user, kind="training", by=owen, reason=REASON)
    tombstone = person_disposal_approve(proposal=proposal, by=olive)
    assert not DisposalCertificate.objects.filter(person_tombstone=tombstone).exists()
    assert complete_disposals() and not DisposalCertificate.objects.exists()
    monkeypatch.undo()
    assert complete_disposals() == []
    assert DisposalCertificate.objects.filter(person_tombstone=tombstone).exists()


def test_the_public_check_of_a_disposed_certificate_says_it_is_no_longer_held(client, gone, owen, olive):
    code = Certificate.objects.get(user=gone.user).code
    proposal = person_disposal_propose(person=gone.user, kind="training", by=owen, reason=REASON)
    person_disposal_approve(proposal=proposal, by=olive)
    response = client.get(f"/certificates/verify/{code}")
    assert response.status_code == 410
    assert b"its record is no longer held" in response.content and b"No certificate has this" not in response.content
    assert b"Vera" not in response.content


def test_her_personal_data_download_still_works_and_says_what_was_disposed_of(client, gone, owen, olive, wendy, wyn):
    for kind, proposer, approver in (("training", owen, olive), ("welfare", wendy, wyn)):
        person_disposal_approve(
            proposal=person_disposal_propose(person=gone.user, kind=kind, by=proposer, reason=REASON), by=approver
        )
    data = personal_data_for(gone.user)
    assert [row["records"].split(":")[0] for row in data["disposed"]] == [
        "Your training records",
        "Your welfare records",
    ]
    assert data["training"] is not None and data["screening"] == [] and data["vetting"]
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(personal_data_pdf(data))).pages)
    assert "Records no longer held" in " ".join(text.split())
    client.post("/accounts/login/", {"login": gone.user.email, "password": PASSWORD})
    response = client.get("/personal-data/download.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"


@pytest.mark.skipif(not on_postgres(), reason="the append-only triggers are PostgreSQL's")
def test_postgresql_refuses_to_change_or_delete_the_tombstone_or_a_decided_proposal(gone, owen, olive):
    proposal = person_disposal_propose(person=gone.user, kind="vetting", by=owen, reason=REASON)
    tombstone = person_disposal_approve(proposal=proposal, by=olive)
    for statement, value in (
        ("UPDATE retention_persontombstone SET what = 'nothing' WHERE id = %s", tombstone.pk),
        ("DELETE FROM retention_persontombstone WHERE id = %s", tombstone.pk),
        ("UPDATE retention_persondisposalproposal SET state = 'refused' WHERE id = %s", proposal.pk),
        ("DELETE FROM retention_persondisposalproposal WHERE id = %s", proposal.pk),
        ("DELETE FROM volunteers_recordsdisposal WHERE person_id = %s", gone.user_id),
        ("UPDATE retention_disposalcertificate SET pdf_sha256 = 'x' WHERE person_tombstone_id = %s", tombstone.pk),
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [value])
    assert PersonTombstone.objects.get(pk=tombstone.pk).what == tombstone.what


def test_the_review_list_asks_the_same_number_of_queries_however_many_people_left(
    lantern, owen, wendy, module, conduct
):
    def leave(number):
        volunteer = a_volunteer(lantern, owen, wendy, module, f"left{number}@lantern.example", f"Left {number}")
        volunteer = volunteer_transition(volunteer=volunteer, to="withdrawn", by=owen, reason="Moved.")
        StatusChange.objects.filter(volunteer=volunteer, to_status="withdrawn").update(
            at=timezone.now() - relativedelta(years=7)
        )
        return volunteer

    kinds = ("vetting", "training", "welfare")
    first = leave(0)
    hold_on(first.user, owen)
    with CaptureQueriesContext(connection) as one:
        person_disposal_review(lantern.pk, kinds)
    for number in range(1, 5):
        leave(number)
    with CaptureQueriesContext(connection) as five:
        rows = person_disposal_review(lantern.pk, kinds)
    assert len(rows) == 4 * 3
    assert len(five) == len(one)


# --- the admin pages ---------------------------------------------------------------------------------------------


def test_officers_review_propose_and_approve_on_the_pages_after_giving_the_password_again(gone, owen, olive):
    from django.urls import reverse

    from tests.integration.test_retention import signed_in, text_of

    owen_client, olive_client = signed_in(owen), signed_in(olive)
    assert "People's records that may be disposed of" in text_of(
        owen_client.get(reverse("admin:retention_disposal_review"))
    )
    review = text_of(owen_client.get(reverse("admin:retention_disposal_review_people")))
    assert "Vera Gone" in review and "vetting records" in review.lower() and "training records" in review.lower()
    assert "may be disposed of from" in review.lower() and "Legal source" in review
    assert "welfare" not in review.lower()  # the welfare compartment: officers never see a welfare row
    propose = reverse("admin:retention_person_disposal_propose", args=[gone.user_id, "vetting"])
    assert "Enter why the vetting records" in text_of(owen_client.post(propose, {"reason": ""}))
    done = owen_client.post(propose, {"reason": REASON}, follow=True)
    assert "someone else must now approve it" in done.content.decode()
    proposal = PersonDisposalProposal.objects.get(person=gone.user, kind="vetting")
    decide = reverse("admin:retention_person_disposal_decide", args=[proposal.pk])
    assert "Withdraw the proposal" in text_of(owen_client.get(decide))
    assert "Approve or refuse" in text_of(olive_client.get(reverse("admin:retention_disposal_review_people")))
    asked = olive_client.post(decide, {"decision": "approve", "note": ""})
    assert asked.status_code == 302 and asked["Location"].startswith(reverse("account_reauthenticate"))
    assert not PersonTombstone.objects.exists()
    olive_client.post(asked["Location"], {"password": PASSWORD})
    approved = olive_client.post(decide, {"decision": "approve", "note": ""}, follow=True)
    assert "The vetting records of Vera Gone were disposed of" in approved.content.decode()
    tombstone = PersonTombstone.objects.get(person=gone.user, kind="vetting")
    page = text_of(olive_client.get(reverse("admin:retention_persontombstone_change", args=[tombstone.pk])))
    assert "Download certificate DCP-" in page
    assert tombstone.rule not in page and "Retention rule" in page and "Left the scheme on" in page
    assert "Records deleted: 7 vetting checks; 1 vetting record; 3 status changes" in page
    assert "volunteers." not in page.lower()  # no model labels
    download = olive_client.get(reverse("admin:retention_persontombstone_certificate", args=[tombstone.pk]))
    assert download.status_code == 200 and b"".join(download.streaming_content).startswith(b"%PDF")
    assert AuditEvent.objects.filter(action="retention.disposal_certificate_downloaded", actor_id=olive.pk).exists()


def test_welfare_officers_see_only_welfare_rows_and_officers_cannot_reach_them(gone, owen, wendy, wyn):
    from django.urls import reverse

    from tests.integration.test_retention import signed_in, text_of

    wendy_client = signed_in(wendy)
    review = text_of(wendy_client.get(reverse("admin:retention_disposal_review_people")))
    assert "Vera Gone" in review and "welfare records" in review.lower() and "vetting" not in review.lower()
    proposal = person_disposal_propose(person=gone.user, kind="welfare", by=wendy, reason=REASON)
    tombstone = person_disposal_approve(proposal=proposal, by=wyn)
    owen_client = signed_in(owen)
    for url in (
        reverse("admin:retention_person_disposal_propose", args=[gone.user_id, "welfare"]),
        reverse("admin:retention_person_disposal_decide", args=[proposal.pk]),
        reverse("admin:retention_persontombstone_change", args=[tombstone.pk]),
        reverse("admin:retention_persontombstone_certificate", args=[tombstone.pk]),
    ):
        assert owen_client.get(url).status_code in (302, 404), url
    listed = text_of(owen_client.get(reverse("admin:retention_persontombstone_changelist")))
    assert "Vera Gone" not in listed
    assert (
        wendy_client.get(reverse("admin:retention_persontombstone_certificate", args=[tombstone.pk])).status_code == 200
    )


def test_another_schemes_officer_a_volunteer_court_and_administrator_see_and_do_nothing(gone, owen, otto, carla, ada):
    from django.urls import reverse

    from tests.integration.test_retention import signed_in, text_of

    proposal = person_disposal_propose(person=gone.user, kind="vetting", by=owen, reason=REASON)
    otto_client = signed_in(otto)
    assert "Vera Gone" not in text_of(otto_client.get(reverse("admin:retention_disposal_review_people")))
    assert otto_client.get(reverse("admin:retention_person_disposal_decide", args=[proposal.pk])).status_code == 404
    propose = reverse("admin:retention_person_disposal_propose", args=[gone.user_id, "vetting"])
    assert otto_client.post(propose, {"reason": REASON}).status_code == 404
    for someone in (carla, ada):
        client = signed_in(someone)
        assert client.get(reverse("admin:retention_disposal_review_people")).status_code in (302, 403)
        assert client.post(propose, {"reason": REASON}).status_code in (302, 403, 404)
    assert PersonDisposalProposal.objects.count() == 1


def test_each_decider_finds_the_list_from_where_they_start_and_sees_only_their_kinds(gone, owen, olive, wendy, wyn):
    """Welfare officers start at the welfare console, officers at the admin home: both lead to the people's review
    list, and to the proposals awaiting the viewer's approval, each person only for the kinds they decide."""
    from django.urls import reverse

    from tests.integration.test_retention import signed_in, text_of

    review = reverse("admin:retention_disposal_review_people")
    person_disposal_propose(person=gone.user, kind="welfare", by=wendy, reason=REASON)
    vetting = person_disposal_propose(person=gone.user, kind="vetting", by=owen, reason=REASON)

    wyn_client, wendy_client, olive_client = signed_in(wyn), signed_in(wendy), signed_in(olive)
    console = wyn_client.get(reverse("welfare_console")).content.decode()
    assert review in console and "awaiting yours" in console
    wyn_home = wyn_client.get(reverse("admin:index")).content.decode()
    assert "Records of people who have left" in wyn_home and "the welfare records of Vera Gone" in wyn_home
    assert "vetting" not in text_of(wyn_client.get(reverse("admin:index"))).lower()
    # Her own proposal is not put to her to approve.
    wendy_home = text_of(wendy_client.get(reverse("admin:index")))
    assert "Records of people who have left" in wendy_home and "Approve or refuse the disposal of the welfare" not in (
        wendy_home
    )

    olive_home = olive_client.get(reverse("admin:index")).content.decode()
    assert review in olive_home and reverse("admin:retention_person_disposal_decide", args=[vetting.pk]) in olive_home
    assert "welfare records of" not in olive_home.lower()
    assert "awaiting yours" not in wendy_client.get(reverse("welfare_console")).content.decode()


def test_verify_custody_checks_every_disposal_of_peoples_records(gone, owen, olive):
    """The custody check a data protection officer runs also proves each disposal of people's records holds:
    the certificate unchanged, its files gone, no records of that kind back (restored from a backup, say)."""
    from django.core.files.base import ContentFile
    from django.core.management import call_command
    from django.core.management.base import CommandError

    tombstone = person_disposal_approve(
        proposal=person_disposal_propose(person=gone.user, kind="training", by=owen, reason=REASON), by=olive
    )
    out = io.StringIO()
    call_command("verify_custody", stdout=out)
    assert "1 disposals of people's records verified" in out.getvalue()

    certificate = DisposalCertificate.objects.get(person_tombstone=tombstone)
    with default_storage.open(certificate.pdf_name, "rb") as handle:
        pdf = handle.read()
    default_storage.delete(certificate.pdf_name)
    default_storage.save(certificate.pdf_name, ContentFile(pdf[:-1] + bytes([pdf[-1] ^ 1])))
    with pytest.raises(CommandError, match=rf"of Vera Gone: disposal certificate {certificate.number}"):
        call_command("verify_custody", stdout=io.StringIO())
    default_storage.delete(certificate.pdf_name)
    default_storage.save(certificate.pdf_name, ContentFile(pdf))
    call_command("verify_custody", stdout=io.StringIO())

    from training.models import ModuleVersion

    Attempt.objects.create(user=gone.user, version=ModuleVersion.objects.first(), seed=1)
    with pytest.raises(CommandError, match="records of that kind are held again: 1 training attempt"):
        call_command("verify_custody", stdout=io.StringIO())
