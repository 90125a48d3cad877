"""URLs of the evidence app: a volunteer's tasking pages (GET shows a page, POST to it acts) and bundles."""

from django.urls import path

from evidence import resumable_views, verify_views, views
from evidence.deconfliction import views as deconfliction

urlpatterns = [
    path("deconfliction/", deconfliction.register_list, name="deconfliction_register"),
    path("deconfliction/add/", deconfliction.register_add, name="deconfliction_add"),
    path("deconfliction/import/", deconfliction.register_import, name="deconfliction_import"),
    path("deconfliction/entries/<int:entry_id>/", deconfliction.register_entry, name="deconfliction_entry"),
    path("deconfliction/matches/", deconfliction.match_list, name="deconfliction_matches"),
    path("deconfliction/matches/<int:match_id>/", deconfliction.match_detail, name="deconfliction_match"),
    path("taskings/", views.tasking_list, name="tasking_list"),
    path("taskings/<int:tasking_id>/", views.tasking_detail, name="tasking_detail"),
    path("taskings/<int:tasking_id>/exhibits/", views.exhibit_upload, name="exhibit_upload"),
    path("taskings/<int:tasking_id>/exhibits/stream/", views.exhibit_stream, name="exhibit_stream"),
    # Resumable uploads (tus 1.0): the exhibits page's script uses these.
    path("taskings/<int:tasking_id>/uploads/", resumable_views.uploads, name="resumable_uploads"),
    path(
        "taskings/<int:tasking_id>/uploads/<uuid:upload_id>",
        resumable_views.upload,
        name="resumable_upload",
    ),
    path("exhibits/<int:exhibit_id>/download/", views.exhibit_download, name="exhibit_download"),
    path("bundles/", views.bundle_inbox, name="bundle_inbox"),
    path("bundles/verify/", verify_views.bundle_verify, name="bundle_verify"),
    path("bundles/<int:bundle_id>/download/", views.bundle_download, name="bundle_download"),
    path(
        "bundles/<int:bundle_id>/sensitive/download/",
        views.bundle_sensitive_download,
        name="bundle_sensitive_download",
    ),
    path("bundles/<int:bundle_id>/", views.bundle_status, name="bundle_status"),
    path("bundles/<int:bundle_id>/retry/", views.bundle_retry, name="bundle_retry"),
    path("taskings/<int:tasking_id>/safeguarding/", views.safeguarding_raise, name="safeguarding_raise"),
    path("taskings/<int:tasking_id>/notes/", views.note_add, name="note_add"),
    path("taskings/<int:tasking_id>/statements/", views.tasking_statements, name="tasking_statements"),
    path("taskings/<int:tasking_id>/statements/new/", views.statement_edit, name="statement_new"),
    path("taskings/<int:tasking_id>/statements/<int:statement_id>/", views.statement_edit, name="statement_edit"),
    path(
        "taskings/<int:tasking_id>/statements/<int:statement_id>/check/", views.statement_check, name="statement_check"
    ),
    path("taskings/<int:tasking_id>/statements/<int:statement_id>/sign/", views.statement_sign, name="statement_sign"),
    path(
        "taskings/<int:tasking_id>/statements/<int:statement_id>/discard/",
        views.statement_discard,
        name="statement_discard",
    ),
    path("taskings/<int:tasking_id>/statements/<int:statement_id>/mg11.pdf", views.statement_pdf, name="statement_pdf"),
]
