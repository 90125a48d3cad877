"""The retention periods in force for a scheme: the platform's settings, lengthened where the scheme chose."""

from __future__ import annotations

from collections.abc import Iterable

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
    if scheme is None:
        return platform_periods()
    return periods_by_scheme([scheme.pk])[scheme.pk]


def periods_by_scheme(scheme_ids: Iterable[int]) -> dict[int, Periods]:
    """`periods_for` of many schemes, by id, in one query (lists that cover many records)."""
    from retention.models import SchemeRetention

    platform = platform_periods()
    found = dict.fromkeys(scheme_ids, platform)
    if found:
        for own in SchemeRetention.objects.filter(scheme_id__in=found):
            found[own.scheme_id] = scheme_periods(platform, {name: getattr(own, name) for name in PERIOD_FIELDS})
    return found
