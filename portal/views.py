"""Ground-floor pages: health check, landing dashboard, accessibility statement, privacy notice."""

from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal import roles
from volunteers.dashboard import volunteer_tasks
from volunteers.deployability import Audience, deployability_for
from volunteers.models import Volunteer

logger = logging.getLogger(__name__)


def _database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return True, "ok"
    except Exception as exc:  # any driver error means "not answering"
        logger.warning("Health check: database did not answer: %s", exc)
        return False, "unavailable"


def _broker_ok() -> tuple[bool, str]:
    from portal.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True, "ok"
    except Exception as exc:
        logger.warning("Health check: broker did not answer: %s", exc)
        return False, "unavailable"


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers and monitoring: 200 when the database and the broker both answer."""
    db_ok, db_state = _database_ok()
    broker_ok, broker_state = _broker_ok()
    healthy = db_ok and broker_ok
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "database": db_state, "broker": broker_state},
        status=200 if healthy else 503,
    )


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    if roles.has_role(user, roles.WELFARE):
        return redirect("welfare_console")
    if roles.has_role(user, roles.COURT):
        return redirect("bundle_inbox")
    if user.is_staff:
        return redirect("admin:index")
    context = {"scheme": user.scheme, "role_label": roles.role_label(user)}
    volunteer = Volunteer.objects.filter(user=user).select_related("scheme").first()
    if volunteer is not None:
        decision = deployability_for(volunteer)
        context.update(
            volunteer=volunteer,
            deployable=decision.allowed,
            reasons=decision.reasons_for(Audience.VOLUNTEER),
            tasks=volunteer_tasks(volunteer, decision),
        )
    return render(request, "portal/home.html", context)


def accessibility(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/accessibility.html")


def privacy(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/privacy.html")
