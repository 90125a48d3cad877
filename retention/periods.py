"""The retention periods in force for a scheme: the platform's settings, lengthened where the scheme chose."""

from __future__ import annotations

from django.conf import settings

from retention.rules import Periods, scheme_periods

PERIOD_FIELDS = ("case_extra_months", "vetting_years", "training_years", "welfare_years")


def platform_periods() -> Periods:
    return Periods(
        case_extra_months=settings.PORTAL_RETENTION_CASE_EXTRA_MONTHS,
        vetting_years=settings.PORTAL_RETENTION_VETTING_YEARS,
        training_years=settings.PORTAL_RETENTION_TRAINING_YEARS,
        welfare_years=settings.PORTAL_RETENTION_WELFARE_YEARS,
    )


def periods_for(scheme) -> Periods:
    """The platform's periods, each lengthened where the scheme set a longer one (never shortened)."""
    platform = platform_periods()
    if scheme is None:
        return platform
    from retention.models import SchemeRetention

    own = SchemeRetention.objects.filter(scheme=scheme).first()
    if own is None:
        return platform
    return scheme_periods(platform, {name: getattr(own, name) for name in PERIOD_FIELDS})
