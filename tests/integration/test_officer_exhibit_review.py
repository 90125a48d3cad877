"""Owen reviews Vera's exhibits with a safe preview: images and text are shown on the review page and recorded
in custody as viewed; HTML is shown as text, never as a page; PDFs and media are not previewed; quarantined
material never is; distressing material only when he asks, and then it counts towards his exposure. Otto, of
another scheme, and Wendy, Lantern's welfare officer, get nothing."""

from __future__ import annotations

import pytest

from evidence.models import CustodyEvent, Exhibit
from tests.conftest import enrol_totp, mfa_login
from tests.integration.bundle_helpers import CHAT, PNG, submit_exhibit

HTML = b"<!doctype html><html><body><script>alert('x')</script><p>Profile of dave_77, age 34</p></body></html>"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def officer(client, owen):
    mfa_login(client, owen, enrol_totp(owen))
    return client


def _exhibit(assigned_vera, tasking, tmp_path, name: str, content: bytes, mime: str) -> Exhibit:
    return submit_exhibit(assigned_vera.user, tasking, tmp_path, name, content, mime)


def _viewed(exhibit: Exhibit) -> int:
    return exhibit.custody.filter(action=CustodyEvent.Action.VIEWED).count()


def _review(client, exhibit: Exhibit, query: str = "") -> str:
    response = client.get(f"/admin/evidence/exhibit/{exhibit.pk}/review/{query}")
    assert response.status_code == 200
    return response.content.decode()


def _preview(client, exhibit: Exhibit):
    return client.get(f"/admin/evidence/exhibit/{exhibit.pk}/preview/")


def test_a_text_exhibit_is_shown_on_its_review_page_and_recorded_as_viewed(officer, assigned_vera, tasking, tmp_path):
    exhibit = _exhibit(assigned_vera, tasking, tmp_path, "chat.txt", CHAT, "text/plain")
    page = _review(officer, exhibit)
    assert f'<iframe class="portal-preview__text" src="/admin/evidence/exhibit/{exhibit.pk}/preview/"' in page
    assert "sandbox" in page and f'title="Content of exhibit {exhibit.reference}, as plain text"' in page
    assert _viewed(exhibit) == 0  # the page itself never reads the file: the frame's request does
    response = _preview(officer, exhibit)
    assert response.content == CHAT and response["Content-Type"] == "text/plain; charset=utf-8"
    assert _viewed(exhibit) == 1
    event = exhibit.custody.get(action=CustodyEvent.Action.VIEWED)
    assert event.actor_email == "owen@lantern.example"


def test_a_review_refused_and_shown_again_writes_nothing(officer, assigned_vera, tasking, tmp_path):
    exhibit = _exhibit(assigned_vera, tasking, tmp_path, "chat.txt", CHAT, "text/plain")
    before = exhibit.custody.count()
    officer.post(f"/admin/evidence/exhibit/{exhibit.pk}/review/", {"review": "1", "decision": "rejected"})
    assert exhibit.custody.count() == before


def test_an_image_is_shown_through_a_checked_address_that_records_custody(officer, assigned_vera, tasking, tmp_path):
    exhibit = _exhibit(assigned_vera, tasking, tmp_path, "shot.png", PNG, "image/png")
    page = _review(officer, exhibit)
    preview = f"/admin/evidence/exhibit/{exhibit.pk}/preview/"
    assert f'<img src="{preview}"' in page and "data:" not in page
    assert _viewed(exhibit) == 0  # recorded when the browser fetches the image, not before
    response = officer.get(preview)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG
    assert response["Content-Type"] == "image/png" and response["Content-Disposition"] == "inline"
    assert response["X-Content-Type-Options"] == "nosniff" and "no-store" in response["Cache-Control"]
    assert _viewed(exhibit) == 1


def test_an_html_page_is_shown_as_its_source_text_never_as_a_page(officer, assigned_vera, tasking, tmp_path):
    exhibit = _exhibit(assigned_vera, tasking, tmp_path, "page.html", HTML, "text/html")
    page = _review(officer, exhibit)
    assert "<script>alert" not in page and "Profile of dave_77" not in page
    assert "shown as its source text, never opened as a page" in page
    response = _preview(officer, exhibit)
    assert response.content == HTML  # as text: the browser is told it is plain text and not to guess
    assert response["Content-Type"] == "text/plain; charset=utf-8" and response["X-Content-Type-Options"] == "nosniff"
    assert (
        "sandbox" in response["Content-Security-Policy"] and "default-src 'none'" in response["Content-Security-Policy"]
    )


def test_a_pdf_is_not_previewed_and_the_page_says_how_to_read_it(officer, assigned_vera, tasking, tmp_path):
    exhibit = _exhibit(assigned_vera, tasking, tmp_path, "doc.pdf", PDF, "application/pdf")
    page = _review(officer, exhibit)
    assert "PDF documents are not previewed here: download the original to read it." in page
    assert "<img" not in page.split('id="preview"')[1].split("</div>")[0]
    assert officer.get(f"/admin/evidence/exhibit/{exhibit.pk}/preview/").status_code == 404
    assert _viewed(exhibit) == 0


def test_quarantined_material_is_never_previewed_only_the_warning(officer, owen, assigned_vera, tasking, tmp_path):
    from django.contrib.auth.models import Permission

    from evidence import services

    owen.user_permissions.add(Permission.objects.get(codename="open_quarantined"))
    exhibit = _exhibit(assigned_vera, tasking, tmp_path, "shot.png", PNG, "image/png")
    services.exhibit_set_quarantine(exhibit=exhibit, quarantined=True, reason="Possible IIOC.", by=owen)
    page = _review(officer, exhibit)
    assert "Quarantined: possible indecent imagery of a child. It is never shown in the portal." in page
    assert "/preview/" not in page and "<pre" not in page
    assert officer.get(f"/admin/evidence/exhibit/{exhibit.pk}/preview/").status_code == 404
    assert _viewed(exhibit) == 0


def test_the_preview_service_refuses_quarantined_material(owen, assigned_vera, tasking, tmp_path):
    from django.core.exceptions import PermissionDenied

    from evidence import services

    exhibit = _exhibit(assigned_vera, tasking, tmp_path, "shot.png", PNG, "image/png")
    Exhibit.objects.filter(pk=exhibit.pk).update(quarantined=True)
    exhibit.refresh_from_db()
    with pytest.raises(PermissionDenied):
        services.exhibit_preview(exhibit=exhibit, by=owen)
    assert _viewed(exhibit) == 0


def test_distressing_material_is_shown_only_when_asked_and_counts_towards_exposure(
    officer, owen, assigned_vera, tasking, tmp_path
):
    from volunteers.models import ExposureEvent

    exhibit = _exhibit(assigned_vera, tasking, tmp_path, "chat.txt", CHAT, "text/plain")
    Exhibit.objects.filter(pk=exhibit.pk).update(distressing=True)
    page = _review(officer, exhibit)
    assert "Distressing material." in page and "Show the preview" in page and "/preview/" not in page
    assert _viewed(exhibit) == 0 and not ExposureEvent.objects.filter(person=owen).exists()
    page = _review(officer, exhibit, "?preview=show")
    assert f"/admin/evidence/exhibit/{exhibit.pk}/preview/" in page
    assert _preview(officer, exhibit).content == CHAT and _viewed(exhibit) == 1
    assert ExposureEvent.objects.get(person=owen).source == f"Viewed distressing exhibit {exhibit.reference}"


def test_another_schemes_officer_gets_neither_the_review_page_nor_the_preview(
    client, otto, assigned_vera, tasking, tmp_path
):
    exhibit = _exhibit(assigned_vera, tasking, tmp_path, "shot.png", PNG, "image/png")
    mfa_login(client, otto, enrol_totp(otto))
    assert client.get(f"/admin/evidence/exhibit/{exhibit.pk}/review/").status_code == 404
    assert client.get(f"/admin/evidence/exhibit/{exhibit.pk}/preview/").status_code == 404
    assert _viewed(exhibit) == 0


def test_a_welfare_officer_never_sees_evidence_content(client, wendy, assigned_vera, tasking, tmp_path):
    exhibit = _exhibit(assigned_vera, tasking, tmp_path, "chat.txt", CHAT, "text/plain")
    mfa_login(client, wendy, enrol_totp(wendy))
    for url in (f"/admin/evidence/exhibit/{exhibit.pk}/review/", f"/admin/evidence/exhibit/{exhibit.pk}/preview/"):
        response = client.get(url)
        assert response.status_code in {403, 404} and b"dave_77" not in response.content
    assert _viewed(exhibit) == 0


def test_a_scheme_administrator_without_the_officer_role_cannot_preview(client, ada, assigned_vera, tasking, tmp_path):
    exhibit = _exhibit(assigned_vera, tasking, tmp_path, "shot.png", PNG, "image/png")
    mfa_login(client, ada, enrol_totp(ada))
    assert client.get(f"/admin/evidence/exhibit/{exhibit.pk}/preview/").status_code == 404
    assert _viewed(exhibit) == 0


def test_a_refused_review_puts_its_reason_beside_the_field_in_an_error_summary(
    officer, assigned_vera, tasking, tmp_path
):
    exhibit = _exhibit(assigned_vera, tasking, tmp_path, "chat.txt", CHAT, "text/plain")
    url = f"/admin/evidence/exhibit/{exhibit.pk}/review/"
    page = officer.post(url, {"review": "1", "decision": "rejected", "reason": ""}).content.decode()
    assert 'href="#id_reason">Give the reason for rejecting the exhibit.</a>' in page
    page = officer.post(url, {"review": "1"}).content.decode()
    assert 'href="#id_decision">Choose accept, reject or mark as unused material</a>' in page
    page = officer.post(url, {"sensitivity": "1", "sensitivity-reason": ""}).content.decode()
    assert 'href="#id_sensitivity-reason">Enter why the sensitivity is changing</a>' in page
    exhibit.refresh_from_db()
    assert exhibit.review_state == Exhibit.Review.AWAITING and not exhibit.quarantined


def test_the_review_records_the_decision_and_returns_to_the_exhibit(officer, owen, assigned_vera, tasking, tmp_path):
    exhibit = _exhibit(assigned_vera, tasking, tmp_path, "chat.txt", CHAT, "text/plain")
    response = officer.post(
        f"/admin/evidence/exhibit/{exhibit.pk}/review/", {"review": "1", "decision": "accepted", "reason": ""}
    )
    assert response.status_code == 302 and response["Location"] == f"/admin/evidence/exhibit/{exhibit.pk}/change/"
    exhibit.refresh_from_db()
    assert exhibit.review_state == Exhibit.Review.ACCEPTED and exhibit.reviewed_by == owen
