"""Training's public face for other apps: is this person's mandatory training current?"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.base_user import AbstractBaseUser


@dataclass(frozen=True)
class TrainingStatus:
    current: bool
    missing: list[str] = field(default_factory=list)  # titles of mandatory modules not passed and current
    summary: str = ""  # one line for the volunteer's dashboard


def mandatory_training_status(user: AbstractBaseUser, *, at: datetime | None = None) -> TrainingStatus:
    """Every mandatory module (with published content) passed and unexpired at the current version rules:
    a certificate stops counting when it expires, is revoked, or a newer version's re-certification
    date has passed."""
    from training.selectors import module_states

    states = [s for s in module_states(user, now=at) if s.module.mandatory and s.module.versions.all()]
    if not states:
        return TrainingStatus(current=True, summary="No mandatory training modules have been published yet.")
    missing = [s.module.title for s in states if not s.counts]
    if missing:
        return TrainingStatus(
            current=False,
            missing=missing,
            summary=f"{len(states) - len(missing)} of {len(states)} mandatory modules passed.",
        )
    return TrainingStatus(current=True, summary=f"All {len(states)} mandatory modules passed and current.")


CERTIFICATE_STATES = {
    "valid": "Valid",
    "expired": "Expired",
    "revoked": "Revoked",
    "superseded": "Replaced by a newer version of the module",
}


def training_record(user: AbstractBaseUser, *, at: datetime | None = None) -> list[dict]:
    """A person's own training, module by module, for their copy of their personal data: each module's state
    as their training page words it, every attempt (when, score, result) and every certificate (version,
    dates, state, verification code). Their answers and officers' reasons for resets are not part of it."""
    from django.utils import timezone

    from training.models import Attempt, Certificate
    from training.selectors import _modules_with_versions, _version_content, certificate_state, module_states

    now = at or timezone.now()
    modules = list(_modules_with_versions())
    attempts: dict[int, list[Attempt]] = {}
    for attempt in (
        Attempt.objects.filter(user=user)
        .select_related("version")
        .defer(*_version_content())
        .order_by("started_at", "pk")
    ):
        attempts.setdefault(attempt.version.module_id, []).append(attempt)
    certificates: dict[int, list[Certificate]] = {}
    held = Certificate.objects.filter(user=user).select_related("version").defer(*_version_content())
    for certificate in held.order_by("passed_at", "pk"):
        certificates.setdefault(certificate.module_id, []).append(certificate)
    record = []
    for state in module_states(user, now=now, modules=modules):
        module = state.module
        versions = list(module.versions.all())
        if not versions and module.pk not in attempts:
            continue  # nothing published and nothing done: not part of anyone's training yet
        record.append(
            {
                "module": module.title,
                "mandatory": module.mandatory,
                "state": state.label,
                "attempts": [
                    {
                        "version": attempt.version.number,
                        "started_at": attempt.started_at,
                        "submitted_at": attempt.submitted_at,
                        "score_percent": attempt.score_percent,
                        "result": "Not submitted"
                        if attempt.submitted_at is None
                        else ("Passed" if attempt.passed else "Not passed"),
                    }
                    for attempt in attempts.get(module.pk, [])
                ],
                "certificates": [
                    {
                        "version": certificate.version.number,
                        "verification_code": certificate.display_code,
                        "passed_at": certificate.passed_at,
                        "expires_at": certificate.expires_at,
                        "revoked_at": certificate.revoked_at,
                        "state": CERTIFICATE_STATES[certificate_state(certificate, versions, now=now)],
                    }
                    for certificate in certificates.get(module.pk, [])
                ],
            }
        )
    return record
