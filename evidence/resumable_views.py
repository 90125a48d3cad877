"""The resumable upload endpoints (tus 1.0: core, creation, termination, expiration) for the exhibits page's
script. The rules and the bytes are handled in evidence.resumable; this module speaks the protocol.

    POST   /taskings/<id>/uploads/          Upload-Length, Upload-Metadata (filename, filetype, exhibit)
    HEAD   /taskings/<id>/uploads/<uuid>    -> Upload-Offset: how much the server holds
    PATCH  /taskings/<id>/uploads/<uuid>    Upload-Offset, application/offset+octet-stream body
    DELETE /taskings/<id>/uploads/<uuid>    cancel

The PATCH that brings the last byte answers 200 with the exhibit's reference, SHA-256 and size as JSON;
asked again afterwards (HEAD or PATCH: the client lost that answer), the upload answers the same, with
the exhibit in the X-Exhibit header too, so a retry never stores the file twice.
Refusals carry {"errors": {"__all__": [...], field: [...]}} like the other upload path.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import uuid
from email.utils import format_datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template.defaultfilters import filesizeformat
from django.views.decorators.cache import never_cache

from evidence import services
from evidence.forms import ExhibitForm
from evidence.models import ResumableUpload
from evidence.resumable import (
    OffsetMismatch,
    PartUnreadable,
    ResumableRefused,
    resumable_append,
    resumable_complete,
    resumable_create,
    resumable_discard,
    resumable_offset,
)
from evidence.selectors import assigned_tasking_or_404
from evidence.uploads import NoSpaceForUpload, UploadTooLarge, accept_upload, is_no_space, refusal_json
from evidence.views import NO_SPACE

logger = logging.getLogger(__name__)

TUS_VERSION = "1.0.0"
OFFSET_TYPE = "application/offset+octet-stream"
PART_UNREADABLE = (
    "The part of this file already sent can no longer be read by the portal (the key it was encrypted under "
    "has been withdrawn). Nothing was stored. Upload the file again."
)
SIGNED_OUT = (
    "You have been signed out, or the page is out of date. Nothing was stored. Reload the page, sign in if "
    "asked, and upload the file again."
)


def _tus(response: HttpResponse, upload: ResumableUpload | None = None) -> HttpResponse:
    response["Tus-Resumable"] = TUS_VERSION
    response["Cache-Control"] = "no-store"
    if upload is not None:
        response["Upload-Offset"] = str(upload.offset)
        response["Upload-Length"] = str(upload.length)
        response["Upload-Expires"] = format_datetime(upload.expires_at, usegmt=True)
    return response


def _errors(status: int, messages: list[str], fields: dict | None = None) -> HttpResponse:
    return _tus(refusal_json(status, messages, fields))


def _options() -> HttpResponse:
    response = _tus(HttpResponse(status=204))
    response["Tus-Version"] = TUS_VERSION
    response["Tus-Extension"] = "creation,termination,expiration"
    response["Tus-Max-Size"] = str(settings.PORTAL_MAX_UPLOAD_BYTES)
    return response


def _metadata(header: str) -> dict[str, str]:
    """Upload-Metadata: comma-separated `key base64value` pairs."""
    values: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in header.split(","))):
        key, _, encoded = pair.partition(" ")
        values[key] = base64.b64decode(encoded, validate=True).decode("utf-8") if encoded else ""
    return values


def _too_large(limit: int) -> HttpResponse:
    return _errors(
        413, [f"The file is larger than the {filesizeformat(limit)} limit for an exhibit. Nothing was stored."]
    )


def _drain(request: HttpRequest) -> None:
    # Answering while the body still arrives breaks the client's connection: read the rest and drop it.
    while request.read(1024 * 1024):
        pass


@never_cache
def uploads(request: HttpRequest, tasking_id: int) -> HttpResponse:
    if request.method == "OPTIONS":
        return _options()
    if not request.user.is_authenticated:
        return _errors(401, [SIGNED_OUT])
    if request.method != "POST":
        return _tus(HttpResponse(status=405, headers={"Allow": "POST, OPTIONS"}))
    tasking = assigned_tasking_or_404(request.user, tasking_id)
    try:
        length = int(request.headers["Upload-Length"])
        if length < 0:
            raise ValueError
        meta = _metadata(request.headers.get("Upload-Metadata", ""))
        details = json.loads(meta.get("exhibit") or "{}")
        if not isinstance(details, dict) or any(isinstance(v, (list, dict)) for v in details.values()):
            raise ValueError
    except (KeyError, ValueError, binascii.Error, UnicodeDecodeError):
        return _errors(400, ["The upload's details could not be read. Reload the page and try again."])
    # A form reads text: a number sent by another tool is judged as the text it would have typed.
    details = {k: str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v for k, v in details.items()}
    form = ExhibitForm(details)
    if not form.is_valid():
        fields = {name: [e["message"] for e in errors] for name, errors in form.errors.get_json_data().items()}
        return _errors(400, fields.pop("__all__", []), fields)
    try:
        upload = resumable_create(
            user=request.user, tasking=tasking, length=length, details=details, name=meta.get("filename", "")
        )
    except ResumableRefused as exc:
        return _errors(403, exc.reasons)
    except UploadTooLarge as exc:
        return _too_large(exc.limit)
    except NoSpaceForUpload:
        return _errors(507, [NO_SPACE])
    response = _tus(HttpResponse(status=201), upload)
    response["Location"] = request.build_absolute_uri(f"{request.path.rstrip('/')}/{upload.pk}")
    return response


@never_cache
def upload(request: HttpRequest, tasking_id: int, upload_id: uuid.UUID) -> HttpResponse:
    if request.method == "OPTIONS":
        return _options()
    if not request.user.is_authenticated:
        return _errors(401, [SIGNED_OUT])
    # Hers, on this tasking, or nothing: another person's upload id is as unknown as a made-up one.
    found = ResumableUpload.objects.filter(pk=upload_id, tasking_id=tasking_id, user=request.user).first()
    if found is None:
        _drain(request)
        raise Http404("No such upload.")
    if found.exhibit_id is not None:
        # Already an exhibit: whoever lost the answer to the last piece is told again, and nothing is stored twice.
        _drain(request)
        if request.method == "DELETE":
            found.delete()  # only the record of the upload: the exhibit is evidence and stays
            return _tus(HttpResponse(status=204))
        return _completed(found.exhibit, found)
    if request.method == "HEAD":
        resumable_offset(found)
        return _tus(HttpResponse(status=200), found)
    if request.method == "DELETE":
        resumable_discard(found)
        return _tus(HttpResponse(status=204))
    if request.method != "PATCH":
        return _tus(HttpResponse(status=405, headers={"Allow": "HEAD, PATCH, DELETE, OPTIONS"}))
    return _patch(request, found)


def _completed(exhibit, found: ResumableUpload) -> HttpResponse:
    """The answer to the last piece, and to any request after it: the exhibit, as JSON and (for HEAD, which
    has no body) in the X-Exhibit header."""
    summary = {"reference": exhibit.reference, "sha256": exhibit.sha256, "size": exhibit.size}
    response = _tus(JsonResponse(summary), found)
    response["X-Exhibit"] = json.dumps(summary)
    return response


def _patch(request: HttpRequest, found: ResumableUpload) -> HttpResponse:
    if request.content_type != OFFSET_TYPE:
        _drain(request)
        return _errors(415, [f"The upload's pieces must be sent as {OFFSET_TYPE}."])
    try:
        offset = int(request.headers["Upload-Offset"])
    except (KeyError, ValueError):
        _drain(request)
        return _errors(400, ["The upload's position (Upload-Offset) is missing. Reload the page and try again."])
    declared = request.META.get("CONTENT_LENGTH")
    try:
        found = resumable_append(
            upload=found, offset=offset, read=request.read, declared=int(declared) if declared else None
        )
    except ResumableRefused as exc:
        _drain(request)
        return _errors(403, [f"Nothing was stored: {reason}" for reason in exc.reasons])
    except OffsetMismatch:
        _drain(request)
        return _tus(HttpResponse(status=409), found)
    except PartUnreadable:
        _drain(request)
        return _errors(410, [PART_UNREADABLE])  # the upload is gone: the client starts a new one
    except UploadTooLarge:
        _drain(request)
        return _errors(413, ["The upload sent more bytes than its declared length. Nothing was stored."])
    except NoSpaceForUpload:
        _drain(request)
        return _errors(507, [NO_SPACE])
    if found.offset < found.length:
        return _tus(HttpResponse(status=204), found)
    return _complete(request, found)


def _complete(request: HttpRequest, found: ResumableUpload) -> HttpResponse:
    form = ExhibitForm(found.details)
    form.is_valid()  # checked at creation; cleaned again for what is recorded
    try:
        data = form.cleaned_data
        done = resumable_complete(
            upload=found, accept=lambda received, _details: accept_upload(request.user, found.tasking, received, data)
        )
    except ResumableRefused as exc:
        return _errors(403, [f"Nothing was stored: {reason}" for reason in exc.reasons])
    except PartUnreadable:
        return _errors(410, [PART_UNREADABLE])
    except NoSpaceForUpload:  # decrypting the partial file into a received upload found the disk full
        return _errors(507, [NO_SPACE])
    except services.SubmissionRefused as exc:
        return _errors(403, [f"Nothing was stored: {exc}"])
    except ValidationError as exc:
        return _errors(400, exc.messages)
    except OSError as exc:
        if not is_no_space(exc):
            raise
        logger.error("An exhibit could not be moved into storage: the disk is full (%s).", exc)
        return _errors(507, [NO_SPACE])
    return _completed(done.exhibit, found)
