"""The admin reads as people speak: human labels (no "Url", "Sha256" or a size in bytes), custody, address and
audit history in words rather than JSON, one date format in UK time, key list columns first, the tasking's page
showing what it holds, and a built bundle leading back to its tasking and on to sharing it.

Vera's exhibits are on Owen's tasking OP-LANTERN-1 in Lantern.
"""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from lxml import html as lxml_html

from tests.conftest import enrol_totp, mfa_login
from tests.integration.bundle_helpers import CHAT, PNG, built, ready_tasking, signing_key, submit_exhibit

__all__ = ["built", "ready_tasking", "signing_key"]  # fixtures used by name

DATE = r"\d{1,2} (January|February|March|April|May|June|July|August|September|October|November|December) \d{4}"


@pytest.fixture
def officer(client, owen):
    mfa_login(client, owen, enrol_totp(owen))
    return client


def _text(response) -> str:
    """What a person reads on the page (the content area), tags removed and entities decoded."""
    assert response.status_code == 200
    document = lxml_html.fromstring(response.content.decode())
    content = document.xpath('//*[@id="content"]') or [document]
    return re.sub(r"\s+", " ", html.unescape(" ".join(content[0].itertext())))


def _headers(response) -> list[str]:
    document = lxml_html.fromstring(response.content.decode())
    return [re.sub(r"\s+", " ", th.text_content()).strip() for th in document.xpath('//table[@id="result_list"]//th')]


def test_an_exhibits_record_page_has_human_labels_and_a_size_in_words(officer, assigned_vera, tasking, tmp_path):
    exhibit = submit_exhibit(assigned_vera.user, tasking, tmp_path, "shot.png", PNG, "image/png")
    text = _text(officer.get(f"/admin/evidence/exhibit/{exhibit.pk}/change/"))
    for label in ("Web address:", "SHA-256:", "Size:", "Produced by:", "Captured:", "How it was captured:"):
        assert label in text
    for stock in ("Url:", "Sha256:", "Browser sha256:", "Sniffed type:", "Original name:"):
        assert stock not in text
    assert f"Size: {len(PNG) / 1000:.1f} KB" in text and f"Size: {len(PNG)}" not in text
    assert "Type: PNG image" in text


def test_custody_history_reads_as_when_what_who_and_detail_in_words(officer, owen, assigned_vera, tasking, tmp_path):
    from evidence import services

    exhibit = submit_exhibit(assigned_vera.user, tasking, tmp_path, "chat.txt", CHAT, "text/plain")
    services.exhibit_review(exhibit=exhibit, decision="rejected", reason="Duplicate of VD/2.", by=owen)
    response = officer.get(f"/admin/evidence/exhibit/{exhibit.pk}/change/")
    text = _text(response)
    for heading in ("When", "What happened", "Who", "Detail", "Chain hash (SHA-256)"):
        assert heading in text
    assert f"Plain text, {len(CHAT)} bytes. SHA-256 on receipt: {exhibit.sha256}" in text
    assert "Rejected" in text and "Reason: Duplicate of VD/2." in text
    assert "owen@lantern.example (Supervising officer)" in text
    assert '{"' not in text and "supervising_officer" not in text


def test_a_volunteers_address_history_is_a_table_not_json(officer, assigned_vera):
    response = officer.get(f"/admin/volunteers/volunteer/{assigned_vera.pk}/change/")
    text = _text(response)
    assert "Address history:" in text and "Address From To" in text
    assert "Address From To 1 High Street, Anytown 1 January 2015 Now" in text
    assert '"address"' not in text and "[{" not in text


def test_the_audit_row_shows_its_detail_in_words_and_the_recorded_json_beneath(client, ada, assigned_vera, tasking):
    from portal.models import AuditEvent

    mfa_login(client, ada, enrol_totp(ada))
    event = AuditEvent.objects.filter(action="evidence.assign").latest("id")
    response = client.get(f"/admin/portal/auditevent/{event.pk}/change/")
    text = _text(response)
    assert f"Volunteer {assigned_vera.user.pk}" in text
    assert "As recorded in the audit chain (JSON)" in text
    assert "When:" in text and "What happened:" in text and "Their roles then:" in text


def test_every_date_in_the_admin_reads_one_way_in_uk_time(officer, owen, assigned_vera, tasking, tmp_path):
    from evidence import services

    exhibit = submit_exhibit(assigned_vera.user, tasking, tmp_path, "chat.txt", CHAT, "text/plain")
    services.exhibit_review(exhibit=exhibit, decision="accepted", reason="", by=owen)
    services.safeguarding_raise(tasking=tasking, by=assigned_vera.user, note="Worried.")
    local = timezone.localtime(exhibit.submitted_at)
    expected = f"{local:%-d %B %Y}, {local:%H:%M}"
    for url in (
        "/admin/",
        "/admin/evidence/exhibit/",
        f"/admin/evidence/exhibit/{exhibit.pk}/change/",
        "/admin/evidence/safeguardingalert/",
        f"/admin/evidence/tasking/{tasking.pk}/change/",
        f"/admin/volunteers/volunteer/{assigned_vera.pk}/change/",
    ):
        text = _text(officer.get(url)).replace("\u00a0", " ")
        assert not re.search(r"\b[ap]\.m\.|\b\d{4}-\d{2}-\d{2}\b|\d{2}/\d{2}/\d{4}", text), url
        assert re.search(DATE, text), url
    assert expected in _text(officer.get(f"/admin/evidence/exhibit/{exhibit.pk}/change/")).replace("\u00a0", " ")


def test_split_date_and_time_boxes_each_have_a_label(officer):
    page = officer.get("/admin/evidence/authorisation/add/").content.decode()
    assert '<label class="portal-split-label" for="id_granted_at_0">Date:</label>' in page
    assert '<label class="portal-split-label" for="id_granted_at_1">Time:</label>' in page


def test_key_list_columns_lead_and_long_titles_are_shortened(officer, assigned_vera, tasking, tmp_path):
    from evidence import services
    from evidence.models import Tasking

    Tasking.objects.filter(pk=tasking.pk).update(title="A very long operation title " * 6)
    from evidence.models import HandoverBundle

    submit_exhibit(assigned_vera.user, tasking, tmp_path, "chat.txt", CHAT, "text/plain")
    HandoverBundle.objects.create(tasking=tasking, version=1, requested_by=tasking.handler)
    services.safeguarding_raise(tasking=tasking, by=assigned_vera.user, note="Worried.")
    assert _headers(officer.get("/admin/evidence/exhibit/"))[1:3] == ["Review", "Tasking"]
    assert _headers(officer.get("/admin/evidence/handoverbundle/"))[:2] == ["State", "Signed PDF"]
    assert _headers(officer.get("/admin/evidence/safeguardingalert/"))[0] == "Acknowledgement"
    listing = _text(officer.get("/admin/evidence/tasking/"))
    assert "A very long operation title A very long…" in listing
    assert ("A very long operation title " * 6).strip() not in listing
    record = _text(officer.get(f"/admin/evidence/tasking/{tasking.pk}/change/"))
    assert ("A very long operation title " * 2).strip() in record


def test_the_tasking_page_shows_its_exhibits_notes_and_statements(officer, owen, assigned_vera, tasking, tmp_path):
    from evidence import services
    from evidence.statements import statement_save_draft

    awaiting = submit_exhibit(assigned_vera.user, tasking, tmp_path, "chat.txt", CHAT, "text/plain")
    accepted = submit_exhibit(assigned_vera.user, tasking, tmp_path, "shot.png", PNG, "image/png")
    services.exhibit_review(exhibit=accepted, decision="accepted", reason="", by=owen)
    services.note_add(tasking=tasking, author=assigned_vera.user, text="He asked for a photograph at 20:14.")
    statement_save_draft(tasking=tasking, author=assigned_vera.user, body="I produce VD/1.", exhibit_ids=[awaiting.pk])
    response = officer.get(f"/admin/evidence/tasking/{tasking.pk}/change/")
    page, text = response.content.decode(), _text(response)
    assert f'href="/admin/evidence/exhibit/{awaiting.pk}/review/"' in page
    assert f"{awaiting.reference} Awaiting review — Review" in text
    assert f"{accepted.reference} Accepted" in text
    assert "He asked for a photograph at 20:14." in text
    assert "Statements (MG11)" in text.title() or "STATEMENTS (MG11)" in text.upper()
    assert "I produce VD/1." in text and "Draft" in text
    # Read only: nothing in these lists can be typed into or deleted.
    for field in ("exhibits-0-description", "notes-0-text", "statements-0-body", "exhibits-0-DELETE", "notes-0-DELETE"):
        assert f'name="{field}"' not in page


def test_a_welfare_officer_who_may_open_taskings_sees_no_evidence_on_them(
    client, lantern, assigned_vera, tasking, tmp_path
):
    from django.contrib.auth.models import Permission

    from evidence import services
    from portal import roles
    from tests.conftest import make_person

    submit_exhibit(assigned_vera.user, tasking, tmp_path, "chat.txt", CHAT, "text/plain")
    services.note_add(tasking=tasking, author=assigned_vera.user, text="He asked for a photograph.")
    vic = make_person("vic@lantern.example", roles.WELFARE, lantern)
    vic.user_permissions.add(Permission.objects.get(content_type__app_label="evidence", codename="view_tasking"))
    mfa_login(client, vic, enrol_totp(vic))
    text = _text(client.get(f"/admin/evidence/tasking/{tasking.pk}/change/"))
    assert "He asked for a photograph." not in text and "chat.txt from the chat" not in text


def test_the_share_form_comes_prefilled_with_the_bundle_and_a_default_expiry(officer, built, settings):
    settings.PORTAL_BUNDLE_SHARE_DAYS = 28
    response = officer.get(f"/admin/evidence/bundleshare/add/?bundle={built.pk}")
    page = response.content.decode()
    document = lxml_html.fromstring(page)
    assert document.xpath('//select[@name="bundle"]/option[@selected]/@value') == [str(built.pk)]
    expected = timezone.localtime() + timedelta(days=28)
    assert document.xpath('//input[@name="until_0"]/@value') == [f"{expected:%d/%m/%Y}"]
    assert document.xpath('//input[@name="until_1"]/@value') == ["23:59:00"]
    text = _text(response)
    assert "Share a bundle with a court or CPS recipient" in text
    assert "It is set to 28 days from today; choose an earlier date if the case needs it." in text


def test_the_default_share_length_is_a_setting(officer, built, settings):
    settings.PORTAL_BUNDLE_SHARE_DAYS = 7
    document = lxml_html.fromstring(officer.get(f"/admin/evidence/bundleshare/add/?bundle={built.pk}").content)
    assert document.xpath('//input[@name="until_0"]/@value') == [f"{timezone.localtime() + timedelta(days=7):%d/%m/%Y}"]


def test_a_built_bundle_leads_back_to_its_tasking_and_on_to_sharing_it(officer, built):
    share = f"/admin/evidence/bundleshare/add/?bundle={built.pk}"
    tasking = f"/admin/evidence/tasking/{built.tasking_id}/change/"
    for url in (f"/bundles/{built.pk}/", f"/admin/evidence/handoverbundle/{built.pk}/change/"):
        page = html.unescape(officer.get(url).content.decode())
        assert f'href="{share}"' in page and "Share with a court or CPS recipient" in page, url
        assert f'href="{tasking}"' in page, url
    tasking_page = html.unescape(officer.get(tasking).content.decode())
    assert f'href="{share}"' in tasking_page


def test_another_schemes_officer_cannot_use_a_share_link_for_this_bundle(client, otto, built):
    mfa_login(client, otto, enrol_totp(otto))
    response = client.get(f"/admin/evidence/bundleshare/add/?bundle={built.pk}")
    document = lxml_html.fromstring(response.content)
    assert document.xpath('//select[@name="bundle"]/option[@selected]') == []
    assert built.tasking.reference not in response.content.decode()


def _authorisation_form(**changes) -> dict:
    form = {
        "kind": "chis",
        "reference": "AUTH-NEW-1",
        "authorising_officer": "Supt Sarah Grant",
        "authorising_rank": "Superintendent",
        "granted_at_0": "01/12/2026",
        "granted_at_1": "09:00",
        "expires_at_0": "",
        "expires_at_1": "",
        "review_dates": "15/01/2027\n2027-04-15\n",
    }
    return {**form, **changes}


def test_review_dates_are_typed_one_a_line_and_kept_as_dates(officer, lantern):
    from evidence.models import Authorisation

    response = officer.post("/admin/evidence/authorisation/add/", _authorisation_form())
    assert response.status_code == 302, response.content.decode()[:2000]
    authorisation = Authorisation.objects.get(reference="AUTH-NEW-1")
    assert authorisation.review_dates == ["2027-01-15", "2027-04-15"] and authorisation.scheme == lantern
    page = officer.get(f"/admin/evidence/authorisation/{authorisation.pk}/change/").content.decode()
    assert "15/01/2027\n15/04/2027" in page


def test_a_review_date_that_is_not_a_date_is_refused_with_the_line_named(officer):
    from evidence.models import Authorisation

    response = officer.post("/admin/evidence/authorisation/add/", _authorisation_form(review_dates="next week"))
    assert response.status_code == 200
    assert "“next week” is not a date: enter each review date on its own line, like 15/01/2027." in html.unescape(
        response.content.decode()
    )
    assert 'name="review_dates"' in response.content.decode() and "next week" in response.content.decode()
    assert not Authorisation.objects.filter(reference="AUTH-NEW-1").exists()


def test_a_new_authorisations_form_asks_only_what_the_officer_records(officer):
    text = _text(officer.get("/admin/evidence/authorisation/add/"))
    assert "Reason for cancelling" not in text and "Recorded by" not in text and "Cancelled by" not in text


def test_sizes_read_in_powers_of_a_thousand_as_browsers_and_disks_say_them():
    from portal.display import file_size

    assert [file_size(n) for n in (1, 999, 1000, 105_721, 2_500_000, 3 * 10**9)] == [
        "1 byte",
        "999 bytes",
        "1.0 KB",
        "105.7 KB",
        "2.5 MB",
        "3.0 GB",
    ]


def test_a_moment_reads_in_uk_time_in_summer_and_winter_alike():
    from datetime import UTC, date, datetime

    from portal.display import value_in_words, when

    assert when(datetime(2026, 7, 1, 12, 5, tzinfo=UTC)) == "1 July 2026, 13:05"  # British Summer Time
    assert when(datetime(2026, 12, 2, 18, 5, tzinfo=UTC)) == "2 December 2026, 18:05"
    assert when(date(2026, 12, 2)) == "2 December 2026"
    assert value_in_words("2015-01-01", key="from") == "1 January 2015"
    assert value_in_words(True) == "Yes" and value_in_words(None) == "—"


def test_an_empty_to_field_in_a_record_page_s_address_opens_the_record(officer, tasking):
    """Django reads `?_to_field=` as a field named "" and fails; the portal reads it as the record's id."""
    for path in (
        f"/admin/evidence/tasking/{tasking.pk}/change/",
        f"/admin/evidence/authorisation/{tasking.authorisation_id}/change/",
    ):
        response = officer.get(f"{path}?_to_field=")
        assert response.status_code == 200, path
        assert tasking.reference in response.content.decode() or "authorisation" in path
