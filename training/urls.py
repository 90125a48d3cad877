"""URLs of the training app."""

from django.urls import path

from training import views

urlpatterns = [
    path("training/", views.index, name="training_index"),
    path("training/attempts/<int:attempt_id>/", views.attempt_view, name="training_attempt"),
    path("training/attempts/<int:attempt_id>/result/", views.attempt_result, name="training_result"),
    path("training/certificates/<str:code>.pdf", views.certificate_download, name="certificate_download"),
    path("training/<slug:slug>/", views.module_detail, name="training_module"),
    path("training/<slug:slug>/start/", views.attempt_start, name="training_start"),
    path("certificates/check/", views.certificate_check, name="certificate_check"),
    path("certificates/verify/<str:code>", views.certificate_verify, name="certificate_verify"),
]
