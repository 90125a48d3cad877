"""Every change in training: publish, attempt, submit, reset, certify, revoke — audited."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import date

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from portal.audit import audit_record
from portal.jobs import job_create
from portal.models import User
from training.codes import new_code
from training.content import render_markdown
from training.models import Attempt, AttemptReset, Certificate, Choice, Module, ModuleVersion, Question
from training.scoring import QuestionKey, score


class AttemptRefused(ValidationError):
    """Why a new attempt cannot start now (cooldown, attempts used up, nothing published)."""


def module_publish(
    *, data: Mapping, by: User | None = None, recertify_by: date | None = None, source_sha256: str = ""
) -> ModuleVersion:
    """Publish a module version from curriculum data (see training/curriculum/*.toml)."""
    questions = data["questions"]
    for number, question in enumerate(questions, 1):
        correct = sum(1 for choice in question["choices"] if choice["correct"])
        if correct == 0 or (question["kind"] == "single" and correct != 1):
            raise ValidationError(f"Question {number} of {data['slug']} does not have a valid set of correct answers.")
    with transaction.atomic():
        module, _ = Module.objects.update_or_create(
            slug=data["slug"],
            defaults={
                "title": data["title"],
                "summary": data.get("summary", ""),
                "order": data.get("order", 0),
                "mandatory": data.get("mandatory", True),
                "validity_months": data.get("validity_months", 12),
                "pass_mark": data.get("pass_mark", 80),
                "estimated_minutes": data.get("estimated_minutes", 30),
            },
        )
        latest = ModuleVersion.objects.select_for_update().filter(module=module).order_by("-number").first()
        version = ModuleVersion.objects.create(
            module=module,
            number=(latest.number + 1) if latest else 1,
            content_markdown=data["content"],
            content_html=render_markdown(data["content"]),
            learning_outcomes=list(data.get("learning_outcomes", [])),
            recertify_by=recertify_by,
            source_sha256=source_sha256,
        )
        for q_order, question in enumerate(questions):
            saved = Question.objects.create(
                version=version,
                order=q_order,
                kind=question["kind"],
                text=question["text"],
                explanation=question["explanation"],
            )
            Choice.objects.bulk_create(
                Choice(question=saved, order=c_order, text=choice["text"], is_correct=choice["correct"])
                for c_order, choice in enumerate(question["choices"])
            )
        audit_record(
            action="training.publish", actor=by, obj=version, detail={"slug": module.slug, "version": version.number}
        )
    return version


def current_version(module: Module) -> ModuleVersion | None:
    return module.versions.order_by("-number").first()


def _failed_since_reset(user: User, module: Module) -> list[Attempt]:
    reset = AttemptReset.objects.filter(user=user, module=module).order_by("-at").first()
    attempts = Attempt.objects.filter(user=user, version__module=module, passed=False)
    if reset:
        attempts = attempts.filter(submitted_at__gt=reset.at)
    return list(attempts.order_by("-submitted_at"))


def attempt_block_reason(user: User, module: Module, *, now=None) -> str:
    """Empty when a new attempt may start; otherwise what the person reads."""
    now = now or timezone.now()
    failed = _failed_since_reset(user, module)
    if len(failed) >= settings.PORTAL_TRAINING_MAX_ATTEMPTS:
        return (
            f"You have used all {settings.PORTAL_TRAINING_MAX_ATTEMPTS} attempts at this assessment. "
            "Ask your supervising officer to talk it through with you and allow more attempts."
        )
    if failed:
        ready = failed[0].submitted_at + relativedelta(minutes=settings.PORTAL_TRAINING_COOLDOWN_MINUTES)
        if ready > now:
            return (
                f"You can try again from {timezone.localtime(ready):%H:%M on %-d %B %Y}. "
                "Use the time to read the module again."
            )
    return ""


def attempt_start(*, user: User, module: Module) -> Attempt:
    """Start (or resume) an attempt at the module's current version."""
    version = current_version(module)
    if version is None:
        raise AttemptRefused("This module has no published content yet.")
    open_attempt = Attempt.objects.filter(user=user, version=version, submitted_at__isnull=True).first()
    if open_attempt:
        return open_attempt  # same seed, same order: a refresh never reshuffles
    reason = attempt_block_reason(user, module)
    if reason:
        raise AttemptRefused(reason)
    with transaction.atomic():
        attempt = Attempt.objects.create(user=user, version=version, seed=secrets.randbelow(2**62))
        audit_record(action="training.attempt_start", actor=user, obj=attempt, detail={"module": module.slug})
    return attempt


def attempt_submit(*, attempt: Attempt, answers: Mapping[int, Sequence[int]]) -> Attempt:
    """Score on the server; a pass issues a certificate and queues its PDF."""
    with transaction.atomic():
        attempt = Attempt.objects.select_for_update().select_related("version__module").get(pk=attempt.pk)
        if attempt.submitted_at:
            raise ValidationError("This attempt has already been submitted.")
        questions = list(attempt.version.questions.prefetch_related("choices"))
        valid = {q.pk: {c.pk for c in q.choices.all()} for q in questions}
        cleaned = {qid: sorted(set(chosen) & valid[qid]) for qid, chosen in answers.items() if qid in valid}
        keys = [QuestionKey(q.pk, frozenset(c.pk for c in q.choices.all() if c.is_correct)) for q in questions]
        result = score(keys, cleaned)
        module = attempt.version.module
        attempt.answers = {str(qid): chosen for qid, chosen in cleaned.items()}
        attempt.submitted_at = timezone.now()
        attempt.score_percent = result.percent
        attempt.passed = result.passed(module.pass_mark)
        attempt.save()
        audit_record(
            action="training.attempt_submit",
            actor=attempt.user,
            obj=attempt,
            detail={"module": module.slug, "score": result.percent, "passed": attempt.passed},
        )
        if attempt.passed:
            certificate = Certificate.objects.create(
                user=attempt.user,
                module=module,
                version=attempt.version,
                attempt=attempt,
                code=new_code(),
                passed_at=attempt.submitted_at,
                expires_at=attempt.submitted_at + relativedelta(months=module.validity_months),
            )
            audit_record(action="training.certify", actor=attempt.user, obj=certificate)
            job_create(kind="training.certificate_pdf", obj=certificate, by=attempt.user)
    return attempt


def attempts_reset(*, user: User, module: Module, by: User, reason: str) -> AttemptReset:
    if not reason.strip():
        raise ValidationError("Record why further attempts are allowed.")
    with transaction.atomic():
        reset = AttemptReset.objects.create(user=user, module=module, by=by, reason=reason)
        audit_record(
            action="training.attempts_reset",
            actor=by,
            obj=reset,
            scheme_id=user.scheme_id,
            detail={"user": user.pk, "module": module.slug},
        )
    return reset


def certificate_revoke(*, certificate: Certificate, by: User, reason: str) -> Certificate:
    if not reason.strip():
        raise ValidationError("Give the reason for revoking the certificate.")
    if certificate.revoked_at:
        raise ValidationError("This certificate has already been revoked.")
    with transaction.atomic():
        certificate.revoked_at = timezone.now()
        certificate.revoked_by = by
        certificate.revoke_reason = reason
        certificate.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
        audit_record(
            action="training.certificate_revoke",
            actor=by,
            obj=certificate,
            scheme_id=certificate.user.scheme_id,
            detail={"reason": reason},
        )
    return certificate
