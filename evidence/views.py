"""Volunteer pages (her taskings; each tasking's overview, exhibits, notes and statements) and court pages."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from urllib.parse import unquote

from allauth.account.decorators import reauthentication_required
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from evidence import services
from evidence.bundles.plan import native_name
from evidence.bundles.withdraw import withdrawn_notice, withdrawn_summary
from evidence.forms import ExhibitForm, NoteForm, StatementForm
from evidence.models import Exhibit, Statement, Tasking
from evidence.policy import (
    SUBMIT,
    bundle_access,
    content_decision,
    may_download_bundle,
    may_download_sensitive_part,
    may_follow_bundle,
    may_open_exhibit,
    submission_decision,
)
from evidence.selectors import (
    assigned_tasking_or_404,
    assigned_taskings,
    known_tasking,
    my_exhibits,
    my_notes,
    my_statements,
    work_summary,
)
from evidence.statements import DECLARATION, statement_page_count, statement_save_draft
from evidence.statements import statement_discard as statement_discard_draft
from evidence.statements import statement_sign as sign_statement
from evidence.uploads import (
    HashingFileUploadHandler,
    NoSpaceForUpload,
    UploadLengthMismatch,
    UploadTooLarge,
    accept_upload,
    discard,
    is_no_space,
    receive_stream,
    refusal_json,
    stores_sealed,
)
from portal.audit import audit_record
from portal.client_ip import client_ip
from portal.models import AuditEvent
from portal.permissions import holds_object_perm

logger = logging.getLogger(__name__)


def _known_tasking_or_404(user, tasking_id: int) -> Tasking:
    tasking = known_tasking(user, tasking_id)
    if tasking is None:
        raise Http404("No such tasking.")
    return tasking


def _closed(
    request: HttpRequest,
    tasking: Tasking,
    decision,
    *,
    attempted: str,
    status: int = 403,
    problems: list[str] | None = None,
    **detail,
) -> HttpResponse:
    """What a volunteer sees instead of a tasking's content while the one rule refuses her: its status,
    why, and whom to contact — nothing of the operation. The refused attempt is audited."""
    audit_record(
        action="evidence.content_refused",
        outcome=AuditEvent.Outcome.DENIED,
        request=request,
        obj=tasking,
        detail={"attempted": attempted, "reasons": decision.audit_codes, **detail},
    )
    still_assigned = holds_object_perm(request.user, SUBMIT, tasking)
    return render(
        request,
        "evidence/tasking_closed.html",
        {"tasking": tasking, "decision": decision, "still_assigned": still_assigned, "problems": problems or []},
        status=status,
    )


@login_required
def tasking_list(request: HttpRequest) -> HttpResponse:
    rows = [(t, submission_decision(user=request.user, tasking=t)) for t in assigned_taskings(request.user)]
    return render(request, "evidence/tasking_list.html", {"rows": rows})


def _tasking_page(
    request: HttpRequest,
    tasking_id: int,
    *,
    page: str,
    template: str,
    context: Callable[[Tasking], dict] | None = None,
    problems: list[str] | None = None,
    status: int = 200,
    **detail,
) -> HttpResponse:
    """Every page of a tasking goes through here: while content_decision refuses her, she gets the closed
    page (and why a post just made was refused) instead of anything of the operation."""
    tasking = _known_tasking_or_404(request.user, tasking_id)
    decision = content_decision(user=request.user, tasking=tasking)
    if not decision.allowed:
        attempted = "tasking_view" if page == "overview" else f"tasking_{page}"
        return _closed(
            request, tasking, decision, attempted=attempted, status=400 if problems else 200, problems=problems or []
        )
    audit_record(action="evidence.tasking_view", request=request, obj=tasking, detail={"page": page, **detail})
    return render(
        request,
        template,
        {"tasking": tasking, "decision": decision, "section": page, **(context(tasking) if context else {})},
        status=status,
    )


@login_required
def tasking_detail(request: HttpRequest, tasking_id: int) -> HttpResponse:
    """The overview: the briefing, the one rule's decision, and what she has produced so far."""
    return _tasking_page(
        request,
        tasking_id,
        page="overview",
        template="evidence/tasking_detail.html",
        context=lambda tasking: {"summary": work_summary(request.user, tasking)},
    )


# Said on both upload paths when the disk holding uploads (or the storage) is full.
NO_SPACE = (
    "The portal has no room to store this file now. Nothing was kept. Try again later or tell your supervising officer."
)


def _exhibits_page(
    request: HttpRequest,
    tasking_id: int,
    *,
    form: ExhibitForm | None = None,
    file_errors: list[str] | None = None,
    status: int | None = None,
) -> HttpResponse:
    file_errors = file_errors or []
    failed = form is not None and (bool(form.errors) or bool(file_errors))

    def context(tasking: Tasking) -> dict:
        exhibits = my_exhibits(request.user, tasking)
        return {
            "form": form or ExhibitForm(),
            "file_errors": file_errors,
            "problems": _exhibit_problems(form, file_errors) if failed else [],
            "exhibits": exhibits,
            "max_bytes": settings.PORTAL_MAX_UPLOAD_BYTES,
            "chunk_bytes": settings.PORTAL_RESUMABLE_CHUNK_BYTES,
        }

    problems = [*(form.non_field_errors() if form is not None else []), *file_errors] if failed else []
    return _tasking_page(
        request,
        tasking_id,
        page="exhibits",
        template="evidence/tasking_exhibits.html",
        context=context,
        problems=problems,
        status=status or (400 if failed else 200),
    )


def _exhibit_problems(form: ExhibitForm | None, file_errors: list[str]) -> list[dict]:
    """The error summary's lines, each linking to the field it is about (the file input for the file)."""
    problems = [{"text": text, "href": "#id_file"} for text in file_errors]
    if form is not None:
        problems += [{"text": text, "href": ""} for text in form.non_field_errors()]
        for bound in form:
            problems += [{"text": text, "href": f"#{bound.auto_id}"} for text in bound.errors]
    return problems


CHOOSE_AGAIN = (
    "Choose the file again: nothing was stored, and your browser does not keep a chosen file when the page "
    "shows a problem. The details you typed are kept."
)


@csrf_exempt  # the upload handler must be installed before the body is read; CSRF is checked just after
@login_required
def exhibit_upload(request: HttpRequest, tasking_id: int) -> HttpResponse:
    """GET: the exhibits page (her exhibits and the upload form). POST: the form's upload."""
    handler = HashingFileUploadHandler(request, seal=stores_sealed())
    request.upload_handlers = [handler]
    try:
        return _exhibit_upload(request, tasking_id, handler)
    finally:
        handler.abort()  # whatever was spooled and not moved into storage is deleted


@csrf_protect
def _exhibit_upload(request: HttpRequest, tasking_id: int, handler: HashingFileUploadHandler) -> HttpResponse:
    if request.method != "POST":
        return _exhibits_page(request, tasking_id)
    tasking = assigned_tasking_or_404(request.user, tasking_id)
    upload = request.FILES.get("file")
    form = ExhibitForm(request.POST)
    if handler.refused is not None:
        form.is_valid()
        return _exhibits_page(
            request,
            tasking.pk,
            form=form,
            file_errors=[
                f"The file is larger than the {filesizeformat(handler.refused.limit)} limit for an exhibit. "
                "Nothing was stored. If it is a long video, ask your supervising officer how to hand it over."
            ],
        )
    if handler.no_space is not None:
        form.is_valid()  # what she filled in is shown again, with the reason at the file input
        return _exhibits_page(request, tasking.pk, form=form, file_errors=[NO_SPACE], status=507)
    file_errors: list[str] = []
    try:
        valid = form.is_valid()
        if upload is None:
            file_errors.append("Choose the file to upload")
        elif valid:
            exhibit = accept_upload(request.user, tasking, upload, form.cleaned_data)
            messages.success(request, f"Exhibit {exhibit.reference} received. SHA-256: {exhibit.sha256}")
            return redirect("exhibit_upload", tasking_id=tasking.pk)
        else:
            file_errors.append(CHOOSE_AGAIN)
    except services.SubmissionRefused as exc:
        form.add_error(None, f"Nothing was stored: {exc}")
    except ValidationError as exc:
        # About the file itself (its type, or a SHA-256 that changed on the way): said at the file input.
        file_errors += exc.messages
    except OSError as exc:
        if not is_no_space(exc):  # moving it into storage found the disk full: the record was rolled back
            raise
        logger.error("An exhibit could not be moved into storage: the disk is full (%s).", exc)
        return _exhibits_page(request, tasking.pk, form=form, file_errors=[NO_SPACE], status=507)
    finally:
        if upload is not None:
            discard(upload)  # nothing is kept unless it was stored as an exhibit (promote moved it)
    return _exhibits_page(request, tasking.pk, form=form, file_errors=file_errors)


@login_required
@require_POST
def exhibit_stream(request: HttpRequest, tasking_id: int) -> JsonResponse:
    """The JavaScript path: the file is the raw request body (streamed, never multipart); what is
    captured alongside it travels in the X-Exhibit-Metadata header as URL-encoded JSON. Everything that
    can be checked before the body is read is checked first, so a refusal costs no upload."""
    tasking = assigned_tasking_or_404(request.user, tasking_id)
    try:
        meta = json.loads(unquote(request.headers.get("X-Exhibit-Metadata", "")) or "{}")
        if not isinstance(meta, dict) or any(isinstance(value, (list, dict)) for value in meta.values()):
            raise ValueError
        # A form reads text: a number sent by another tool is judged as the text it would have typed.
        meta = {
            key: str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
            for key, value in meta.items()
        }
    except ValueError:
        return refusal_json(400, ["The upload's details could not be read. Reload the page and try again."])
    form = ExhibitForm(meta)
    if not form.is_valid():
        fields = {name: [e["message"] for e in errors] for name, errors in form.errors.get_json_data().items()}
        return refusal_json(400, fields.pop("__all__", []), fields)
    decision = submission_decision(user=request.user, tasking=tasking)
    if not decision.allowed:
        return refusal_json(403, [reason.volunteer for reason in decision.reasons])
    declared = request.META.get("CONTENT_LENGTH")
    try:
        upload = receive_stream(
            request,
            declared_length=int(declared) if declared else None,
            max_bytes=settings.PORTAL_MAX_UPLOAD_BYTES,
            temp_dir=settings.PORTAL_UPLOAD_TEMP_DIR,
            name=unquote(request.headers.get("X-File-Name", "")) or None,
            seal=stores_sealed(),
        )
    except UploadTooLarge as exc:
        return refusal_json(
            413, [f"The file is larger than the {filesizeformat(exc.limit)} limit for an exhibit. Nothing was stored."]
        )
    except (UploadLengthMismatch, ValueError):
        return refusal_json(400, ["The upload was interrupted. Nothing was stored. Try again."])
    except NoSpaceForUpload:
        return refusal_json(507, [NO_SPACE])
    try:
        exhibit = accept_upload(request.user, tasking, upload, form.cleaned_data)
    except services.SubmissionRefused as exc:
        return refusal_json(403, [f"Nothing was stored: {exc}"])
    except ValidationError as exc:
        return refusal_json(400, exc.messages)
    except OSError as exc:
        if not is_no_space(exc):  # moving it into storage found the disk full: the record was rolled back
            raise
        logger.error("An exhibit could not be moved into storage: the disk is full (%s).", exc)
        return refusal_json(507, [NO_SPACE])
    finally:
        discard(upload)
    return JsonResponse({"reference": exhibit.reference, "sha256": exhibit.sha256, "size": exhibit.size}, status=201)


@login_required
def exhibit_download(request: HttpRequest, exhibit_id: int) -> HttpResponse:
    """Every download passes the permission check and leaves a custody and an audit record."""
    exhibit = Exhibit.objects.select_related("tasking__handler").filter(pk=exhibit_id).first()
    if exhibit is None:
        raise Http404("No such exhibit.")
    if not may_open_exhibit(request.user, exhibit):
        if exhibit.producer_id == request.user.pk and not exhibit.quarantined:
            decision = content_decision(user=request.user, tasking=exhibit.tasking)
            return _closed(request, exhibit.tasking, decision, attempted="exhibit_download", exhibit=exhibit.pk)
        raise Http404("No such exhibit.")
    if exhibit.disposed_at is not None:  # described, never opened: its content was lawfully disposed of
        from evidence.custody import disposed_notice

        context = {"exhibit": exhibit, "notice": disposed_notice(exhibit)}
        return render(request, "evidence/exhibit_disposed.html", context, status=410)
    services.exhibit_open(exhibit=exhibit, by=request.user, request=request)
    response = FileResponse(
        default_storage.open(exhibit.stored_name, "rb"),
        as_attachment=True,  # never rendered inline: an HTML chat export must not run in the portal
        filename=native_name(exhibit),
        content_type=exhibit.sniffed_type,
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
def safeguarding_raise(request: HttpRequest, tasking_id: int) -> HttpResponse:
    """GET: the safeguarding form on a page of its own, one step from every tasking page. POST: the alert.
    Never refused to anyone assigned, whatever the one rule says about her work (an alert about a child
    must not be lost); it shows nothing of the operation but its reference."""
    tasking = assigned_tasking_or_404(request.user, tasking_id)
    if request.method != "POST":
        return render(request, "evidence/safeguarding.html", {"tasking": tasking})
    alert_url = request.build_absolute_uri("/admin/evidence/safeguardingalert/")
    alert = services.safeguarding_raise(
        tasking=tasking, by=request.user, note=request.POST.get("note", ""), alert_url=alert_url
    )
    messages.success(
        request,
        "Your supervising officer and the controller have been alerted. Stay in the conversation only if they "
        "tell you to; if a child is in immediate danger, call 999.",
    )
    if alert.note_changes:
        messages.warning(
            request,
            f"Your alert was sent, but your note was changed: {'; and '.join(alert.note_changes)}. Tell your "
            "supervising officer anything that is missing.",
        )
    return redirect("tasking_detail", tasking_id=tasking.pk)


def _notes_page(request: HttpRequest, tasking_id: int, *, form: NoteForm | None = None) -> HttpResponse:
    failed = form is not None and bool(form.errors)
    return _tasking_page(
        request,
        tasking_id,
        page="notes",
        template="evidence/tasking_notes.html",
        context=lambda tasking: {"form": form or NoteForm(), "notes": my_notes(request.user, tasking)},
        problems=[error for errors in form.errors.values() for error in errors] if failed else [],
        status=400 if failed else 200,
    )


@login_required
def note_add(request: HttpRequest, tasking_id: int) -> HttpResponse:
    """GET: her contemporaneous notes and the box for the next. POST: add one."""
    if request.method != "POST":
        return _notes_page(request, tasking_id)
    tasking = assigned_tasking_or_404(request.user, tasking_id)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return _notes_page(request, tasking.pk, form=form)
    try:
        note = services.note_add(tasking=tasking, author=request.user, text=form.cleaned_data["text"])
    except ValidationError as exc:
        # Shown beside the box, with what she typed still in it.
        form.add_error("text", exc)
        return _notes_page(request, tasking.pk, form=form)
    except services.SubmissionRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Note added at {timezone.localtime(note.written_at):%H:%M:%S}.")
    return redirect("note_add", tasking_id=tasking.pk)


@login_required
def tasking_statements(request: HttpRequest, tasking_id: int) -> HttpResponse:
    """Her witness statements for the tasking: drafts to check and sign, signed ones, discarded ones."""
    return _tasking_page(
        request,
        tasking_id,
        page="statements",
        template="evidence/tasking_statements.html",
        context=lambda tasking: {"statements": my_statements(request.user, tasking)},
    )


def _my_statement_or_404(request: HttpRequest, tasking: Tasking, statement_id: int) -> Statement:
    statement = Statement.objects.filter(pk=statement_id, tasking=tasking, author=request.user).first()
    if statement is None:
        raise Http404("No such statement.")
    return statement


@login_required
def statement_edit(request: HttpRequest, tasking_id: int, statement_id: int | None = None) -> HttpResponse:
    tasking = _known_tasking_or_404(request.user, tasking_id)
    decision = content_decision(user=request.user, tasking=tasking)
    if not decision.allowed:
        return _closed(request, tasking, decision, attempted="statement", statement=statement_id)
    statement = _my_statement_or_404(request, tasking, statement_id) if statement_id is not None else None
    corrects = None
    corrects_id = request.GET.get("corrects") or request.POST.get("corrects")
    if corrects_id:
        # The link to a further statement names a signed statement of hers; anything else is not found.
        corrects = Statement.objects.filter(
            pk=int(corrects_id) if corrects_id.isdecimal() and len(corrects_id) < 19 else 0,
            tasking=tasking,
            author=request.user,
            state=Statement.State.SIGNED,
        ).first()
        if corrects is None:
            raise Http404("No such signed statement to correct.")
    mine = my_exhibits(request.user, tasking)
    chosen = {int(v) for v in request.POST.getlist("exhibits") if v.isdecimal() and len(v) < 19}
    form = StatementForm(initial={"body": statement.body if statement else ""})
    if request.method == "POST":
        form = StatementForm(request.POST)
        if form.is_valid():
            try:
                statement = statement_save_draft(
                    tasking=tasking,
                    author=request.user,
                    body=form.cleaned_data["body"],
                    exhibit_ids=sorted(chosen),
                    statement=statement,
                    corrects=corrects,
                )
            except (ValidationError, services.SubmissionRefused) as exc:
                form.add_error("body", " ".join(getattr(exc, "messages", [str(exc)])))
            else:
                if request.POST.get("action") == "check":
                    return redirect("statement_check", tasking_id=tasking.pk, statement_id=statement.pk)
                messages.success(request, "Draft saved. Every saved version is kept.")
                return redirect("statement_edit", tasking_id=tasking.pk, statement_id=statement.pk)
    elif statement is not None:
        chosen = set(statement.exhibits.values_list("pk", flat=True))
    return render(
        request,
        "evidence/statement_edit.html",
        {
            "tasking": tasking,
            "decision": decision,
            "section": "statements",
            "subpage": True,
            "statement": statement,
            "exhibits": mine,
            "produced": statement.exhibits.order_by("sequence") if statement else [],
            "form": form,
            "corrects": corrects,
            "chosen": chosen,
        },
    )


@login_required
def statement_check(request: HttpRequest, tasking_id: int, statement_id: int) -> HttpResponse:
    """Check your answers before signing: the text, the exhibits it produces, and the declaration."""
    tasking = _known_tasking_or_404(request.user, tasking_id)
    decision = content_decision(user=request.user, tasking=tasking)
    if not decision.allowed:
        return _closed(request, tasking, decision, attempted="statement_check", statement=statement_id)
    statement = _my_statement_or_404(request, tasking, statement_id)
    if statement.state != Statement.State.DRAFT:
        return redirect("statement_edit", tasking_id=tasking.pk, statement_id=statement.pk)
    pages = statement_page_count(statement)
    return render(
        request,
        "evidence/statement_check.html",
        {
            "tasking": tasking,
            "decision": decision,
            "section": "statements",
            "subpage": True,
            "statement": statement,
            "exhibits": statement.exhibits.order_by("sequence"),
            "pages": pages,
            "declaration": DECLARATION.format(pages=pages),
        },
    )


@login_required
@require_POST
@reauthentication_required
def statement_sign(request: HttpRequest, tasking_id: int, statement_id: int) -> HttpResponse:
    tasking = assigned_tasking_or_404(request.user, tasking_id)
    statement = _my_statement_or_404(request, tasking, statement_id)
    try:
        statement = sign_statement(statement=statement, by=request.user)
    except (ValidationError, services.SubmissionRefused) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
        return redirect("statement_edit", tasking_id=tasking.pk, statement_id=statement.pk)
    pages = "1 page" if statement.page_count == 1 else f"{statement.page_count} pages"
    messages.success(request, f"Statement signed: {pages}. You can download the signed MG11 below.")
    return redirect("statement_edit", tasking_id=tasking.pk, statement_id=statement.pk)


@login_required
def statement_discard(request: HttpRequest, tasking_id: int, statement_id: int) -> HttpResponse:
    """GET: are you sure? POST: discard the draft (kept, with its versions, but never signed)."""
    tasking = _known_tasking_or_404(request.user, tasking_id)
    decision = content_decision(user=request.user, tasking=tasking)
    if not decision.allowed:
        return _closed(request, tasking, decision, attempted="statement_discard", statement=statement_id)
    statement = _my_statement_or_404(request, tasking, statement_id)
    if statement.state != Statement.State.DRAFT:
        return redirect("statement_edit", tasking_id=tasking.pk, statement_id=statement.pk)
    if request.method == "POST":
        try:
            statement_discard_draft(statement=statement, by=request.user)
        except (ValidationError, services.SubmissionRefused) as exc:
            messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
            return redirect("statement_edit", tasking_id=tasking.pk, statement_id=statement.pk)
        messages.success(
            request,
            "Draft discarded. It is kept with its earlier versions, as every draft is, but it will not be signed "
            "and does not hold up the evidence bundle.",
        )
        return redirect("tasking_statements", tasking_id=tasking.pk)
    return render(
        request,
        "evidence/statement_discard.html",
        {"tasking": tasking, "decision": decision, "section": "statements", "subpage": True, "statement": statement},
    )


@login_required
def statement_pdf(request: HttpRequest, tasking_id: int, statement_id: int) -> HttpResponse:
    tasking = _known_tasking_or_404(request.user, tasking_id)
    decision = content_decision(user=request.user, tasking=tasking)
    if not decision.allowed:
        return _closed(request, tasking, decision, attempted="statement_pdf", statement=statement_id)
    statement = Statement.objects.filter(
        pk=statement_id, tasking=tasking, author=request.user, state=Statement.State.SIGNED
    ).first()
    if statement is None:
        raise Http404("No such signed statement.")
    audit_record(action="evidence.statement_download", request=request, obj=tasking, detail={"statement": statement.pk})
    return FileResponse(
        default_storage.open(statement.pdf_name, "rb"),
        as_attachment=True,
        filename=f"MG11-{tasking.reference}-{statement.pk}.pdf",
        content_type="application/pdf",
    )


@login_required
def bundle_inbox(request: HttpRequest) -> HttpResponse:
    """Court / CPS recipients: the bundles shared with them and still in force."""
    from evidence.models import BundleShare

    shares = (
        BundleShare.objects.filter(recipient=request.user, revoked_at__isnull=True, until__gt=timezone.now())
        .select_related("bundle__tasking__scheme", "bundle__files_withdrawn_for")
        .order_by("-shared_at")
    )
    shares = list(shares)
    access = bundle_access(request.user, [share.bundle for share in shares])
    rows = [share for share in shares if access[share.bundle_id][0]]
    for share in rows:
        share.sensitive = access[share.bundle_id][1]
        share.withdrawn = withdrawn_summary(share.bundle) if share.bundle.files_withdrawn_at else ""
    audit_record(action="evidence.bundle_inbox", request=request, detail={"bundles": [s.bundle_id for s in rows]})
    return render(request, "evidence/bundle_inbox.html", {"shares": rows})


@login_required
def bundle_download(request: HttpRequest, bundle_id: int) -> HttpResponse:
    """Every download is checked by the policy and recorded (BundleAccess and the audit log)."""
    from evidence.models import BundleAccess, HandoverBundle

    bundle = HandoverBundle.objects.select_related("tasking").filter(pk=bundle_id).first()
    if bundle is None or not may_download_bundle(request.user, bundle):
        raise Http404("No such bundle.")
    if bundle.files_withdrawn_at is not None:
        return _bundle_withdrawn(request, bundle)
    BundleAccess.objects.create(bundle=bundle, user=request.user, ip=client_ip(request))
    services.bundle_disclosed(bundle=bundle, to=request.user)
    audit_record(action="evidence.bundle_download", request=request, obj=bundle.tasking, detail={"bundle": bundle.pk})
    # With natives too large to embed, the bundle is the package: the signed PDF and natives/ in one ZIP.
    name, suffix, content_type = (
        (bundle.package_name, "zip", "application/zip")
        if bundle.package_name
        else (bundle.pdf_name, "pdf", "application/pdf")
    )
    response = FileResponse(
        default_storage.open(name, "rb"),
        as_attachment=True,
        filename=f"{bundle.tasking.reference}-bundle-v{bundle.version}.{suffix}",
        content_type=content_type,
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
def bundle_sensitive_download(request: HttpRequest, bundle_id: int) -> HttpResponse:
    """The sensitive part, for the CPS only: the same answer (404) for a bundle that does not exist and for
    one whose sensitive part the user may not have, so a court user learns nothing from the address."""
    from evidence.models import BundleAccess, HandoverBundle

    bundle = HandoverBundle.objects.select_related("tasking").filter(pk=bundle_id).first()
    if bundle is None or not may_download_sensitive_part(request.user, bundle):
        raise Http404("No such bundle.")
    if bundle.files_withdrawn_at is not None:
        return _bundle_withdrawn(request, bundle)
    BundleAccess.objects.create(bundle=bundle, user=request.user, ip=client_ip(request), part="sensitive")
    audit_record(
        action="evidence.bundle_download",
        request=request,
        obj=bundle.tasking,
        detail={"bundle": bundle.pk, "part": "sensitive"},
    )
    response = FileResponse(
        default_storage.open(bundle.sensitive_pdf_name, "rb"),
        as_attachment=True,
        filename=f"{bundle.tasking.reference}-bundle-v{bundle.version}-sensitive-CPS-only.pdf",
        content_type="application/pdf",
    )
    response["Cache-Control"] = "no-store"
    return response


def _bundle_withdrawn(request: HttpRequest, bundle) -> HttpResponse:
    """Said, with 410 Gone, instead of any file of a bundle withdrawn because an exhibit it held was disposed of:
    nothing is downloaded, so nothing is recorded as disclosed."""
    from evidence.custody import disposed_notice

    context = {
        "bundle": bundle,
        "notice": withdrawn_notice(bundle),
        "disposed": disposed_notice(bundle.files_withdrawn_for),
    }
    return render(request, "evidence/bundle_withdrawn.html", context, status=410)


def _officer_bundle_or_404(request: HttpRequest, bundle_id: int):
    from evidence.models import HandoverBundle

    bundle = HandoverBundle.objects.select_related("tasking").filter(pk=bundle_id).first()
    if bundle is None or not may_follow_bundle(request.user, bundle):
        raise Http404("No such bundle.")
    return bundle


def _bundle_status(bundle) -> dict:
    from evidence.bundles import bundle_job

    if bundle.files_withdrawn_at is not None:  # no file to download, no build to follow or try again
        return {
            "state": "withdrawn",
            "percent": 100 if bundle.state == "ready" else 0,
            "stage": withdrawn_summary(bundle),
            "notice": withdrawn_notice(bundle),
            "error": "",
            "download_url": "",
            "package": False,
            "sensitive_url": "",
        }
    job = bundle_job(bundle)
    ready = bundle.state == "ready"
    failed = job is not None and job.state == job.State.FAILED
    percent = 100 if ready else (job.progress if job else 0)
    stage = "Ready to download" if ready else (job.stage if job and job.stage else bundle.get_state_display())
    return {
        "state": "ready" if ready else ("failed" if failed else bundle.state),
        "percent": percent,
        "stage": stage,
        "error": (job.last_error if failed else ""),
        "download_url": reverse("bundle_download", args=[bundle.pk]) if ready else "",
        "package": bool(bundle.package_name),
        "sensitive_url": reverse("bundle_sensitive_download", args=[bundle.pk])
        if ready and bundle.sensitive_pdf_name
        else "",
    }


@login_required
def bundle_status(request: HttpRequest, bundle_id: int) -> HttpResponse:
    bundle = _officer_bundle_or_404(request, bundle_id)
    status = _bundle_status(bundle)
    if request.headers.get("Accept") == "application/json":
        return JsonResponse(status)
    return render(request, "evidence/bundle_status.html", {"bundle": bundle, "status": status})


@login_required
@require_POST
def bundle_retry(request: HttpRequest, bundle_id: int) -> HttpResponse:
    from evidence.bundles import bundle_retry as retry

    bundle = _officer_bundle_or_404(request, bundle_id)
    if retry(bundle, by=request.user):
        messages.success(request, "The bundle is being built again.")
    return redirect("bundle_status", bundle_id=bundle.pk)
