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
