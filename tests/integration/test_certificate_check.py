"""Anyone holding a printed certificate can check it by typing its short code; the PDF says where, at the
portal's real address, and is tagged for screen readers."""

import io

import pikepdf
import pytest

from tests.conftest import module_data, pass_module
from training import services
from training.certificates import render_certificate_pdf
from training.models import Certificate


@pytest.fixture
def certificate(vera):
    pass_module(vera, services.module_publish(data=module_data()))
    return Certificate.objects.get(user=vera)


def test_a_code_typed_in_small_letters_with_spaces_finds_the_certificate(client, certificate):
    typed = " ".join(certificate.display_code.lower().split("-"))
    response = client.get("/certificates/check/", {"code": typed}, follow=True)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Valid" in body and certificate.display_code in body
    assert certificate.user.get_full_name() not in body


def test_an_empty_or_malformed_code_is_explained_beside_the_box(client, db):
    assert "Enter the code printed on the certificate" in client.get("/certificates/check/?code=").content.decode()
    response = client.get("/certificates/check/?code=12-34")
    assert response.status_code == 400
    assert "12 letters and numbers" in response.content.decode()


def test_a_code_that_is_no_certificate_says_how_to_check_it(client, db):
    response = client.get("/certificates/check/?code=7KQ2-M4XD-9TZP", follow=True)
    assert response.status_code == 404
    assert "three groups of four" in response.content.decode()


def test_the_pdf_names_the_check_page_at_the_portals_address_and_is_tagged(certificate, settings):
    settings.PORTAL_BASE_URL = "https://portal.example.police.uk"
    pdf = render_certificate_pdf(certificate)
    with pikepdf.open(io.BytesIO(pdf)) as document:
        assert document.Root.MarkInfo.Marked
        assert "/StructTreeRoot" in document.Root
        assert str(document.Root.Lang) == "en-GB"
        assert certificate.display_code in str(document.docinfo["/Title"])
    from pypdf import PdfReader

    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).replace("\n", " ")
    assert "https://portal.example.police.uk/certificates/check/" in text
    assert certificate.display_code in text
