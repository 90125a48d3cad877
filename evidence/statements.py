"""MG11 statements: drafts kept (or discarded, never deleted); signing renders the PDF then and fixes it."""

from __future__ import annotations

import hashlib
import io

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from evidence.models import Exhibit, Statement, StatementDraft, Tasking
from evidence.policy import submission_decision
from portal.audit import audit_record
from portal.models import User
from portal.pdf import render_pdf
from portal.text import require_storable

# Criminal Justice Act 1967 s.9 and CrimPR 16.2: the declaration, with the page count of the signed document.
DECLARATION = (
    "This statement (consisting of {pages} page(s) each signed by me) is true to the best of my knowledge and "
    "belief and I make it knowing that, if it is tendered in evidence, I shall be liable to prosecution if I "
    "have wilfully stated in it anything which I know to be false, or do not believe to be true."
)


def _require_assigned(user: User, tasking: Tasking) -> None:
    """Statements are evidence: the one rule applies to writing and signing them."""
    from evidence.services import SubmissionRefused

    decision = submission_decision(user=user, tasking=tasking)
    if not decision.allowed:
        raise SubmissionRefused(decision)


def statement_save_draft(
    *,
    tasking: Tasking,
    author: User,
    body: str,
    exhibit_ids: list[int],
    statement: Statement | None = None,
    corrects: Statement | None = None,
) -> Statement:
    _require_assigned(author, tasking)
    if not body.strip():
        raise ValidationError("Write the statement before saving it.")
    require_storable(body, what="The statement")
    exhibits = list(Exhibit.objects.filter(tasking=tasking, producer=author, pk__in=exhibit_ids))
    with transaction.atomic():
        if statement is None:
            statement = Statement.objects.create(tasking=tasking, author=author, body=body, corrects=corrects)
        else:
            statement = Statement.objects.select_for_update().get(pk=statement.pk, author=author)
            if statement.state == Statement.State.DISCARDED:
                raise ValidationError("This draft was discarded, so it cannot be changed. Write a new statement.")
            if statement.state != Statement.State.DRAFT:
                raise ValidationError("A signed statement is never edited: write a further statement to correct it.")
            statement.body = body
            statement.save(update_fields=["body"])
        statement.exhibits.set(exhibits)
        last = statement.drafts.order_by("-id").first()
        if last is None or last.body != body:
            StatementDraft.objects.create(statement=statement, body=body)
        audit_record(action="evidence.statement_draft", actor=author, obj=tasking, detail={"statement": statement.pk})
    return statement


def witness_name(statement: Statement) -> str:
    """The name the MG11 gives its witness: the scheme pseudonym of an identity-protected volunteer (their
    true identity goes to the CPS only, in the bundle's sensitive part), otherwise their own."""
    from volunteers.services import witness_names

    return witness_names([statement.author_id]).get(statement.author_id) or statement.author.get_full_name()


def render_mg11(statement: Statement, *, pages: int, signed_at) -> bytes:
    html = render_to_string(
        "evidence/mg11_pdf.html",
        {
            "statement": statement,
            "witness": witness_name(statement),
            "signed_at": signed_at,
            "declaration": DECLARATION.format(pages=pages),
            "exhibits": statement.exhibits.order_by("sequence"),
        },
    )
    # Tagged, with the document's language and title (from mg11_pdf.html), so that screen readers and
    # reflow can read the statement a court or a witness is given.
    return render_pdf(html)


def _page_count(pdf: bytes) -> int:
    from pypdf import PdfReader

    return len(PdfReader(io.BytesIO(pdf)).pages)


def _render_settled(statement: Statement, *, signed_at) -> tuple[int, bytes]:
    """The MG11 and its page count, once the count stated in its declaration is the count it has."""
    pages, pdf = 1, b""
    for _ in range(5):  # the count can change the layout; settle on a fixed point
        pdf = render_mg11(statement, pages=pages, signed_at=signed_at)
        actual = _page_count(pdf)
        if actual == pages:
            return pages, pdf
        pages = actual
    raise ValidationError("The statement could not be laid out with a stable page count.")


def statement_page_count(statement: Statement) -> int:
    """How many pages the statement would have if it were signed now: for the check before signing."""
    return _render_settled(statement, signed_at=timezone.now())[0]


def statement_discard(*, statement: Statement, by: User) -> Statement:
    """The witness gives up a draft. It is kept, with every version of it (CPIA), but no longer waits to be
    signed, so it does not hold up a bundle; it can be neither signed nor edited afterwards."""
    if statement.author_id != by.pk:
        raise PermissionDenied("Only the witness discards their own draft.")
    _require_assigned(by, statement.tasking)
    with transaction.atomic():
        statement = Statement.objects.select_for_update().get(pk=statement.pk)
        if statement.state == Statement.State.SIGNED:
            raise ValidationError("A signed statement cannot be discarded: write a further statement to correct it.")
        if statement.state == Statement.State.DISCARDED:
            raise ValidationError("This draft has already been discarded.")
        statement.state = Statement.State.DISCARDED
        statement.discarded_at = timezone.now()
        statement.save(update_fields=["state", "discarded_at"])
        audit_record(
            action="evidence.statement_discard", actor=by, obj=statement.tasking, detail={"statement": statement.pk}
        )
    return statement


def statement_sign(*, statement: Statement, by: User) -> Statement:
    """Render the MG11 now, so the declaration states the page count of the very document signed."""
    if statement.author_id != by.pk:
        raise PermissionDenied("Only the witness signs their own statement.")
    _require_assigned(by, statement.tasking)
    with transaction.atomic():
        statement = Statement.objects.select_for_update().get(pk=statement.pk)
        if statement.state == Statement.State.DISCARDED:
            raise ValidationError("This draft was discarded, so it cannot be signed. Write a new statement.")
        if statement.state != Statement.State.DRAFT:
            raise ValidationError("This statement is already signed.")
        signed_at = timezone.now()
        pages, pdf = _render_settled(statement, signed_at=signed_at)
        name = default_storage.save(
            f"statements/{statement.tasking.scheme_id}/{statement.pk}-mg11.pdf", ContentFile(pdf)
        )
        statement.state = Statement.State.SIGNED
        statement.signed_at = signed_at
        statement.page_count = pages
        statement.pdf_name = name
        statement.pdf_sha256 = hashlib.sha256(pdf).hexdigest()
        statement.signed_as = witness_name(statement)
        statement.save(update_fields=["state", "signed_at", "page_count", "pdf_name", "pdf_sha256", "signed_as"])
        audit_record(
            action="evidence.statement_sign",
            actor=by,
            obj=statement.tasking,
            detail={"statement": statement.pk, "pages": pages, "sha256": statement.pdf_sha256},
        )
    return statement
