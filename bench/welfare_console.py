"""Welfare console with 10,000 volunteers vs a bare template view, in the same run (ratio)."""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

VOLUNTEERS = int(os.environ.get("BENCH_VOLUNTEERS", "10000"))
RUNS = int(os.environ.get("BENCH_RUNS", "15"))


def seed() -> object:
    from datetime import timedelta

    from django.contrib.auth.models import Group
    from django.utils import timezone

    from portal import roles
    from portal.accounts import user_create
    from portal.models import Scheme, User
    from volunteers.models import ExposureEvent, ScreeningRecord, Volunteer

    scheme = Scheme.objects.create(name="Bench scheme", code="bench")
    welfare = user_create(email="w@bench.example", role_codes=[roles.WELFARE.code], scheme=scheme, password=None)
    group = Group.objects.get(name=roles.VOLUNTEER.code)
    users = User.objects.bulk_create(
        [User(email=f"v{i}@bench.example", full_name=f"Volunteer {i:05d}", scheme=scheme) for i in range(VOLUNTEERS)]
    )
    users = list(User.objects.filter(email__endswith="@bench.example").exclude(pk=welfare.pk))
    User.groups.through.objects.bulk_create([User.groups.through(user_id=u.pk, group_id=group.pk) for u in users])
    Volunteer.objects.bulk_create([Volunteer(user=u, scheme=scheme) for u in users])
    now = timezone.now()
    ScreeningRecord.objects.bulk_create(
        [
            ScreeningRecord(
                person=u,
                scheme=scheme,
                kind="periodic",
                screened_on=(now - timedelta(days=i % 400)).date(),
                provider="OH",
                outcome="fit",
                next_due=now + timedelta(days=365 - i % 400),
                recorded_by=welfare,
            )
            for i, u in enumerate(users)
        ],
        batch_size=2000,
    )
    from volunteers.services import screening_dates_refresh

    screening_dates_refresh()  # what recording each screening through the service keeps on the person
    ExposureEvent.objects.bulk_create(
        [ExposureEvent(person=u, scheme=scheme, minutes=10 + i % 50, source="chat") for i, u in enumerate(users)],
        batch_size=2000,
    )
    return welfare


def timed(fn) -> float:
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    from django.contrib.messages.storage.fallback import FallbackStorage
    from django.contrib.sessions.backends.db import SessionStore
    from django.shortcuts import render
    from django.test import RequestFactory

    from volunteers.welfare_views import console

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        welfare = seed()
        factory = RequestFactory()

        def request(path: str):
            req = factory.get(path)
            req.user = welfare
            req.session = SessionStore()
            req._messages = FallbackStorage(req)
            return req

        def bare() -> None:
            render(request("/accessibility/"), "portal/accessibility.html")

        def console_page() -> None:
            response = console(request("/welfare/"))
            assert response.status_code == 200

        console_page()  # warm caches and templates once
        with CaptureQueriesContext(connection) as queries:
            console_page()
        baseline = timed(bare)
        measured = timed(console_page)
        print(f"database: {connection.vendor}, volunteers: {VOLUNTEERS}, runs: {RUNS} (median)")
        print(f"bare template view: {baseline * 1000:8.1f} ms (baseline)")
        print(
            f"welfare console:    {measured * 1000:8.1f} ms = {measured / baseline:.1f}x the baseline, "
            f"{len(queries.captured_queries)} queries"
        )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
