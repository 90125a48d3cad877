"""The disposal review list asks the database the same number of questions however many exhibits it covers,
and the many-at-once answers (`case_statuses`) are, item by item, those `disposal_status` gives alone.

Vera produced exhibits on five of Owen's Lantern taskings. OP-A ended in no further action a month ago and
Owen proposed disposing of some of its exhibits; OP-B's acquittal is two months old but a civil claim holds the
whole tasking; OP-C ended in no further action, with one exhibit held; on OP-D Olive proposed disposing of an
exhibit and a hold was placed on it afterwards; OP-E is still open. Olive reads the list.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from lxml import html as lxml_html

from evidence.models import CustodyEvent, Exhibit
from evidence.services import tasking_assign
from portal import roles
from retention import services
from retention.disposal import disposal_propose
from retention.models import SchemeRetention
from retention.selectors import case_statuses, disposal_review, disposal_status
from tests.conftest import make_person, make_tasking
from tests.integration.bundle_helpers import PNG, submit_exhibit
from tests.integration.test_retention import signed_in

REASON = "Retention period over: no further action, no appeal, no claim."


@pytest.fixture
def olive(lantern):
    return make_person("olive@lantern.example", roles.OFFICER, lantern, full_name="DI Olive Officer")


def days_ago(days: int):
    return timezone.localdate() - timedelta(days=days)


def hold_on(target, by):
    return services.hold_place(
        target=target,
        kind="civil_claim",
        reason="Civil claim against the force, ref CL-2027-1.",
        review_on=timezone.localdate() + timedelta(days=90),
        by=by,
    )


def tasking_with_exhibits(reference: str, count: int, *, scheme, officer, volunteer, folder) -> list[Exhibit]:
    tasking = make_tasking(scheme, officer, reference=reference)
    tasking_assign(tasking=tasking, volunteer=volunteer, by=officer)
    return [
        submit_exhibit(volunteer, tasking, folder, f"{reference}-{number}.png", PNG, "image/png")
        for number in range(count)
    ]


def build(size: int, prefix: str, *, lantern, owen, olive, volunteer, folder) -> dict[str, list[Exhibit]]:
    """Five taskings of `size` exhibits each, as the module's docstring tells: OP-A… with prefix "OP"."""
    made = {
        letter: tasking_with_exhibits(
            f"{prefix}-{letter}", size, scheme=lantern, officer=owen, volunteer=volunteer, folder=folder
        )
        for letter in "ABCDE"
    }
    taskings = {letter: exhibits[0].tasking for letter, exhibits in made.items()}
    services.outcome_record(tasking=taskings["A"], by=owen, outcome="nfa", decided_on=days_ago(30))
    services.outcome_record(tasking=taskings["B"], by=owen, outcome="acquitted", decided_on=days_ago(60))
    services.outcome_record(tasking=taskings["C"], by=owen, outcome="nfa", decided_on=days_ago(30))
    services.outcome_record(tasking=taskings["D"], by=owen, outcome="discontinued", decided_on=days_ago(45))
    for exhibit in made["A"][::2]:
        disposal_propose(exhibit=exhibit, by=owen, reason=REASON)
    hold_on(taskings["B"], owen)
    hold_on(made["C"][0], owen)
    disposal_propose(exhibit=made["D"][0], by=olive, reason=REASON)
    hold_on(made["D"][0], owen)
    return made


def rows_of(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.status_code
    document = lxml_html.fromstring(response.content.decode())
    rows = []
    for row in document.xpath('//table[@id="result_list"]/tbody/tr'):
        cells = [re.sub(r"\s+", " ", " ".join(cell.itertext())).strip() for cell in row.xpath("./th|./td")]
        rows.append({"exhibit": cells[0], "tasking": cells[1], "why": cells[2], "next": cells[3]})
    return rows


def review_as(client) -> tuple[int, list[dict[str, str]]]:
    """The list as the client reads it, and how many queries it took."""
    url = reverse("admin:retention_disposal_review")
    client.get(url)  # caches warmed once per process (content types…) do not count against the list
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    return len(queries), rows_of(response)


def listed(made: dict[str, list[Exhibit]]) -> set[tuple[str, str]]:
    """What the list should show: OP-A's and OP-D's exhibits (OP-D's first held, but a proposal awaits it), and
    OP-C's but the held one."""
    return {(exhibit.tasking.reference, exhibit.reference) for exhibit in [*made["A"], *made["C"][1:], *made["D"]]}


def check_content(rows: list[dict[str, str]], *sets: dict[str, list[Exhibit]]) -> None:
    expected = set().union(*(listed(made) for made in sets))
    assert sorted((row["tasking"], row["exhibit"]) for row in rows) == sorted(expected)  # each once, nothing else
    by_key = {(row["tasking"], row["exhibit"]): row for row in rows}
    for made in sets:
        for number, exhibit in enumerate(made["A"]):
            row = by_key[(exhibit.tasking.reference, exhibit.reference)]
            assert row["why"].startswith("May be disposed of from")
            if number % 2 == 0:  # Owen's proposals: Olive, another officer, may approve them
                assert row["next"].startswith("Proposed by Owen,")
                assert f"Approve or refuse the disposal of {exhibit.reference}" in row["next"]
            else:
                assert row["next"] == f"Propose disposal of {exhibit.reference}"
        for exhibit in [*made["C"][1:], *made["D"][1:]]:
            row = by_key[(exhibit.tasking.reference, exhibit.reference)]
            assert row["next"] == f"Propose disposal of {exhibit.reference}"
        # Olive's own proposal, held since: listed as it awaits a decision, saying what holds it; she may withdraw.
        exhibit = made["D"][0]
        row = by_key[(exhibit.tasking.reference, exhibit.reference)]
        assert row["why"].startswith(
            f"Held: nothing may be disposed of while 1 legal hold stands (civil claim on exhibit {exhibit.reference})"
        )
        assert row["next"].startswith("Proposed by DI Olive Officer") and "Withdraw your proposal" in row["next"]
        assert "Approve or refuse" not in row["next"]


def test_the_review_list_takes_as_many_queries_for_35_exhibits_as_for_5(
    lantern, owen, olive, deployable_vera, tmp_path
):
    people = {"lantern": lantern, "owen": owen, "olive": olive, "volunteer": deployable_vera.user, "folder": tmp_path}
    small = build(1, "OP", **people)
    client = signed_in(olive)
    few, rows = review_as(client)
    check_content(rows, small)
    assert len(rows) == 2  # OP-A's one exhibit (proposed) and OP-D's held proposal

    large = build(6, "OPL", **people)  # 30 more exhibits on five more taskings: 35 in all, 19 of them listed
    many, rows = review_as(client)
    check_content(rows, small, large)
    assert len(rows) == 2 + 6 + 5 + 6
    assert many == few, f"{few} queries for the list of 2, {many} for the list of 19"


def test_the_review_list_shows_what_disposal_status_says_of_each_exhibit(
    lantern, owen, olive, deployable_vera, tmp_path
):
    made = build(2, "OP", lantern=lantern, owen=owen, olive=olive, volunteer=deployable_vera.user, folder=tmp_path)
    found = disposal_review(lantern.pk)
    assert {(row.exhibit.tasking.reference, row.exhibit.reference) for row in found} == listed(made)
    for row in found:
        assert row.status == disposal_status(Exhibit.objects.get(pk=row.exhibit.pk))


def test_the_bulk_answers_agree_with_disposal_status_item_by_item(
    lantern, harbour, owen, otto, deployable_vera, tmp_path
):
    """Every outcome, holds on taskings and on exhibits (standing and lifted, one item under two), a scheme that
    keeps case material longer, and items of several kinds: taskings, exhibits and a custody event."""
    volunteer = deployable_vera.user
    outcomes = [
        {},  # no outcome recorded at all: an open case
        {"outcome": "open"},
        {"outcome": "charged", "decided_on": days_ago(10)},
        {"outcome": "nfa", "decided_on": days_ago(400)},
        {"outcome": "nfa", "decided_on": days_ago(2)},
        {"outcome": "acquitted", "decided_on": days_ago(90)},
        {"outcome": "discontinued", "decided_on": days_ago(20)},
        {"outcome": "convicted", "convicted_on": days_ago(300)},
        {"outcome": "convicted", "convicted_on": days_ago(100)},
        {"outcome": "convicted", "convicted_on": days_ago(400), "custodial": True, "release_on": days_ago(5)},
        {"outcome": "convicted", "convicted_on": days_ago(400), "custodial": True},
        {"outcome": "convicted", "convicted_on": days_ago(400), "appeal_pending": True},
        {"outcome": "convicted", "convicted_on": days_ago(400), "appeal_determined_on": days_ago(3)},
    ]
    exhibits: list[Exhibit] = []
    for number, outcome in enumerate(outcomes):
        made = tasking_with_exhibits(
            f"OP-{number}", 2, scheme=lantern, officer=owen, volunteer=volunteer, folder=tmp_path
        )
        if outcome:
            services.outcome_record(tasking=made[0].tasking, by=owen, **outcome)
        exhibits += made
    taskings = [exhibit.tasking for exhibit in exhibits[::2]]  # tasking k holds exhibits 2k and 2k + 1
    # Harbour keeps case material six months longer than the platform: its taskings' dates move.
    SchemeRetention.objects.create(scheme=harbour, case_extra_months=6)
    for number, days in enumerate((30, 400)):
        harbour_tasking = make_tasking(harbour, otto, reference=f"HB-{number}")
        services.outcome_record(tasking=harbour_tasking, by=otto, outcome="nfa", decided_on=days_ago(days))
        taskings.append(harbour_tasking)
    hold_on(taskings[3], owen)  # a tasking hold: over both its exhibits
    hold_on(exhibits[8], owen)  # an exhibit hold: over that exhibit and its tasking, not its sibling
    lifted = hold_on(exhibits[10], owen)
    services.hold_lift(hold=lifted, reason="The claim was withdrawn.", by=owen)
    hold_on(exhibits[10], owen)
    hold_on(taskings[5], owen)  # exhibit 10 is now under two holds, and so is its tasking
    hold_on(taskings[-1], otto)
    event = CustodyEvent.objects.filter(exhibit=exhibits[6]).first()

    items = [*taskings, *exhibits, event, exhibits[0]]  # an item twice is answered twice

    def fresh():  # nothing cached on the instances from setting them up
        return [type(item).objects.get(pk=item.pk) for item in items]

    alone = [disposal_status(item) for item in fresh()]
    assert case_statuses(fresh()) == alone
    for today in (days_ago(200), timezone.localdate() + timedelta(days=400)):
        assert case_statuses(fresh(), today=today) == [disposal_status(item, today=today) for item in fresh()]
    # The set really is varied: some may go, some are held, some have no date yet, some are kept until a date.
    assert {status.may_dispose_now for status in alone} == {True, False}
    assert any(status.earliest is None for status in alone)
    assert any(status.earliest and status.earliest > status.today and not status.holds for status in alone)
    assert len({status.rule for status in alone}) >= 8
    exhibit_ten = alone[len(taskings) + 10]
    assert len(exhibit_ten.holds) == 2 and lifted.pk not in {hold.pk for hold in exhibit_ten.holds}
    assert len(alone[5].holds) == 2 and len(alone[len(taskings) + 11].holds) == 1  # the tasking's, not the sibling's
    assert len(alone[3].holds) == 1 and len(alone[4].holds) == 1 and not alone[len(taskings) + 9].holds


def test_the_bulk_answers_ask_a_fixed_number_of_queries(lantern, owen, deployable_vera, tmp_path):
    exhibits = tasking_with_exhibits(
        "OP-X", 3, scheme=lantern, officer=owen, volunteer=deployable_vera.user, folder=tmp_path
    )
    exhibits += tasking_with_exhibits(
        "OP-Y", 3, scheme=lantern, officer=owen, volunteer=deployable_vera.user, folder=tmp_path
    )
    hold_on(exhibits[0], owen)
    loaded = list(Exhibit.objects.select_related("tasking").filter(pk__in=[exhibit.pk for exhibit in exhibits]))
    with CaptureQueriesContext(connection) as queries:
        case_statuses(loaded)
    assert len(queries) == 3  # outcomes, holds, the schemes' own periods
