"""The periods and thresholds forces may set differently: per scheme, defaulting to settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings

# Clearance levels (College of Policing APP Vetting) and how deep each goes, for "meets the required
# level". NPPV3 and MV are of equivalent depth; the covert decoy role needs MV or its equivalent.
LEVELS = {"NPPV1": 1, "NPPV2": 2, "RV": 2, "NPPV3": 3, "MV": 3}
LEVEL_CHOICES = [
    ("RV", "Recruitment vetting (RV)"),
    ("MV", "Management vetting (MV)"),
    ("NPPV1", "Non-police personnel vetting level 1"),
    ("NPPV2", "Non-police personnel vetting level 2"),
    ("NPPV3", "Non-police personnel vetting level 3"),
]


@dataclass(frozen=True)
class SchemeRules:
    required_level: str
    renewal_years: dict[str, int]
    integrity_review_months: int
    screening_months: int
    heavy_exposure_screening_months: int
    heavy_exposure_minutes_per_year: int
    exposure_threshold_minutes: int
    exposure_window_days: int
    invitation_days: int

    def meets_required_level(self, level: str) -> bool:
        return LEVELS.get(level, 0) >= LEVELS[self.required_level]

    @property
    def exposure_window(self) -> timedelta:
        return timedelta(days=self.exposure_window_days)


def defaults() -> SchemeRules:
    return SchemeRules(
        required_level=settings.PORTAL_REQUIRED_CLEARANCE,
        renewal_years=dict(settings.PORTAL_VETTING_RENEWAL_YEARS),
        integrity_review_months=settings.PORTAL_INTEGRITY_REVIEW_MONTHS,
        screening_months=settings.PORTAL_SCREENING_MONTHS,
        heavy_exposure_screening_months=settings.PORTAL_HEAVY_EXPOSURE_SCREENING_MONTHS,
        heavy_exposure_minutes_per_year=settings.PORTAL_HEAVY_EXPOSURE_MINUTES_PER_YEAR,
        exposure_threshold_minutes=settings.PORTAL_EXPOSURE_THRESHOLD_MINUTES,
        exposure_window_days=settings.PORTAL_EXPOSURE_WINDOW_DAYS,
        invitation_days=settings.PORTAL_INVITATION_DAYS,
    )


def rules_for(scheme) -> SchemeRules:
    """The scheme's own choices where it made them, the platform defaults elsewhere."""
    base = defaults()
    own = getattr(scheme, "volunteer_settings", None) if scheme is not None else None
    if own is None:
        return base
    renewal = dict(base.renewal_years)
    renewal.update({k: v for k, v in (own.renewal_years or {}).items() if k in LEVELS})
    pick = lambda mine, theirs: theirs if mine is None else mine  # noqa: E731
    return SchemeRules(
        required_level=own.required_level or base.required_level,
        renewal_years=renewal,
        integrity_review_months=pick(own.integrity_review_months, base.integrity_review_months),
        screening_months=pick(own.screening_months, base.screening_months),
        heavy_exposure_screening_months=pick(own.heavy_exposure_screening_months, base.heavy_exposure_screening_months),
        heavy_exposure_minutes_per_year=pick(own.heavy_exposure_minutes_per_year, base.heavy_exposure_minutes_per_year),
        exposure_threshold_minutes=pick(own.exposure_threshold_minutes, base.exposure_threshold_minutes),
        exposure_window_days=pick(own.exposure_window_days, base.exposure_window_days),
        invitation_days=pick(own.invitation_days, base.invitation_days),
    )
