"""The volunteer finds her taskings from the dashboard and the header; each tasking is an overview and its
exhibits, notes and statements pages, with "Raise a safeguarding concern" first on every one; errors say
what to do, beside the field; a court user's header leads to the bundles shared with them."""

import html
import io
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from evidence.models import Exhibit, Tasking
from evidence.policy import submission_decision
from tests.conftest import PASSWORD, enrol_totp, make_tasking, mfa_login
from tests.integration.bundle_helpers import CHAT, PNG, submit_exhibit


def text(response) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def vera_client(client, assigned_vera):
    client.post("/accounts/login/", {"login": assigned_vera.user.email, "password": PASSWORD})
    return client


# --- The dashboard and the header ----------------------------------------------------------------------


def test_the_dashboard_lists_her_open_tasking_with_when_it_closes(vera_client, tasking, assigned_vera):
    page = text(vera_client.get("/"))
    until = timezone.localtime(submission_decision(user=assigned_vera.user, tasking=tasking).until)
    assert f'href="/taskings/{tasking.pk}/"' in page
    assert f"{tasking.reference}: {tasking.title}" in page
    assert f"Open for evidence until {until:%-d %B %Y}, {until:%H:%M}." in page
    assert "can give you taskings" not in page and "will appear here" not in page


def test_the_dashboard_gives_the_one_rules_reason_in_her_words_when_a_tasking_is_not_open(
    vera_client, tasking, assigned_vera, wendy
):
    from volunteers.services import stand_down_place

    stand_down_place(person=assigned_vera.user, detail="After a distressing chat.", by=wendy)
    page = text(vera_client.get("/"))
    reasons = submission_decision(user=assigned_vera.user, tasking=tasking).reasons
    assert reasons and all(reason.volunteer in page for reason in reasons)
    assert "After a distressing chat." not in page  # the welfare detail is never shown
    assert f'href="/taskings/{tasking.pk}/"' in page and "Not open" in page


def test_the_dashboard_says_a_draft_statement_and_a_rejected_exhibit_need_her(
    vera_client, tasking, assigned_vera, owen, tmp_path
):
    from evidence.services import exhibit_review
    from evidence.statements import statement_save_draft

    statement_save_draft(tasking=tasking, author=assigned_vera.user, body="I saw it.", exhibit_ids=[])
    exhibit = submit_exhibit(assigned_vera.user, tasking, tmp_path, "chat.txt", CHAT, "text/plain")
    exhibit_review(exhibit=exhibit, decision="rejected", reason="Half the chat is missing.", by=owen)
    page = text(vera_client.get("/"))
    assert "You have a draft statement to check and sign, or discard." in page
    assert "Your supervising officer rejected an exhibit: read why on the exhibits page." in page


def test_the_dashboard_leaves_out_closed_taskings_and_taskings_that_are_not_hers(
    vera_client, tasking, assigned_vera, lantern, owen
):
    from evidence.services import tasking_assign, tasking_set_status

    closed = make_tasking(lantern, owen, reference="OP-CLOSED-1")
    tasking_assign(tasking=closed, volunteer=assigned_vera.user, by=owen)
    tasking_set_status(tasking=closed, to=Tasking.Status.CLOSED, by=owen, reason="Done.")
    not_hers = make_tasking(lantern, owen, reference="OP-OTHER-1")
    page = text(vera_client.get("/"))
    assert tasking.reference in page
    assert "OP-CLOSED-1" not in page and "OP-OTHER-1" not in page
    assert f"/taskings/{not_hers.pk}/" not in page


def test_a_deployable_volunteer_without_a_tasking_is_told_where_it_will_appear(client, deployable_vera):
    client.post("/accounts/login/", {"login": deployable_vera.user.email, "password": PASSWORD})
    page = text(client.get("/"))
    assert "When your supervising officer gives you a tasking, it will appear here." in page
    assert "See all your taskings" not in page


def test_a_volunteers_header_leads_to_her_taskings_on_every_page(vera_client, tasking):
    for path in ("/", "/taskings/", f"/taskings/{tasking.pk}/notes/", "/training/"):
        page = text(vera_client.get(path))
        assert re.search(
            r'<a class="govuk-service-navigation__link" href="/taskings/"[^>]*>\s*(<strong[^>]*>)?Your taskings', page
        ), path
    assert 'href="/taskings/" aria-current="page"' in text(vera_client.get("/taskings/"))
    assert 'href="/taskings/" aria-current="true"' in text(vera_client.get(f"/taskings/{tasking.pk}/"))


def test_a_court_users_header_leads_to_the_bundles_shared_with_them_and_to_verification(client, carla):
    mfa_login(client, carla, enrol_totp(carla))
    page = text(client.get("/bundles/"))
    assert re.search(r'href="/bundles/" aria-current="page">\s*<strong[^>]*>Bundles shared with you', page)
    assert re.search(r'href="/bundles/verify/">\s*Verify a bundle', page)
    assert "Your taskings" not in page


def test_nobody_else_gets_the_volunteers_or_the_courts_header_links(client, wendy):
    mfa_login(client, wendy, enrol_totp(wendy))
    page = text(client.get("/welfare/"))
    assert "Your taskings" not in page and "Bundles shared with you" not in page and "Verify a bundle" not in page


# --- A tasking's pages ---------------------------------------------------------------------------------


def _tasking_pages(tasking, statement) -> list[str]:
    return [
        f"/taskings/{tasking.pk}/",
        f"/taskings/{tasking.pk}/exhibits/",
        f"/taskings/{tasking.pk}/notes/",
        f"/taskings/{tasking.pk}/statements/",
        f"/taskings/{tasking.pk}/statements/new/",
        f"/taskings/{tasking.pk}/statements/{statement.pk}/",
        f"/taskings/{tasking.pk}/statements/{statement.pk}/check/",
        f"/taskings/{tasking.pk}/statements/{statement.pk}/discard/",
    ]


def test_every_tasking_page_puts_the_safeguarding_link_before_anything_else_in_the_page(
    vera_client, tasking, assigned_vera
):
    from evidence.statements import statement_save_draft

    statement = statement_save_draft(tasking=tasking, author=assigned_vera.user, body="I saw it.", exhibit_ids=[])
    for path in _tasking_pages(tasking, statement):
        page = text(vera_client.get(path))
        main = page[page.index('<main class="govuk-main-wrapper"') :]
        link = main.index(f'href="/taskings/{tasking.pk}/safeguarding/"')
        assert "Raise a safeguarding concern" in main[link : link + 300], path
        # Nothing that takes focus comes before it in the page's content: no other link, field or button.
        assert not re.search(r"<(a |input|textarea|select|button)", main[:link].rsplit("<a ", 1)[0]), path
        assert link < main.index('aria-label="Pages of this tasking"'), path


def test_the_safeguarding_page_raises_the_alert_from_one_step_away(vera_client, tasking, assigned_vera):
    from evidence.models import SafeguardingAlert

    page = text(vera_client.get(f"/taskings/{tasking.pk}/safeguarding/"))
    assert "Raise a safeguarding concern" in page and "call 999" in page
    assert f'action="/taskings/{tasking.pk}/safeguarding/"' in page
    response = vera_client.post(f"/taskings/{tasking.pk}/safeguarding/", {"note": "He says he is with a 12-year-old."})
    assert response.status_code == 302
    assert SafeguardingAlert.objects.get(tasking=tasking).raised_by == assigned_vera.user


def test_the_page_navigation_marks_the_page_she_is_on(vera_client, tasking):
    for section, path in (
        ("Overview", f"/taskings/{tasking.pk}/"),
        ("Exhibits", f"/taskings/{tasking.pk}/exhibits/"),
        ("Notes", f"/taskings/{tasking.pk}/notes/"),
        ("Statements", f"/taskings/{tasking.pk}/statements/"),
    ):
        page = text(vera_client.get(path))
        assert re.search(rf'href="{re.escape(path)}" aria-current="page">{section}<', page), section
        assert page.count('aria-current="page"') == 1


def test_the_overview_counts_her_work_and_leads_to_each_page(vera_client, tasking, assigned_vera, owen, tmp_path):
    from evidence.services import exhibit_review, note_add

    first = submit_exhibit(assigned_vera.user, tasking, tmp_path, "chat.txt", CHAT, "text/plain")
    submit_exhibit(assigned_vera.user, tasking, tmp_path, "shot.png", PNG, "image/png")
    exhibit_review(exhibit=first, decision="accepted", reason="", by=owen)
    note_add(tasking=tasking, author=assigned_vera.user, text="19:02 contact made.")
    page = text(vera_client.get(f"/taskings/{tasking.pk}/"))
    assert "2 exhibits: 1 awaiting review, 1 accepted" in page
    assert "1 note" in page and "19:02 contact made." not in page  # counted here, read on its page
    assert "You can submit evidence until" in page and tasking.persona in page
    for href in ("exhibits/", "notes/", "statements/"):
        assert f'href="/taskings/{tasking.pk}/{href}"' in page


def test_each_exhibit_shows_its_review_state_and_a_rejection_its_reason(
    vera_client, tasking, assigned_vera, owen, tmp_path
):
    from evidence.services import exhibit_review

    exhibits = [
        submit_exhibit(assigned_vera.user, tasking, tmp_path, f"chat{n}.txt", CHAT + bytes([n]), "text/plain")
        for n in range(4)
    ]
    exhibit_review(exhibit=exhibits[1], decision="accepted", reason="", by=owen)
    exhibit_review(exhibit=exhibits[2], decision="rejected", reason="Half the chat is missing.", by=owen)
    exhibit_review(exhibit=exhibits[3], decision="unused", reason="Names a covert officer.", by=owen, schedule="MG6D")
    page = text(vera_client.get(f"/taskings/{tasking.pk}/exhibits/"))
    cards = page.split('class="govuk-summary-card"')[1:]
    assert len(cards) == 4
    assert "Awaiting review" in cards[0] and "VD/1" in cards[0]
    assert "Accepted" in cards[1]
    assert "Rejected" in cards[2] and "Your supervising officer's reason: Half the chat is missing." in cards[2]
    assert "Kept as unused material" in cards[3]
    assert "Names a covert officer." not in page  # why material is sensitive is not hers to read
    assert all(exhibit.sha256 in page for exhibit in exhibits)


def test_the_statements_page_says_what_each_statement_needs(vera_client, tasking, assigned_vera):
    from evidence.statements import statement_discard, statement_save_draft, statement_sign

    draft = statement_save_draft(tasking=tasking, author=assigned_vera.user, body="Draft text.", exhibit_ids=[])
    signed = statement_sign(
        statement=statement_save_draft(tasking=tasking, author=assigned_vera.user, body="Signed.", exhibit_ids=[]),
        by=assigned_vera.user,
    )
    gone = statement_discard(
        statement=statement_save_draft(tasking=tasking, author=assigned_vera.user, body="Gone.", exhibit_ids=[]),
        by=assigned_vera.user,
    )
    page = text(vera_client.get(f"/taskings/{tasking.pk}/statements/"))
    assert f"/statements/{draft.pk}/check/" in page and f"/statements/{draft.pk}/discard/" not in page
    assert f"/statements/{signed.pk}/mg11.pdf" in page and f"/statements/{signed.pk}/check/" not in page
    assert f"/statements/{gone.pk}/check/" not in page and f"/statements/{gone.pk}/mg11.pdf" not in page
    assert "Draft" in page and "Signed" in page and "Discarded" in page


# --- Errors: in a summary that links to the field, in specific words -------------------------------------


def _upload(client, tasking, *, with_file=True, **overrides):
    data = {
        "description": "Chat with the suspect",
        "platform": "Platform X",
        "other_party": "dave_77",
        "url": "",
        "captured_at": (timezone.localtime() - timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M"),
        "capture_method": "Platform export",
        **overrides,
    }
    if with_file:
        data["file"] = io.BytesIO(PNG)
        data["file"].name = "capture.png"
    return client.post(f"/taskings/{tasking.pk}/exhibits/", data)


def test_without_javascript_a_failed_upload_asks_for_the_file_again_and_keeps_the_details(vera_client, tasking):
    response = _upload(vera_client, tasking, platform="", description="Kept description")
    assert response.status_code == 400
    page = text(response)
    assert '<a href="#id_platform">Enter the platform</a>' in page
    assert re.search(r'<a href="#id_file">Choose the file again: nothing was stored', page)
    assert 'id="id_file-error"' in page and 'aria-describedby="id_file-error"' in page
    assert "Kept description" in page and page.startswith("<!DOCTYPE html>")
    assert "<title>Error: " in page
    assert not Exhibit.objects.exists()


def test_an_upload_without_a_file_says_to_choose_one_beside_the_file_input(vera_client, tasking):
    page = text(_upload(vera_client, tasking, with_file=False))
    assert '<a href="#id_file">Choose the file to upload</a>' in page
    assert "Choose the file again" not in page


def test_a_time_of_capture_in_the_future_is_refused_beside_its_field(vera_client, tasking):
    later = (timezone.localtime() + timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    page = text(_upload(vera_client, tasking, captured_at=later))
    assert '<a href="#id_captured_at">The time of capture cannot be in the future</a>' in page
    assert not Exhibit.objects.exists()


def test_a_file_of_the_wrong_type_is_refused_at_the_file_input(vera_client, tasking):
    data = {
        "description": "d",
        "platform": "p",
        "other_party": "o",
        "captured_at": (timezone.localtime() - timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M"),
        "capture_method": "c",
        "file": io.BytesIO(b"MZ\x90\x00" + b"\x00" * 500),
    }
    data["file"].name = "holiday.jpg"
    page = text(vera_client.post(f"/taskings/{tasking.pk}/exhibits/", data))
    assert re.search(r'<a href="#id_file">This type of file cannot be accepted as an exhibit', page)


@pytest.mark.parametrize("typed", ["", "  \n "])
def test_an_empty_note_says_enter_the_note_and_links_to_the_box(vera_client, tasking, typed):
    from evidence.models import ContemporaneousNote

    response = vera_client.post(f"/taskings/{tasking.pk}/notes/", {"text": typed})
    assert response.status_code == 400
    page = text(response)
    assert '<a href="#note-text">Enter the note</a>' in page
    assert 'id="note-text-error"' in page and "This field is required." not in page
    assert not ContemporaneousNote.objects.exists()


def test_a_note_is_added_and_shown_in_the_order_written(vera_client, tasking):
    first = vera_client.post(f"/taskings/{tasking.pk}/notes/", {"text": "19:00 logged in."}, follow=True)
    assert "Note added at" in text(first)
    page = text(vera_client.post(f"/taskings/{tasking.pk}/notes/", {"text": "19:02 contact made."}, follow=True))
    assert page.index("19:00 logged in.") < page.index("19:02 contact made.")


def _queries(client, path: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured)


def test_the_list_pages_ask_the_database_as_often_for_many_items_as_for_one(
    vera_client, tasking, assigned_vera, owen, tmp_path
):
    from evidence.services import exhibit_review, note_add
    from evidence.statements import statement_save_draft

    def add(n: int) -> None:
        exhibit = submit_exhibit(assigned_vera.user, tasking, tmp_path, f"c{n}.txt", CHAT + bytes([n]), "text/plain")
        exhibit_review(exhibit=exhibit, decision="rejected", reason=f"Reason {n}.", by=owen)
        note_add(tasking=tasking, author=assigned_vera.user, text=f"Note {n}.")
        statement_save_draft(tasking=tasking, author=assigned_vera.user, body=f"Draft {n}.", exhibit_ids=[exhibit.pk])

    add(0)
    paths = [f"/taskings/{tasking.pk}/{page}" for page in ("", "exhibits/", "notes/", "statements/")]
    for path in paths:
        vera_client.get(path)  # the session's first requests do some work once
    one = {path: _queries(vera_client, path) for path in paths}
    for n in range(1, 6):
        add(n)
    assert {path: _queries(vera_client, path) for path in paths} == one
