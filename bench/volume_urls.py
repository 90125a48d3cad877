"""The volume benchmark's URL map: every URL of the portal, plus the baseline view the pages are compared
with, served by the same gunicorn workers over the same database connections (bench/volume_settings.py)."""

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path

from portal.urls import urlpatterns as portal_urlpatterns

BASELINE_PATH = "bench/baseline/"
BASELINE_QUERIES = 5


def baseline(request: HttpRequest) -> HttpResponse:
    """A template rendered after five trivial queries: what any page costs before its own work."""
    with connection.cursor() as cursor:
        for _ in range(BASELINE_QUERIES):
            cursor.execute("SELECT 1")
            cursor.fetchone()
    return render(request, "portal/accessibility.html")


urlpatterns = [path(BASELINE_PATH, baseline, name="bench_baseline"), *portal_urlpatterns]
