"""URL map of the whole portal (the roof: it may import every app)."""

from django.contrib import admin
from django.urls import include, path

from portal import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accessibility/", views.accessibility, name="accessibility"),
    path("privacy/", views.privacy, name="privacy"),
    path("notices/", views.notices, name="notices"),
    path("staff-invitations/<str:token>/", views.staff_invitation_accept_view, name="staff_invitation_accept"),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("", include("volunteers.urls")),
    path("", include("training.urls")),
    path("", include("evidence.urls")),
]
