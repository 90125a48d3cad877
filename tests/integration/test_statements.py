"""Notes and MG11 statements: the one rule, kept drafts, signing after re-authentication, fixed PDFs."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.utils import DatabaseError
from pypdf import PdfReader

from evidence.models import ContemporaneousNote, Statement, StatementDraft, Tasking
from evidence.statements import DECLARATION
from tests.conftest import PASSWORD


@pytest.fixture
def vera_client(client, assigned_vera):
    client.post("/accounts/login/", {"login": assigned_vera.user.email, "password": PASSWORD})
    return client


def _pdf_text(name: str) -> str:
    with default_storage.open(name, "rb") as handle:
        return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(handle.read())).pages)


def test_a_note_is_stamped_by_the_server_and_refused_when_the_tasking_is_closed(vera_client, tasking):
    vera_client.post(f"/taskings/{tasking.pk}/notes/", {"text": "14:02 contact made by user_4471."})
    assert ContemporaneousNote.objects.get().text == "14:02 contact made by user_4471."
    Tasking.objects.filter(pk=tasking.pk).update(status="closed")
    response = vera_client.post(f"/taskings/{tasking.pk}/notes/", {"text": "late note"}, follow=True)
    assert b"This tasking is closed." in response.content
    assert ContemporaneousNote.objects.count() == 1


def test_drafts_that_differ_are_kept_and_signing_fixes_an_mg11_with_its_own_page_count(vera_client, tasking):
    response = vera_client.post(f"/taskings/{tasking.pk}/statements/new/", {"body": "I am an accredited volunteer."})
    statement = Statement.objects.get()
    assert response.status_code == 302
    url = f"/taskings/{tasking.pk}/statements/{statement.pk}/"
    vera_client.post(url, {"body": "I am an accredited volunteer."})  # the same text: no new draft
    vera_client.post(url, {"body": "I am an accredited volunteer.\n\n" + "On 2 December I was tasked. " * 400})
    assert StatementDraft.objects.filter(statement=statement).count() == 2

    sign = f"/taskings/{tasking.pk}/statements/{statement.pk}/sign/"
    # Signing is a sensitive action: a session that has not re-authenticated recently is asked to.
    session = vera_client.session
    session.pop("account_authentication_methods", None)
    session.save()
    response = vera_client.post(sign)
    assert response.status_code == 302 and "/accounts/reauthenticate/" in response["Location"]
    statement.refresh_from_db()
    assert statement.state == "draft"
    vera_client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    vera_client.post(sign)
    statement.refresh_from_db()
    assert statement.state == "signed" and statement.page_count >= 2
    text = _pdf_text(statement.pdf_name)
    assert "Vera Deploy" in text.split("Witness statement")[1][:200]
    assert f"consisting of {statement.page_count} page(s)" in " ".join(text.split())
    with default_storage.open(statement.pdf_name, "rb") as handle:
        import hashlib

        assert hashlib.sha256(handle.read()).hexdigest() == statement.pdf_sha256
    assert DECLARATION.split("{pages}")[1].split(" I ")[0].strip()[:40] in " ".join(text.split())


def test_a_signed_statement_is_never_edited_and_a_correction_is_a_further_statement(
    vera_client, tasking, assigned_vera
):
    from evidence.statements import statement_save_draft, statement_sign

    statement = statement_save_draft(tasking=tasking, author=assigned_vera.user, body="First.", exhibit_ids=[])
    statement_sign(statement=statement, by=assigned_vera.user)
    response = vera_client.post(f"/taskings/{tasking.pk}/statements/{statement.pk}/", {"body": "Changed."})
    assert b"never edited" in response.content
    statement.refresh_from_db()
    assert statement.body == "First."
    vera_client.post(f"/taskings/{tasking.pk}/statements/new/", {"body": "Correction.", "corrects": statement.pk})
    further = Statement.objects.exclude(pk=statement.pk).get()
    assert further.corrects == statement


def test_another_volunteer_cannot_open_or_sign_the_statement(
    client, vera_client, tasking, assigned_vera, lantern, owen, wendy, conduct
):
    from evidence.services import tasking_assign
    from evidence.statements import statement_save_draft
    from tests.conftest import clear_vetting, invite_and_apply, screen
    from volunteers.services import volunteer_transition

    statement = statement_save_draft(tasking=tasking, author=assigned_vera.user, body="Mine.", exhibit_ids=[])
    other = invite_and_apply(lantern, owen, "o2@lantern.example", "Olly Other")
    clear_vetting(other, owen)
    screen(other.user, wendy)
    other.refresh_from_db()
    volunteer_transition(volunteer=other, to="accredited", by=owen, reason="ok")
    tasking_assign(tasking=tasking, volunteer=other.user, by=owen)
    vera_client.logout()
    client.post("/accounts/login/", {"login": other.user.email, "password": PASSWORD})
    assert client.get(f"/taskings/{tasking.pk}/statements/{statement.pk}/").status_code == 404
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    assert client.post(f"/taskings/{tasking.pk}/statements/{statement.pk}/sign/").status_code == 404
    statement.refresh_from_db()
    assert statement.state == "draft"


@pytest.mark.postgres
def test_postgres_refuses_to_change_signed_statements_notes_and_drafts(tasking, assigned_vera):
    from evidence.services import note_add
    from evidence.statements import statement_save_draft, statement_sign

    note = note_add(tasking=tasking, author=assigned_vera.user, text="n")
    statement = statement_save_draft(tasking=tasking, author=assigned_vera.user, body="b", exhibit_ids=[])
    statement_sign(statement=statement, by=assigned_vera.user)
    for sql, pk in [
        ("UPDATE evidence_statement SET body = 'x' WHERE id = %s", statement.pk),
        ("DELETE FROM evidence_statement WHERE id = %s", statement.pk),
        ("UPDATE evidence_contemporaneousnote SET text = 'x' WHERE id = %s", note.pk),
        ("DELETE FROM evidence_statementdraft WHERE statement_id = %s", statement.pk),
    ]:
        with pytest.raises(DatabaseError, match="refused"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [pk])


def test_the_tasking_pages_offer_notes_statements_and_the_safeguarding_form(vera_client, tasking):
    vera_client.post(f"/taskings/{tasking.pk}/notes/", {"text": "Contact made."})
    overview = vera_client.get(f"/taskings/{tasking.pk}/").content.decode()
    assert "1 note" in overview and f'href="/taskings/{tasking.pk}/notes/"' in overview
    assert "Contact made." in vera_client.get(f"/taskings/{tasking.pk}/notes/").content.decode()
    statements = vera_client.get(f"/taskings/{tasking.pk}/statements/").content.decode()
    assert "Write a witness statement (MG11)" in statements
    safeguarding = vera_client.get(f"/taskings/{tasking.pk}/safeguarding/").content.decode()
    assert "Alert my supervising officer now" in safeguarding


def test_the_signed_mg11_is_a_tagged_pdf_with_its_language_and_title(tasking, assigned_vera):
    import pikepdf

    from evidence.statements import statement_save_draft, statement_sign

    statement = statement_save_draft(tasking=tasking, author=assigned_vera.user, body="I saw it.", exhibit_ids=[])
    statement = statement_sign(statement=statement, by=assigned_vera.user)
    with default_storage.open(statement.pdf_name, "rb") as handle, pikepdf.open(io.BytesIO(handle.read())) as pdf:
        assert pdf.Root.MarkInfo.Marked is True
        assert "/StructTreeRoot" in pdf.Root and len(pdf.Root.StructTreeRoot.K) > 0
        assert str(pdf.Root.Lang) == "en-GB"
        assert str(pdf.docinfo.Title) == f"MG11 witness statement of Vera Deploy, {tasking.reference}"
        assert pdf.Root.ViewerPreferences.DisplayDocTitle is True
        assert len(pdf.pages) == statement.page_count


def _draft(tasking, user, body="I am an accredited volunteer.", exhibit_ids=()):
    from evidence.statements import statement_save_draft

    return statement_save_draft(tasking=tasking, author=user, body=body, exhibit_ids=list(exhibit_ids))


def test_save_and_check_leads_to_the_statement_its_exhibits_and_the_declaration_she_will_make(
    vera_client, tasking, assigned_vera, tmp_path
):
    from tests.integration.bundle_helpers import CHAT, submit_exhibit

    exhibit = submit_exhibit(assigned_vera.user, tasking, tmp_path, "chat.txt", CHAT, "text/plain")
    response = vera_client.post(
        f"/taskings/{tasking.pk}/statements/new/",
        {"body": "On 2 December I was tasked.", "exhibits": [str(exhibit.pk)], "action": "check"},
    )
    statement = Statement.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/taskings/{tasking.pk}/statements/{statement.pk}/check/"
    page = vera_client.get(response["Location"]).content.decode()
    assert "Check your statement before you sign it" in page
    assert "On 2 December I was tasked." in page and "VD/1" in page and "chat.txt from the chat" in page
    assert DECLARATION.format(pages=1) in page
    assert f'action="/taskings/{tasking.pk}/statements/{statement.pk}/sign/"' in page
    assert f"/taskings/{tasking.pk}/statements/{statement.pk}/#body" in page  # change the answer
    assert statement.state == "draft"


def test_signing_from_the_check_page_still_asks_for_her_password(vera_client, tasking, assigned_vera):
    statement = _draft(tasking, assigned_vera.user)
    session = vera_client.session
    session.pop("account_authentication_methods", None)
    session.save()
    response = vera_client.post(f"/taskings/{tasking.pk}/statements/{statement.pk}/sign/")
    assert response.status_code == 302 and "/accounts/reauthenticate/" in response["Location"]
    statement.refresh_from_db()
    assert statement.state == "draft"
    vera_client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    response = vera_client.post(f"/taskings/{tasking.pk}/statements/{statement.pk}/sign/", follow=True)
    statement.refresh_from_db()
    assert statement.state == "signed"
    assert "Statement signed: 1 page." in response.content.decode()
    assert "Download the signed MG11 (PDF)" in response.content.decode()


def test_a_signed_statement_has_no_check_page_and_is_shown_as_signed(vera_client, tasking, assigned_vera):
    from evidence.statements import statement_sign

    statement = statement_sign(statement=_draft(tasking, assigned_vera.user), by=assigned_vera.user)
    response = vera_client.get(f"/taskings/{tasking.pk}/statements/{statement.pk}/check/")
    assert response.status_code == 302 and response["Location"].endswith(f"/statements/{statement.pk}/")


def test_a_discarded_draft_is_kept_and_no_longer_holds_up_a_bundle(vera_client, tasking, assigned_vera, owen):
    from evidence.bundles import BundleRefused, bundle_request

    statement = _draft(tasking, assigned_vera.user)
    _draft(tasking, assigned_vera.user, body="Second version.")
    with pytest.raises(BundleRefused) as refused:
        bundle_request(tasking=tasking, by=owen)
    assert sum("is not signed" in line for line in refused.value.missing) == 2

    confirm = vera_client.get(f"/taskings/{tasking.pk}/statements/{statement.pk}/discard/")
    assert "Are you sure you want to discard this draft?" in confirm.content.decode()
    response = vera_client.post(f"/taskings/{tasking.pk}/statements/{statement.pk}/discard/", follow=True)
    assert "Draft discarded." in response.content.decode()
    statement.refresh_from_db()
    assert statement.state == "discarded" and statement.discarded_at is not None
    assert StatementDraft.objects.filter(statement=statement).count() == 1  # kept, with its versions
    with pytest.raises(BundleRefused) as refused:
        bundle_request(tasking=tasking, by=owen)
    assert sum("is not signed" in line for line in refused.value.missing) == 1  # only the other draft
    from portal.models import AuditEvent

    assert AuditEvent.objects.filter(action="evidence.statement_discard", detail__statement=statement.pk).exists()


def test_a_discarded_draft_can_be_neither_signed_nor_edited(vera_client, tasking, assigned_vera):
    from evidence.statements import statement_discard, statement_save_draft, statement_sign

    statement = statement_discard(statement=_draft(tasking, assigned_vera.user), by=assigned_vera.user)
    with pytest.raises(ValidationError, match="discarded, so it cannot be signed"):
        statement_sign(statement=statement, by=assigned_vera.user)
    with pytest.raises(ValidationError, match="discarded, so it cannot be changed"):
        statement_save_draft(
            tasking=tasking, author=assigned_vera.user, body="New", exhibit_ids=[], statement=statement
        )
    with pytest.raises(ValidationError, match="already been discarded"):
        statement_discard(statement=statement, by=assigned_vera.user)
    vera_client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    response = vera_client.post(f"/taskings/{tasking.pk}/statements/{statement.pk}/sign/", follow=True)
    assert "cannot be signed" in response.content.decode()
    page = vera_client.post(f"/taskings/{tasking.pk}/statements/{statement.pk}/", {"body": "Changed."})
    assert "cannot be changed" in page.content.decode()
    statement.refresh_from_db()
    assert statement.state == "discarded" and statement.body == "I am an accredited volunteer."
    # The statements page says so, and offers no way to sign it.
    listing = vera_client.get(f"/taskings/{tasking.pk}/statements/").content.decode()
    assert "Discarded" in listing and f"/statements/{statement.pk}/check/" not in listing


def test_a_signed_statement_cannot_be_discarded(tasking, assigned_vera):
    from evidence.statements import statement_discard, statement_sign

    statement = statement_sign(statement=_draft(tasking, assigned_vera.user), by=assigned_vera.user)
    with pytest.raises(ValidationError, match="signed statement cannot be discarded"):
        statement_discard(statement=statement, by=assigned_vera.user)
    statement.refresh_from_db()
    assert statement.state == "signed"


def test_only_the_witness_discards_her_draft_and_only_while_she_may_work_on_the_tasking(
    vera_client, tasking, assigned_vera, lantern, owen, wendy, conduct
):
    from django.core.exceptions import PermissionDenied
    from django.test import Client

    from evidence.services import SubmissionRefused, tasking_assign
    from evidence.statements import statement_discard
    from tests.conftest import clear_vetting, invite_and_apply, screen
    from volunteers.services import stand_down_place, volunteer_transition

    statement = _draft(tasking, assigned_vera.user)
    with pytest.raises(PermissionDenied):
        statement_discard(statement=statement, by=owen)
    other = invite_and_apply(lantern, owen, "o3@lantern.example", "Olly Other")
    clear_vetting(other, owen)
    screen(other.user, wendy)
    other.refresh_from_db()
    volunteer_transition(volunteer=other, to="accredited", by=owen, reason="ok")
    tasking_assign(tasking=tasking, volunteer=other.user, by=owen)
    olly = Client()
    olly.post("/accounts/login/", {"login": other.user.email, "password": PASSWORD})
    assert olly.get(f"/taskings/{tasking.pk}/statements/{statement.pk}/discard/").status_code == 404
    assert olly.post(f"/taskings/{tasking.pk}/statements/{statement.pk}/discard/").status_code == 404

    stand_down_place(person=assigned_vera.user, detail="Rest.", by=wendy)
    with pytest.raises(SubmissionRefused):
        statement_discard(statement=statement, by=assigned_vera.user)
    response = vera_client.post(f"/taskings/{tasking.pk}/statements/{statement.pk}/discard/")
    assert response.status_code == 403 and "This tasking is not open to you now" in response.content.decode()
    statement.refresh_from_db()
    assert statement.state == "draft"


@pytest.mark.postgres
def test_postgres_lets_a_draft_be_discarded_but_never_changes_a_discarded_one(tasking, assigned_vera):
    from evidence.statements import statement_discard

    statement = statement_discard(statement=_draft(tasking, assigned_vera.user), by=assigned_vera.user)
    for sql in (
        "UPDATE evidence_statement SET body = 'x' WHERE id = %s",
        "UPDATE evidence_statement SET state = 'draft' WHERE id = %s",
        "UPDATE evidence_statement SET state = 'signed' WHERE id = %s",
        "DELETE FROM evidence_statement WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="refused"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [statement.pk])


def test_the_statement_form_says_what_is_missing_and_links_to_the_box(vera_client, tasking):
    for body in ("", "   \n  "):
        response = vera_client.post(f"/taskings/{tasking.pk}/statements/new/", {"body": body})
        page = response.content.decode()
        assert '<a href="#body">Enter your statement</a>' in page
        assert 'id="body-error"' in page and "This field is required." not in page
        assert page.count("govuk-error-summary__title") == 1
    assert not Statement.objects.exists()
