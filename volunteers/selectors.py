"""Reads of volunteer records, filtered for the person asking."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce, Least
from django.http import Http404
from django.utils import timezone

from portal import roles
from portal.models import User
from portal.permissions import scheme_filter
from volunteers.models import (
    ScreeningRecord,
    ScreeningRequest,
    StandDown,
    VettingRecord,
    Volunteer,
)
from volunteers.permissions import can_read_welfare_detail, is_welfare_officer


def welfare_people(user: User) -> QuerySet[User]:
    """The people whose welfare records this welfare officer may open: their scheme's volunteers and
    officers (officers who open quarantined material are exposed too)."""
    if not is_welfare_officer(user):
        return User.objects.none()
    # EXISTS, not a join and DISTINCT: over a force's 10,000 volunteers DISTINCT made the console sort and
    # count every wide row (bench/volume.py).
    in_role = User.groups.through.objects.filter(
        user_id=OuterRef("pk"), group__name__in=[roles.VOLUNTEER.code, roles.OFFICER.code]
    )
    people = User.objects.filter(Exists(in_role), is_active=True)
    if user.is_superuser and user.scheme_id is None:
        return people
    return people.filter(scheme_id=user.scheme_id)


EXPOSURE_WINDOW_DAYS = 30
# The statuses in which a volunteer has left the scheme (both final): retention counts their records' periods from it.
LEFT_STATUSES = (Volunteer.Status.WITHDRAWN, Volunteer.Status.REFUSED)


def welfare_console_rows(user: User, *, with_exposure: bool = False) -> QuerySet[User]:
    """One row per person with what the console filters and sorts on, in one query.

    Exposure totals are summed for the whole list only when sorting by them; otherwise
    `attach_recent_exposure` adds them to the page shown, in one more query.
    """
    latest = ScreeningRecord.objects.filter(person=OuterRef("pk")).order_by(*ScreeningRecord.LATEST)
    rows = (
        welfare_people(user)
        # Volunteers who have left are screened no more: listing them would flag them overdue for ever. Their records
        # stay open to welfare officers (welfare_person) and reach the review list of people's records.
        .exclude(volunteer__status__in=LEFT_STATUSES)
        .select_related("scheme", "volunteer")
        .annotate(
            screening_next_due=F("next_screening_due"),  # kept by services.screening_dates_refresh
            screening_outcome=Subquery(latest.values("outcome")[:1]),
            stood_down=Exists(StandDown.objects.filter(person=OuterRef("pk"), lifted_at__isnull=True)),
            open_request=Exists(ScreeningRequest.objects.filter(person=OuterRef("pk"), closed_at__isnull=True)),
        )
        .order_by(F("screening_next_due").asc(nulls_first=True), "full_name")  # never screened first
    )
    if with_exposure:
        since = timezone.now() - timedelta(days=EXPOSURE_WINDOW_DAYS)
        rows = rows.annotate(recent_exposure=Coalesce(Subquery(_exposure_sum_since(since)), 0))
    return rows


def attach_recent_exposure(rows: list[User]) -> list[User]:
    from volunteers.models import ExposureEvent

    since = timezone.now() - timedelta(days=EXPOSURE_WINDOW_DAYS)
    totals = dict(
        ExposureEvent.objects.filter(person_id__in=[row.pk for row in rows], at__gte=since)
        .values("person_id")
        .annotate(total=Sum("minutes"))
        .values_list("person_id", "total")
    )
    for row in rows:
        if not hasattr(row, "recent_exposure"):
            row.recent_exposure = totals.get(row.pk, 0)
    return rows


def _exposure_sum_since(since):
    from volunteers.models import ExposureEvent

    return (
        ExposureEvent.objects.filter(person=OuterRef("pk"), at__gte=since)
        .order_by()
        .values("person")
        .annotate(total=Sum("minutes"))
        .values("total")[:1]
    )


def welfare_person(user: User, person_id: int) -> User:
    """One person's welfare record, or 404 — the same answer for "no such person" and "not yours"."""
    person = welfare_people(user).filter(pk=person_id).first()
    if person is None or not can_read_welfare_detail(user, person.scheme_id):
        raise Http404("No such person in your scheme.")
    return person


def screenings_of(person: User) -> QuerySet[ScreeningRecord]:
    return ScreeningRecord.objects.filter(person=person).select_related("recorded_by").order_by(*ScreeningRecord.LATEST)


def volunteers_for_officer(user: User) -> QuerySet[Volunteer]:
    from portal.permissions import scheme_filter

    return scheme_filter(Volunteer.objects.select_related("user", "scheme"), user).prefetch_related(
        Prefetch("vetting_records")
    )


DUE_WITHIN_DAYS = 30  # as screening_state's "Due by …": what falls due within this many days is a task now
SCREENED_STATUSES = (Volunteer.Status.IN_VETTING, Volunteer.Status.VETTED, Volunteer.Status.ACCREDITED)
VETTED_STATUSES = (Volunteer.Status.VETTED, Volunteer.Status.ACCREDITED, Volunteer.Status.SUSPENDED)


def vetting_in_progress(user: User) -> QuerySet:
    """Vetting applications of the viewer's scheme not yet decided, oldest first."""
    pending = VettingRecord.objects.filter(outcome=VettingRecord.Outcome.PENDING).select_related("volunteer__user")
    return scheme_filter(pending, user).order_by("started_at", "pk")


def vetting_falling_due(user: User, *, within_days: int = DUE_WITHIN_DAYS) -> QuerySet[Volunteer]:
    """Vetted volunteers whose clearance expires, or whose integrity review falls due, within `within_days`
    days (or already has): annotated `vetting_expires` and `integrity_review_due`, soonest first. The same
    dates deployability reads (the latest clearance, the latest integrity review's next date), as kept on the
    volunteer by services.vetting_dates_refresh, so the list is two index lookups however large the force."""
    soon = timezone.now() + timedelta(days=within_days)
    volunteers = (
        Volunteer.objects.filter(status__in=VETTED_STATUSES)
        .filter(Q(current_clearance_expires__lte=soon) | Q(next_integrity_review__lte=soon))
        .select_related("user")
        .annotate(
            vetting_expires=F("current_clearance_expires"),
            integrity_review_due=F("next_integrity_review"),
            first_due=Least("current_clearance_expires", "next_integrity_review"),
        )
    )
    return scheme_filter(volunteers, user).order_by("first_due", "pk")


def screening_due(user: User, *, within_days: int = DUE_WITHIN_DAYS) -> QuerySet[Volunteer]:
    """Volunteers on their way to or in deployment whose screening is not done, overdue or due within
    `within_days` days: exactly those screening_state does not call "Current". Officers get the count and
    the names, never an outcome. Read from the next due date kept on the person (an index)."""
    soon = timezone.now() + timedelta(days=within_days)
    volunteers = (
        Volunteer.objects.filter(status__in=SCREENED_STATUSES)
        .annotate(screening_next_due=F("user__next_screening_due"))
        .filter(Q(screening_next_due__isnull=True) | Q(screening_next_due__lte=soon))
    )
    return scheme_filter(volunteers, user)
