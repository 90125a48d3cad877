"""Notes and MG11 statements: the one rule, kept drafts, signing after re-authentication, fixed PDFs."""

import io

import pytest
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


def test_the_tasking_page_offers_notes_statements_and_the_safeguarding_button(vera_client, tasking):
    vera_client.post(f"/taskings/{tasking.pk}/notes/", {"text": "Contact made."})
    body = vera_client.get(f"/taskings/{tasking.pk}/").content.decode()
    assert "Contact made." in body
    assert "Write a witness statement (MG11)" in body
    assert "Alert my supervising officer now" in body
