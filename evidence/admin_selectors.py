"""Reads for the officers' admin home page: what needs doing in evidence, for the viewer's scheme."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from evidence.models import Authorisation, BundleShare, Exhibit, HandoverBundle, SafeguardingAlert
from portal.models import User
from portal.permissions import scheme_filter

SHOWN = 5  # rows listed per task on the home page; the count says how many there are in all


@dataclass
class Task:
    """One task on the home page: how many there are, and the first few of them."""

    count: int
    items: list = field(default_factory=list)


def _task(queryset: QuerySet, limit: int = SHOWN) -> Task:
    return Task(count=queryset.count(), items=list(queryset[:limit]))


def alerts_to_acknowledge(user: User, *, limit: int = 10) -> Task:
    """Safeguarding alerts of the viewer's scheme that nobody has acknowledged yet, oldest first."""
    waiting = SafeguardingAlert.objects.filter(acknowledged_at__isnull=True).select_related("tasking", "raised_by")
    return _task(scheme_filter(waiting, user).order_by("raised_at", "pk"), limit)


def exhibits_awaiting_review(user: User) -> Task:
    """Exhibits no officer has accepted, rejected or marked unused yet, oldest first."""
    awaiting = Exhibit.objects.filter(review_state=Exhibit.Review.AWAITING).select_related("tasking", "producer")
    return _task(scheme_filter(awaiting, user).order_by("submitted_at", "pk"))


def bundles_building_or_ready(user: User) -> Task:
    """Bundles queued, building or failed, and ready ones not yet shared with anyone: newest first. Not those whose
    files were withdrawn (an exhibit they held was disposed of): there is nothing left to build or share."""
    shared = BundleShare.objects.filter(bundle=OuterRef("pk"), revoked_at__isnull=True)
    H = HandoverBundle.State
    wanted = Q(state__in=[H.QUEUED, H.BUILDING, H.FAILED]) | Q(state=H.READY, shared=False)
    bundles = (
        HandoverBundle.objects.annotate(shared=Exists(shared))
        .filter(wanted, files_withdrawn_at__isnull=True)
        .select_related("tasking")
    )
    return _task(scheme_filter(bundles, user).order_by("-requested_at", "-pk"))


def authorisations_expiring(user: User, *, within_days: int = 30) -> Task:
    """Authorisations in force that expire within `within_days` days, soonest first."""
    now = timezone.now()
    expiring = Authorisation.objects.filter(
        cancelled_at__isnull=True, expires_at__gt=now, expires_at__lte=now + timedelta(days=within_days)
    )
    return _task(scheme_filter(expiring, user).order_by("expires_at", "pk"))
