"""Training pages for volunteers, the certificate download, and the public verification page."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from portal import ratelimit
from portal.audit import audit_record
from training import services
from training.models import Attempt, Certificate, Module
from training.permissions import may_download_certificate
from training.scoring import seeded_order
from training.selectors import certificate_for_code, certificate_state, disposed_certificate_for_code, module_states


@login_required
def index(request: HttpRequest) -> HttpResponse:
    states = module_states(request.user)
    mandatory = [s for s in states if s.module.mandatory]
    return render(
        request,
        "training/index.html",
        {
            "states": states,
            "ready": all(s.counts for s in mandatory),
            "done": sum(s.counts for s in mandatory),
            "total": len(mandatory),
        },
    )


@login_required
def module_detail(request: HttpRequest, slug: str) -> HttpResponse:
    module = get_object_or_404(Module, slug=slug)
    version = services.current_version(module)
    if version is None:
        raise Http404("This module has no published content yet.")
    state = next(s for s in module_states(request.user, modules=[module]))
    history = Attempt.objects.filter(user=request.user, version__module=module, submitted_at__isnull=False)
    return render(
        request,
        "training/module.html",
        {
            "module": module,
            "version": version,
            "state": state,
            "history": history,
            "blocked": services.attempt_block_reason(request.user, module),
        },
    )


@login_required
@require_POST
def attempt_start(request: HttpRequest, slug: str) -> HttpResponse:
    module = get_object_or_404(Module, slug=slug)
    try:
        attempt = services.attempt_start(user=request.user, module=module)
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
        return redirect("training_module", slug=slug)
    return redirect("training_attempt", attempt_id=attempt.pk)


def _ordered_questions(attempt: Attempt) -> list:
    questions = {q.pk: q for q in attempt.version.questions.prefetch_related("choices")}
    ordered = []
    for question_id in seeded_order(sorted(questions), attempt.seed):
        question = questions[question_id]
        choices = {c.pk: c for c in question.choices.all()}
        question.ordered_choices = [choices[c] for c in seeded_order(sorted(choices), attempt.seed, salt=question_id)]
        ordered.append(question)
    return ordered


@never_cache
@login_required
def attempt_view(request: HttpRequest, attempt_id: int) -> HttpResponse:
    attempt = get_object_or_404(Attempt.objects.select_related("version__module"), pk=attempt_id, user=request.user)
    if attempt.submitted_at:
        return redirect("training_result", attempt_id=attempt.pk)
    questions = _ordered_questions(attempt)
    chosen: dict[int, list[int]] = {}
    unanswered: list = []
    if request.method == "POST":
        for question in questions:
            try:
                chosen[question.pk] = [int(v) for v in request.POST.getlist(f"q_{question.pk}")]
            except ValueError:
                chosen[question.pk] = []
        unanswered = [q for q in questions if not chosen[q.pk]]
        if not unanswered:
            try:
                services.attempt_submit(attempt=attempt, answers=chosen)
            except ValidationError as exc:
                messages.error(request, exc.messages[0])
            return redirect("training_result", attempt_id=attempt.pk)
    for number, question in enumerate(questions, 1):
        question.number = number
        question.selected = set(chosen.get(question.pk, []))
        question.missing = question in unanswered
    return render(
        request,
        "training/attempt.html",
        {"attempt": attempt, "module": attempt.version.module, "questions": questions, "unanswered": unanswered},
    )


@login_required
def attempt_result(request: HttpRequest, attempt_id: int) -> HttpResponse:
    attempt = get_object_or_404(
        Attempt.objects.select_related("version__module"), pk=attempt_id, user=request.user, submitted_at__isnull=False
    )
    questions = _ordered_questions(attempt)
    for number, question in enumerate(questions, 1):
        question.number = number
        picked = set(attempt.answers.get(str(question.pk), []))
        question.right = picked == {c.pk for c in question.ordered_choices if c.is_correct}
        question.picked = [c.text for c in question.ordered_choices if c.pk in picked]
    certificate = Certificate.objects.filter(attempt=attempt).first()
    return render(
        request,
        "training/result.html",
        {
            "attempt": attempt,
            "module": attempt.version.module,
            "questions": questions,
            "certificate": certificate,
            "blocked": services.attempt_block_reason(request.user, attempt.version.module),
        },
    )


@login_required
def certificate_download(request: HttpRequest, code: str) -> HttpResponse:
    certificate = Certificate.objects.select_related("user", "module").filter(code=code).first()
    if certificate is None or not may_download_certificate(request.user, certificate):
        raise Http404("No such certificate.")
    if not certificate.pdf_path or not default_storage.exists(certificate.pdf_path):
        return render(request, "training/certificate_pending.html", {"certificate": certificate}, status=202)
    audit_record(
        action="training.certificate_download", request=request, obj=certificate, scheme_id=certificate.user.scheme_id
    )
    filename = f"certificate-{certificate.module.slug}-v{certificate.version_id}.pdf"
    return FileResponse(
        default_storage.open(certificate.pdf_path, "rb"),
        as_attachment=True,
        filename=filename,
        content_type="application/pdf",
    )


@never_cache
def certificate_verify(request: HttpRequest, code: str) -> HttpResponse:
    """Public: valid / expired / revoked, the module, version and dates — never the holder's name."""
    if not ratelimit.allow(request, action="certificate_verify", rate=settings.PORTAL_VERIFY_RATE_LIMIT):
        return render(request, "training/verify_limited.html", status=429)
    certificate = certificate_for_code(code)
    state = None
    disposed = None
    if certificate is not None:
        versions = list(certificate.module.versions.all())
        state = certificate_state(certificate, versions, now=timezone.now())
    else:
        # Issued here, but its record was disposed of under the retention rules some years after the holder left.
        disposed = disposed_certificate_for_code(code)
    return render(
        request,
        "training/verify.html",
        {"certificate": certificate, "state": state, "disposed": disposed},
        status=200 if certificate else 410 if disposed else 404,
    )


@never_cache
def certificate_check(request: HttpRequest) -> HttpResponse:
    """Public: type the code printed on a certificate (any case, dashes or not) and be taken to its check."""
    from training.codes import is_short_code, normalise

    typed = request.GET.get("code", "")
    error = ""
    if "code" in request.GET:
        code = normalise(typed)
        if not code:
            error = "Enter the code printed on the certificate"
        elif not is_short_code(code) and len(typed.strip()) < 20:
            error = "Enter the code as printed: 12 letters and numbers, for example 7KQ2-M4XD-9TZP"
        else:
            return redirect("certificate_verify", code=code if is_short_code(code) else typed.strip())
    return render(request, "training/check.html", {"typed": typed, "error": error}, status=400 if error else 200)
