"""URLs of the volunteers app: invitations, code of conduct, her personal data, and the welfare compartment."""

from django.urls import path

from volunteers import personal_data_views, views, welfare_views

urlpatterns = [
    path("invitations/<str:token>/", views.invitation_accept_view, name="invitation_accept"),
    path("code-of-conduct/", views.conduct_view, name="conduct"),
    # Always the signed-in volunteer's own: no id in the address.
    path("personal-data/", personal_data_views.personal_data_page, name="personal_data"),
    path("personal-data/download.pdf", personal_data_views.personal_data_pdf_download, name="personal_data_pdf"),
    path("personal-data/download.json", personal_data_views.personal_data_json_download, name="personal_data_json"),
    path("welfare/", welfare_views.console, name="welfare_console"),
    path("welfare/people/<int:person_id>/", welfare_views.person, name="welfare_person"),
    path("welfare/people/<int:person_id>/screening/new/", welfare_views.screening_new, name="welfare_screening_new"),
    path("welfare/people/<int:person_id>/exposure/new/", welfare_views.exposure_new, name="welfare_exposure_new"),
    path("welfare/people/<int:person_id>/stand-down/", welfare_views.stand_down_new, name="welfare_stand_down"),
    path(
        "welfare/people/<int:person_id>/stand-down/<int:stand_down_id>/lift/",
        welfare_views.stand_down_lift,
        name="welfare_stand_down_lift",
    ),
]
