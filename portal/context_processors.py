"""Values every page template needs."""

from django.http import HttpRequest

from portal import roles


def portal(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"service_name": "Accredited Volunteer Portal"}
    return {
        "service_name": "Accredited Volunteer Portal",
        "user_role_label": roles.role_label(user),
        "user_is_welfare": roles.has_role(user, roles.WELFARE),
    }
