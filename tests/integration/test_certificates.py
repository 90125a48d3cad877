"""Certificates: the PDF built by the job, its download, and the public verification page."""

import io
from datetime import timedelta

import pytest
from django.utils import timezone
from pypdf import PdfReader

from tests.conftest import PASSWORD, enrol_totp, mfa_login, module_data, pass_module
from training import services
from training.certificates import render_certificate_pdf
from training.models import Certificate


@pytest.fixture
def certificate(vera):
    version = services.module_publish(data=module_data())
    pass_module(vera, version)
    return Certificate.objects.get(user=vera)


def test_the_certificate_pdf_names_the_holder_and_carries_the_code(certificate):
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(render_certificate_pdf(certificate))).pages)
    assert "Vera Volunteer" in text
    assert certificate.display_code in text.replace("\n", "")
    assert "Safety basics" in text and "version 1" in text


def test_the_job_stores_the_pdf_once_and_the_holder_downloads_it(client, certificate):
    from training.certificates import certificate_store_pdf

    stored = certificate_store_pdf(certificate)
    again = certificate_store_pdf(stored)
    assert stored.pdf_path == again.pdf_path and len(stored.pdf_sha256) == 64
    client.post("/accounts/login/", {"login": certificate.user.email, "password": PASSWORD})
    response = client.get(f"/training/certificates/{certificate.code}.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF")


def test_a_download_before_the_pdf_is_ready_says_so(client, certificate):
    client.post("/accounts/login/", {"login": certificate.user.email, "password": PASSWORD})
    response = client.get(f"/training/certificates/{certificate.code}.pdf")
    assert response.status_code == 202 and b"being prepared" in response.content


def test_another_volunteer_cannot_download_it(client, certificate, lantern):
    from portal import roles
    from tests.conftest import make_person

    other = make_person("other@lantern.example", roles.VOLUNTEER, lantern)
    client.post("/accounts/login/", {"login": other.email, "password": PASSWORD})
    assert client.get(f"/training/certificates/{certificate.code}.pdf").status_code == 404


def test_an_officer_of_another_scheme_cannot_download_it(client, certificate, otto):
    mfa_login(client, otto, enrol_totp(otto))
    assert client.get(f"/training/certificates/{certificate.code}.pdf").status_code == 404


@pytest.mark.parametrize(
    ("change", "state_text"),
    [
        (None, b"Valid"),
        ("expire", b"This certificate has expired."),
        ("revoke", b"This certificate has been revoked."),
    ],
)
def test_the_verification_page_states_validity_without_the_name(client, certificate, owen, change, state_text):
    if change == "expire":
        Certificate.objects.filter(pk=certificate.pk).update(expires_at=timezone.now() - timedelta(days=1))
    elif change == "revoke":
        services.certificate_revoke(certificate=certificate, by=owen, reason="Shared answers.")
    response = client.get(f"/certificates/verify/{certificate.code}")
    assert response.status_code == 200
    assert state_text in response.content
    assert b"Safety basics" in response.content
    assert b"Vera" not in response.content and b"vera@" not in response.content


def test_an_unknown_code_gets_a_clear_not_found_page(client, db):
    response = client.get("/certificates/verify/not-a-real-code")
    assert response.status_code == 404 and b"No certificate has this verification code" in response.content


def test_the_verification_page_is_rate_limited(client, certificate, settings):
    settings.PORTAL_VERIFY_RATE_LIMIT = "3/m"
    codes = [client.get(f"/certificates/verify/guess-{i}").status_code for i in range(4)]
    assert codes == [404, 404, 404, 429]


def test_an_officer_revokes_in_the_admin_and_it_is_audited(client, certificate, owen):
    from portal.models import AuditEvent

    mfa_login(client, owen, enrol_totp(owen))
    response = client.post(
        f"/admin/training/certificate/{certificate.pk}/change/", {"revoke_reason": "Assessment taken by someone else."}
    )
    assert response.status_code == 302
    certificate.refresh_from_db()
    assert certificate.revoked_at and certificate.revoked_by == owen
    assert AuditEvent.objects.filter(action="training.certificate_revoke", actor_email=owen.email).exists()


def test_the_officers_matrix_costs_the_same_queries_for_2_or_12_volunteers(
    client, owen, lantern, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from portal import roles
    from tests.conftest import make_person

    version = services.module_publish(data=module_data())
    services.module_publish(data=module_data("second"))
    mfa_login(client, owen, enrol_totp(owen))
    people = [make_person(f"m{i}@lantern.example", roles.VOLUNTEER, lantern) for i in range(12)]
    for person in people[:2]:
        pass_module(person, version)
    Certificate.objects.exclude(user__in=people[:2]).delete()
    with CaptureQueriesContext(connection) as few:
        client.get("/admin/training/module/matrix/")
    for person in people[2:]:
        pass_module(person, version)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get("/admin/training/module/matrix/")
    body = response.content.decode()
    assert body.count("Passed, valid until") == 12 and body.count("Not started") == 12


@pytest.mark.redis
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_passing_queues_the_pdf_on_commit_and_a_real_worker_builds_it(
    vera, throwaway_redis, use_broker, start_worker, settings
):
    from django.core.files.storage import default_storage

    from tests.conftest import wait_for

    throwaway_redis.start()
    use_broker(throwaway_redis.url)
    worker = start_worker(
        throwaway_redis.url, PORTAL_PRIVATE_STORAGE=settings.STORAGES["default"]["OPTIONS"]["location"]
    )
    version = services.module_publish(data=module_data())
    pass_module(vera, version)  # commits: the job is sent to the broker after the commit
    certificate = Certificate.objects.get(user=vera)
    built = wait_for(lambda: Certificate.objects.get(pk=certificate.pk).pdf_path != "", timeout=90)
    assert built, worker.output()
    certificate.refresh_from_db()
    with default_storage.open(certificate.pdf_path, "rb") as handle:
        text = "".join(page.extract_text() for page in PdfReader(handle).pages)
    assert "Vera Volunteer" in text and certificate.code in text.replace("\n", "")
