"""Values every page template needs."""

from django.http import HttpRequest

from portal import roles
from portal.notifications import unread_notice_count


def portal(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"service_name": "Accredited Volunteer Portal"}
    return {
        "service_name": "Accredited Volunteer Portal",
        "user_role_label": roles.role_label(user),
        "user_is_welfare": roles.has_role(user, roles.WELFARE),
        "unread_notice_count": unread_notice_count(user),
    }
