"""Retention and legal holds through the admin, as officers use them, and everyone else trying to.

Vera is deployable and assigned to Owen's tasking OP-LANTERN-1 in Lantern; she produced its exhibits. Owen
supervises Lantern and records the case's outcome and its holds. Otto supervises Harbour and must neither see
nor touch any of it; Wendy (Lantern's welfare officer), Ada (its scheme administrator), Carla (a court
recipient), Vera herself and Root (the platform superuser, of no scheme) may record nothing.
"""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from dateutil.relativedelta import relativedelta
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.test import Client
from django.utils import timezone
from lxml import html as lxml_html

from portal import roles
from portal.models import AuditEvent
from retention import rules, selectors, services
from retention.models import CaseOutcome, LegalHold, SchemeRetention
from retention.selectors import disposal_status
from tests.conftest import PASSWORD, enrol_totp, mfa_login, on_postgres
from tests.integration.bundle_helpers import CHAT, PNG, submit_exhibit


def signed_in(user) -> Client:
    client = Client()
    if roles.requires_mfa(user):
        mfa_login(client, user, enrol_totp(user))
    else:
        assert client.login(email=user.email, password=PASSWORD)
    return client


def text_of(response) -> str:
    """What a person reads in the page's content area."""
    assert response.status_code == 200, response.status_code
    document = lxml_html.fromstring(response.content.decode())
    content = document.xpath('//*[@id="content"]') or [document]
    return re.sub(r"\s+", " ", html.unescape(" ".join(content[0].itertext())))


@pytest.fixture
def exhibits(assigned_vera, tasking, tmp_path):
    first = submit_exhibit(assigned_vera.user, tasking, tmp_path, "shot.png", PNG, "image/png")
    second = submit_exhibit(assigned_vera.user, tasking, tmp_path, "chat.txt", CHAT, "text/plain")
    return first, second


@pytest.fixture
def officer(owen):
    return signed_in(owen)


def hold_on(target, by, kind="appeal", reason="Appeal lodged with the Court of Appeal, ref 202701234."):
    return services.hold_place(
        target=target, kind=kind, reason=reason, review_on=timezone.localdate() + timedelta(days=90), by=by
    )


def no_further_action(tasking, by, days_ago: int = 10):
    return services.outcome_record(
        tasking=tasking, by=by, outcome="nfa", decided_on=timezone.localdate() - timedelta(days=days_ago)
    )


# --- recording the outcome ---------------------------------------------------------------------------------------


def test_the_outcome_choices_are_the_rules_outcomes():
    assert [value for value, _ in CaseOutcome.Outcome.choices] == [outcome.value for outcome in rules.Outcome]


def test_an_open_tasking_shows_it_is_kept_with_no_date_and_why(officer, tasking):
    text = text_of(officer.get(f"/admin/evidence/tasking/{tasking.pk}/change/"))
    assert "Case outcome: Open: no outcome recorded yet." in text
    assert "Disposal: Keep: no disposal date yet — no charging decision yet" in text
    assert "Legal source: CPIA 1996 Code of Practice para 5.7" in text
    assert "Legal holds: None standing. Place a legal hold" in text


def test_an_officer_records_a_conviction_and_the_tasking_shows_the_new_date_and_why(officer, owen, tasking):
    today = timezone.localdate()
    convicted_on, release_on = today - timedelta(days=30), today + timedelta(days=20)
    page = officer.get(f"/admin/evidence/tasking/{tasking.pk}/outcome/")
    assert "What became of the case?" in text_of(page)
    response = officer.post(
        f"/admin/evidence/tasking/{tasking.pk}/outcome/",
        {
            "outcome": "convicted",
            "convicted_on": convicted_on.isoformat(),
            "sentence": "2 years' imprisonment",
            "custodial": "on",
            "release_on": release_on.isoformat(),
            "note": "Court result of the Crown Court at Leeds.",
        },
        follow=True,
    )
    six_months = convicted_on + relativedelta(months=6)
    text = text_of(response)
    wanted = (
        f"Keep until {rules.day(six_months)}: six months from conviction (CPIA Code 5.9) — later than the release date"
    )
    assert wanted in text
    assert f"Convicted on {rules.day(convicted_on)}, sentence: 2 years' imprisonment, custodial; release" in text
    outcome = CaseOutcome.objects.get(tasking=tasking)
    assert (outcome.outcome, outcome.convicted_on, outcome.release_on, outcome.recorded_by) == (
        "convicted",
        convicted_on,
        release_on,
        owen,
    )
    event = AuditEvent.objects.filter(action="retention.outcome_record").get()
    assert event.actor_id == owen.pk and event.object_id == str(tasking.pk) and event.scheme_id == tasking.scheme_id
    assert event.detail["from"] == {"outcome": "open"} and event.detail["to"]["outcome"] == "convicted"
    assert event.detail["retention"] == {
        "earliest": six_months.isoformat(),
        "rule": "case_convicted_six_months_later",
        "holds": [],
    }


def test_correcting_the_outcome_moves_the_date_and_records_what_it_was(officer, owen, tasking):
    no_further_action(tasking, owen, days_ago=3)
    convicted_on = timezone.localdate() - timedelta(days=1)
    response = officer.post(
        f"/admin/evidence/tasking/{tasking.pk}/outcome/",
        {"outcome": "convicted", "convicted_on": convicted_on.isoformat()},
    )
    assert response.status_code == 302
    status = disposal_status(tasking)
    assert status.earliest == convicted_on + relativedelta(months=6) and status.rule == "case_convicted_six_months"
    latest = AuditEvent.objects.filter(action="retention.outcome_record").order_by("-pk").first()
    assert latest.detail["from"]["outcome"] == "nfa" and latest.detail["to"]["outcome"] == "convicted"


def test_an_outcome_missing_its_date_is_refused_beside_the_field_and_nothing_changes(officer, tasking):
    response = officer.post(f"/admin/evidence/tasking/{tasking.pk}/outcome/", {"outcome": "acquitted"})
    text = text_of(response)
    assert "There is a problem" in text and "Enter the date of the acquittal" in text
    assert not CaseOutcome.objects.filter(tasking=tasking).exists()
    assert not AuditEvent.objects.filter(action="retention.outcome_record").exists()


def test_an_exhibit_takes_its_taskings_date_and_shows_it(officer, owen, tasking, exhibits):
    no_further_action(tasking, owen, days_ago=10)
    decided = timezone.localdate() - timedelta(days=10)
    text = text_of(officer.get(f"/admin/evidence/exhibit/{exhibits[0].pk}/change/"))
    assert (
        f"May be disposed of from {rules.day(decided)}: the decision not to prosecute on {rules.day(decided)}" in text
    )
    status = disposal_status(exhibits[0])
    assert status.earliest == decided and status.may_dispose_now


def test_everything_of_a_tasking_takes_its_date_and_a_person_record_the_persons(owen, tasking, assigned_vera):
    from evidence import services as evidence

    no_further_action(tasking, owen)
    note = evidence.note_add(tasking=tasking, author=assigned_vera.user, text="Contact made.")
    assert disposal_status(note).rule == "case_no_further_action"
    vetting = assigned_vera.vetting_records.first()
    assert disposal_status(vetting).rule == "vetting_in_scheme"
    with pytest.raises(TypeError):
        disposal_status(owen.scheme)


# --- legal holds -------------------------------------------------------------------------------------------------


def test_a_hold_on_the_tasking_stops_disposal_of_it_and_its_exhibits_and_is_audited(officer, owen, tasking, exhibits):
    no_further_action(tasking, owen)
    assert disposal_status(tasking).may_dispose_now and disposal_status(exhibits[0]).may_dispose_now
    response = officer.post(
        f"/admin/retention/legalhold/place/tasking/{tasking.pk}/",
        {
            "kind": "civil_claim",
            "reason": "Claim against the force, ref CL-77.",
            "review_on": (timezone.localdate() + timedelta(days=30)).isoformat(),
        },
    )
    assert response.status_code == 302 and response["Location"] == f"/admin/evidence/tasking/{tasking.pk}/change/"
    hold = LegalHold.objects.get()
    assert (hold.tasking, hold.set_by, hold.scheme_id, hold.kind) == (tasking, owen, tasking.scheme_id, "civil_claim")
    for item in (tasking, *exhibits):
        status = disposal_status(item)
        assert not status.may_dispose_now and status.holds == (hold,)
        assert "Held: nothing may be disposed of while 1 legal hold stands" in status.summary
    event = AuditEvent.objects.get(action="retention.hold_place")
    assert event.actor_id == owen.pk and event.object_id == str(hold.pk) and event.scheme_id == tasking.scheme_id
    assert event.detail["on"] == f"tasking {tasking.reference}" and event.detail["retention"]["holds"] == [hold.pk]
    text = text_of(officer.get(f"/admin/evidence/tasking/{tasking.pk}/change/"))
    assert f"Civil claim hold on tasking {tasking.reference} : “Claim against the force, ref CL-77.” Placed by" in text


def test_a_hold_on_an_exhibit_stops_that_exhibit_and_the_tasking_as_a_whole_not_its_other_exhibits(
    officer, owen, tasking, exhibits
):
    no_further_action(tasking, owen)
    response = officer.post(
        f"/admin/retention/legalhold/place/exhibit/{exhibits[0].pk}/",
        {"kind": "review", "reason": "CCRC application.", "review_on": timezone.localdate().isoformat()},
    )
    assert response.status_code == 302 and response["Location"] == f"/admin/evidence/exhibit/{exhibits[0].pk}/change/"
    assert not disposal_status(exhibits[0]).may_dispose_now
    assert not disposal_status(tasking).may_dispose_now  # disposing of the tasking would dispose of the exhibit
    assert disposal_status(exhibits[1]).may_dispose_now
    assert AuditEvent.objects.filter(action="retention.hold_place").count() == 1


def test_a_hold_on_a_person_stops_disposal_of_their_records_after_they_leave(officer, owen, assigned_vera):
    from volunteers.services import volunteer_transition

    volunteer_transition(volunteer=assigned_vera, to="withdrawn", by=owen, reason="Moved away.")
    left = timezone.localdate()
    statuses = selectors.person_statuses(assigned_vera.user, today=left + relativedelta(years=7))
    assert statuses["vetting"].earliest == left + relativedelta(years=6) and statuses["vetting"].may_dispose_now
    response = officer.post(
        f"/admin/retention/legalhold/place/person/{assigned_vera.user.pk}/",
        {"kind": "civil_claim", "reason": "She is suing the scheme.", "review_on": left.isoformat()},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/admin/volunteers/volunteer/{assigned_vera.pk}/change/"
    later = left + relativedelta(years=7)
    for kind, status in selectors.person_statuses(assigned_vera.user, today=later).items():
        assert not status.may_dispose_now, kind
    assert not disposal_status(assigned_vera.vetting_records.first(), today=later).may_dispose_now
    text = text_of(officer.get(f"/admin/volunteers/volunteer/{assigned_vera.pk}/change/"))
    assert "Vetting records: Held: nothing may be disposed of while 1 legal hold stands" in text
    assert (
        f"Without it, keep until {rules.day(left + relativedelta(years=6))}: 6 years after leaving the scheme" in text
    )
    assert f"Civil claim hold on the records of {assigned_vera.user.get_full_name()}" in text


def test_nothing_is_disposed_of_before_its_date_even_without_a_hold(owen, tasking):
    services.outcome_record(
        tasking=tasking, by=owen, outcome="convicted", convicted_on=timezone.localdate() - timedelta(days=1)
    )
    status = disposal_status(tasking)
    assert status.earliest > status.today and not status.may_dispose_now and not status.holds
    assert disposal_status(tasking, today=status.earliest).may_dispose_now


def test_lifting_a_hold_needs_a_reason_then_disposal_may_go_ahead(officer, owen, tasking):
    no_further_action(tasking, owen)
    hold = hold_on(tasking, owen)
    page = officer.get(f"/admin/retention/legalhold/{hold.pk}/lift/")
    assert "Why can the hold be lifted?" in text_of(page)
    refused = officer.post(f"/admin/retention/legalhold/{hold.pk}/lift/", {"reason": "   "})
    assert "Enter why the hold can be lifted" in text_of(refused)
    hold.refresh_from_db()
    assert hold.standing and not disposal_status(tasking).may_dispose_now
    with pytest.raises(ValidationError):
        services.hold_lift(hold=hold, reason="", by=owen)
    response = officer.post(f"/admin/retention/legalhold/{hold.pk}/lift/", {"reason": "Appeal dismissed on 3 May."})
    assert response.status_code == 302
    hold.refresh_from_db()
    assert (hold.lifted_by, hold.lift_reason) == (owen, "Appeal dismissed on 3 May.")
    assert disposal_status(tasking).may_dispose_now
    event = AuditEvent.objects.get(action="retention.hold_lift")
    assert event.actor_id == owen.pk and event.detail["reason"] == "Appeal dismissed on 3 May."
    with pytest.raises(ValidationError, match="already lifted"):
        services.hold_lift(hold=hold, reason="Again.", by=owen)


def test_a_hold_is_placed_with_a_reason_and_a_review_date_not_in_the_past(officer, owen, tasking):
    response = officer.post(
        f"/admin/retention/legalhold/place/tasking/{tasking.pk}/",
        {"kind": "appeal", "reason": "", "review_on": (timezone.localdate() - timedelta(days=1)).isoformat()},
    )
    text = text_of(response)
    assert "Enter the reason for the hold" in text and "The review date must be today or in the future" in text
    assert not LegalHold.objects.exists()


@pytest.mark.postgres
def test_the_database_refuses_to_delete_or_rewrite_a_hold(owen, tasking):
    assert on_postgres()
    hold = hold_on(tasking, owen)
    for attempt in (
        lambda: LegalHold.objects.filter(pk=hold.pk).delete(),
        lambda: LegalHold.objects.filter(pk=hold.pk).update(reason="Forged."),
    ):
        with pytest.raises(DatabaseError, match="refused"), transaction.atomic():
            attempt()
    services.hold_lift(hold=hold, reason="Appeal dismissed.", by=owen)
    with pytest.raises(DatabaseError, match="a lifting stands"), transaction.atomic():
        LegalHold.objects.filter(pk=hold.pk).update(lift_reason="Forged.")


# --- who may not ---------------------------------------------------------------------------------------------------


def test_another_schemes_officer_can_neither_see_nor_set_anything(otto, owen, tasking, exhibits, assigned_vera):
    hold = hold_on(tasking, owen)
    client = signed_in(otto)
    review_on = (timezone.localdate() + timedelta(days=5)).isoformat()
    for url, data in (
        (f"/admin/evidence/tasking/{tasking.pk}/outcome/", {"outcome": "nfa", "decided_on": review_on}),
        (
            f"/admin/retention/legalhold/place/tasking/{tasking.pk}/",
            {"kind": "other", "reason": "x", "review_on": review_on},
        ),
        (
            f"/admin/retention/legalhold/place/exhibit/{exhibits[0].pk}/",
            {"kind": "other", "reason": "x", "review_on": review_on},
        ),
        (
            f"/admin/retention/legalhold/place/person/{assigned_vera.user.pk}/",
            {"kind": "other", "reason": "x", "review_on": review_on},
        ),
        (f"/admin/retention/legalhold/{hold.pk}/lift/", {"reason": "Not mine to lift."}),
    ):
        assert client.get(url).status_code == 404, url
        assert client.post(url, data).status_code == 404, url
    listing = client.get("/admin/retention/legalhold/")
    assert listing.status_code == 200 and tasking.reference not in listing.content.decode()
    assert client.get(f"/admin/retention/legalhold/{hold.pk}/change/").status_code == 302  # "does not exist"
    hold.refresh_from_db()
    assert hold.standing and LegalHold.objects.count() == 1 and not CaseOutcome.objects.exists()
    with pytest.raises(services.RetentionRefused):
        services.hold_place(target=tasking, kind="other", reason="x", review_on=timezone.localdate(), by=otto)
    with pytest.raises(services.RetentionRefused):
        services.outcome_record(tasking=tasking, by=otto, outcome="open")


@pytest.mark.parametrize("who", ["vera", "carla", "wendy", "ada", "root"])
def test_volunteers_welfare_court_administrators_and_the_superuser_record_nothing(
    request, who, owen, tasking, exhibits, assigned_vera
):
    person = request.getfixturevalue(who)
    hold = hold_on(tasking, owen)
    client = signed_in(person)
    review_on = timezone.localdate().isoformat()
    hold_data = {"kind": "other", "reason": "x", "review_on": review_on}
    attempts = {
        "outcome": (f"/admin/evidence/tasking/{tasking.pk}/outcome/", {"outcome": "nfa", "decided_on": review_on}),
        "tasking": (f"/admin/retention/legalhold/place/tasking/{tasking.pk}/", hold_data),
        "exhibit": (f"/admin/retention/legalhold/place/exhibit/{exhibits[0].pk}/", hold_data),
        "person": (f"/admin/retention/legalhold/place/person/{assigned_vera.user.pk}/", hold_data),
        "lift": (f"/admin/retention/legalhold/{hold.pk}/lift/", {"reason": "Not theirs to lift."}),
    }
    # Not staff: the admin's gate. Staff who never see the record: it does not exist. Staff who see it: refused.
    expected = {
        "vera": dict.fromkeys(attempts, "gate"),
        "carla": dict.fromkeys(attempts, "gate"),
        "wendy": dict.fromkeys(attempts, 404),
        "ada": {**dict.fromkeys(attempts, 404), "person": 403},
        "root": dict.fromkeys(attempts, 403),
    }[who]
    for name, (url, data) in attempts.items():
        for response in (client.get(url), client.post(url, data)):
            got = (
                "gate"
                if response.status_code == 302 and "/admin/login/" in response["Location"]
                else response.status_code
            )
            assert got == expected[name], (who, name, response.status_code)
    hold.refresh_from_db()
    assert hold.standing and LegalHold.objects.count() == 1 and not CaseOutcome.objects.exists()
    refusals = (
        lambda: services.outcome_record(tasking=tasking, by=person, outcome="open"),
        lambda: services.hold_place(
            target=tasking, kind="other", reason="x", review_on=timezone.localdate(), by=person
        ),
        lambda: services.hold_lift(hold=hold, reason="x", by=person),
    )
    for attempt in refusals:
        with pytest.raises(services.RetentionRefused):
            attempt()


def test_the_tasking_page_offers_the_retention_links_only_to_its_officers(root, tasking, owen):
    hold_on(tasking, owen)
    text = text_of(signed_in(root).get(f"/admin/evidence/tasking/{tasking.pk}/change/"))
    assert "Appeal hold on tasking" in text  # the superuser reads it, audited
    assert "Record the outcome" not in text and "Place a legal hold" not in text and "Lift" not in text


# --- a scheme's own periods ----------------------------------------------------------------------------------------


def test_a_scheme_administrator_may_lengthen_the_periods_never_shorten_them(ada, owen, lantern, tasking):
    client = signed_in(ada)
    refused = client.post(
        "/admin/retention/schemeretention/add/", {"scheme": lantern.pk, "vetting_years": "3", "case_extra_months": ""}
    )
    assert "A scheme may lengthen retention, never shorten it" in text_of(refused)
    assert not SchemeRetention.objects.exists()
    saved = client.post(
        "/admin/retention/schemeretention/add/",
        {"scheme": lantern.pk, "vetting_years": "10", "case_extra_months": "12"},
    )
    assert saved.status_code == 302
    assert AuditEvent.objects.filter(action="admin.add", object_type="retention.schemeretention").exists()
    outcome = no_further_action(tasking, owen, days_ago=1)
    assert disposal_status(tasking).earliest == outcome.decided_on + relativedelta(months=12)
    assert "then 12 months more (the scheme's own period)" in disposal_status(tasking).reason
