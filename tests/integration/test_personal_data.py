"""A volunteer downloads the personal data the scheme holds about her (UK GDPR Art. 15), as a PDF to read and
as JSON to take elsewhere: her vetting, training and screening outcomes and dates are in it; clinical notes,
restrictions, welfare and officers' notes, evidence and taskings never are; every download is audited; and
nobody but the volunteer herself can get it.

Vera (deployable, assigned to OP-LANTERN-1) has passed a module, been screened fit with restrictions, had an
integrity review and a welfare stand-down that was lifted, and produced an exhibit. Una is another Lantern
volunteer whose data must never appear in Vera's file."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.utils import timezone
from pypdf import PdfReader

from portal import roles
from portal.models import AuditEvent
from tests.conftest import (
    PASSWORD,
    enrol_totp,
    invite_and_apply,
    make_person,
    mfa_login,
    module_data,
    pass_module,
    screen,
)
from tests.integration.bundle_helpers import CHAT, submit_exhibit

CLINICAL = "Clinical-note-PD-4471: disturbed sleep after the last operation."
RESTRICTION = "Restriction-PD-9: no audio material."
STAND_DOWN_DETAIL = "Stand-down-detail-PD: after a distressing chat."
LIFT_REASON = "Lift-reason-PD: sleeping well again."
INTEGRITY_NOTE = "Integrity-note-PD: owes money to a colleague."
VETTING_NOTE = "Passport, utility bill, bank statement"  # every check's note (tests.conftest.clear_vetting)
EXPOSURE_SOURCE = "Exposure-source-PD: indecent image review"
UNAS_PHONE = "07700 900999"

PAGE = "/personal-data/"
PDF = "/personal-data/download.pdf"
JSON = "/personal-data/download.json"


@pytest.fixture
def vera_with_records(assigned_vera, tasking, owen, wendy, tmp_path):
    from training.services import module_publish
    from volunteers import services

    user = assigned_vera.user
    version = module_publish(data=module_data("safety-basics"))
    pass_module(user, version)
    screen(user, wendy, outcome="fit_restricted", restrictions=RESTRICTION, notes=CLINICAL)
    services.integrity_review_record(volunteer=assigned_vera, notes=INTEGRITY_NOTE, by=owen)
    services.exposure_record(person=user, minutes=5, source=EXPOSURE_SOURCE, by=wendy)
    stand_down = services.stand_down_place(person=user, detail=STAND_DOWN_DETAIL, by=wendy)
    services.stand_down_lift(stand_down=stand_down, by=wendy, reason=LIFT_REASON)
    exhibit = submit_exhibit(user, tasking, tmp_path, "chat.txt", CHAT, "text/plain")
    assigned_vera.refresh_from_db()
    return assigned_vera, exhibit


@pytest.fixture
def una(lantern, owen):
    from volunteers.models import Volunteer

    volunteer = invite_and_apply(lantern, owen, "una@lantern.example", "Una Otherperson")
    Volunteer.objects.filter(pk=volunteer.pk).update(phone=UNAS_PHONE)
    return volunteer


def _sign_in(client, user) -> None:
    assert client.login(email=user.email, password=PASSWORD)


def pdf_text(content: bytes) -> str:
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages).split())


def _downloads(client) -> tuple[str, str, dict]:
    pdf = client.get(PDF)
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert re.fullmatch(r'attachment; filename="personal-data-\d{4}-\d{2}-\d{2}\.pdf"', pdf["Content-Disposition"])
    raw = client.get(JSON)
    assert raw.status_code == 200
    assert raw["Content-Type"].startswith("application/json")
    assert "no-store" in raw["Cache-Control"] and "no-store" in pdf["Cache-Control"]
    return pdf_text(pdf.content), raw.content.decode(), json.loads(raw.content)


def uk(moment) -> str:
    return f"{timezone.localtime(moment):%-d %B %Y}"


def test_the_download_holds_her_vetting_training_and_screening_outcomes_and_dates(client, vera_with_records):
    volunteer, _ = vera_with_records
    user = volunteer.user
    _sign_in(client, user)
    text, _raw, data = _downloads(client)

    vetting = volunteer.vetting_records.get()
    screening = user.screenings.order_by("-id").first()
    certificate = user.certificates.get()
    # The PDF, in UK dates as the portal shows them.
    assert "Your personal data" in text and "Vera Deploy" in text and user.email in text
    assert "Lantern Partnership" in text and "Accredited" in text and volunteer.exhibit_initials in text
    assert f"Management vetting (MV) Cleared {uk(vetting.started_at)}" in text and uk(vetting.expires_at) in text
    assert "Safety basics" in text and "Passed" in text and certificate.display_code in text
    assert uk(certificate.expires_at) in text
    assert f"Pre-deployment {uk(timezone.now())} Fit with restrictions {uk(screening.next_due)}" in text
    assert "Welfare decision" in text  # the stand-down: why, and its dates
    # The JSON: the same record, times in ISO 8601 with their UK offset.
    assert (
        data["profile"]["name"] == "Vera Deploy" and data["profile"]["exhibit_initials"] == volunteer.exhibit_initials
    )
    assert data["vetting"][0]["outcome"] == "Cleared"
    assert data["vetting"][0]["expires_at"] == timezone.localtime(vetting.expires_at).isoformat(timespec="seconds")
    assert [row["outcome"] for row in data["screening"]] == ["Fit", "Fit with restrictions"]
    assert data["screening"][-1]["next_due"] == timezone.localtime(screening.next_due).isoformat(timespec="seconds")
    assert data["screening"][-1]["screened_on"] == timezone.localdate().isoformat()
    assert set(data["screening"][-1]) == {"kind", "screened_on", "outcome", "next_due"}
    (module,) = data["training"]
    assert module["module"] == "Safety basics" and module["attempts"][0]["result"] == "Passed"
    assert module["certificates"][0]["verification_code"] == certificate.display_code
    assert data["stand_downs"][0]["reason"] == "Welfare decision" and data["stand_downs"][0]["lifted_at"]
    assert [row["version"] for row in data["code_of_conduct"]] == [1]
    assert [row["to"] for row in data["status_history"]][-1] == "Accredited"


def test_it_never_holds_clinical_notes_restrictions_welfare_or_officers_notes(client, vera_with_records):
    volunteer, _ = vera_with_records
    _sign_in(client, volunteer.user)
    text, raw, _data = _downloads(client)
    for secret in (CLINICAL, RESTRICTION, STAND_DOWN_DETAIL, LIFT_REASON, INTEGRITY_NOTE, VETTING_NOTE):
        assert secret not in text, secret
        assert secret not in raw, secret
    for fragment in ("Clinical-note-PD", "Restriction-PD", "Exposure-source-PD", "owen@lantern", "wendy@lantern"):
        assert fragment not in text and fragment not in raw, fragment
    # What is left out is named, with how to ask for it.
    assert "Clinical notes and restrictions from your welfare screenings" in text
    assert "data protection officer" in text


def test_it_holds_no_exhibit_evidence_or_tasking(client, vera_with_records, tasking):
    volunteer, exhibit = vera_with_records
    _sign_in(client, volunteer.user)
    text, raw, _data = _downloads(client)
    for secret in (
        exhibit.reference,
        exhibit.description,
        exhibit.sha256,
        tasking.reference,
        tasking.title,
        tasking.persona,
        "dave_77",
    ):
        assert secret not in text, secret
        assert secret not in raw, secret
    assert "Evidence, notes, statements and the taskings you were given" in text


def test_an_identity_protected_volunteers_file_does_not_link_her_to_her_pseudonym(client, vera_with_records, owen):
    from volunteers.services import identity_protection_set

    volunteer, _ = vera_with_records
    protected = identity_protection_set(
        volunteer=volunteer, protected=True, pseudonym="Witness Kestrel", by=owen, reason="Risk of reprisal."
    )
    _sign_in(client, volunteer.user)
    text, raw, data = _downloads(client)
    assert "Witness Kestrel" not in text and "Witness Kestrel" not in raw
    assert data["profile"]["exhibit_initials"] is None
    assert f"Exhibit initials {protected.exhibit_initials} " not in text + " "


def test_every_download_is_audited_once_with_who_and_the_format(client, vera_with_records):
    volunteer, _ = vera_with_records
    _sign_in(client, volunteer.user)
    client.get(PAGE)  # reading the page discloses nothing
    assert not AuditEvent.objects.filter(action="volunteer.personal_data_exported").exists()
    client.get(PDF)
    client.get(JSON)
    client.get(PDF)
    events = list(AuditEvent.objects.filter(action="volunteer.personal_data_exported").order_by("id"))
    assert [event.detail["format"] for event in events] == ["pdf", "json", "pdf"]
    for event in events:
        assert event.actor_id == volunteer.user.pk and event.actor_email == volunteer.user.email
        assert event.object_type == "volunteers.volunteer" and event.object_id == str(volunteer.pk)
        assert event.scheme_id == volunteer.scheme_id and event.outcome == "success"
        assert "volunteer" in event.actor_role


def test_another_volunteers_data_never_appears(client, vera_with_records, una):
    volunteer, _ = vera_with_records
    _sign_in(client, volunteer.user)
    text, raw, _data = _downloads(client)
    for secret in ("Una Otherperson", "una@lantern.example", UNAS_PHONE):
        assert secret not in text and secret not in raw
    # And hers holds her own, none of Vera's.
    client.logout()
    _sign_in(client, una.user)
    text, raw, data = _downloads(client)
    assert data["profile"]["email"] == "una@lantern.example" and UNAS_PHONE in text
    assert "Vera Deploy" not in text and "Vera Deploy" not in raw
    assert [(m["state"], m["attempts"], m["certificates"]) for m in data["training"]] == [("Not started", [], [])]
    assert data["screening"] == [] and data["vetting"] == []


def test_the_page_says_what_is_in_the_download_and_what_is_not(client, vera_with_records):
    volunteer, _ = vera_with_records
    _sign_in(client, volunteer.user)
    page = client.get(PAGE).content.decode()
    assert "Your personal data" in page
    assert f'href="{PDF}"' in page and f'href="{JSON}"' in page
    assert "Part 3 of the Data Protection Act 2018" in page and "data protection officer" in page
    assert "Clinical notes and restrictions" in page
    home = client.get("/").content.decode()
    assert f'href="{PAGE}"' in home


@pytest.mark.parametrize("who", ["officer", "welfare", "court", "scheme_admin", "superuser", "deconfliction"])
def test_nobody_but_a_volunteer_gets_it(client, vera_with_records, lantern, who):
    from portal.models import Force

    person = {
        "officer": lambda: make_person("o2@lantern.example", roles.OFFICER, lantern),
        "welfare": lambda: make_person("w2@lantern.example", roles.WELFARE, lantern),
        "court": lambda: make_person("c2@court.example", roles.COURT, None),
        "scheme_admin": lambda: make_person("a2@lantern.example", roles.SCHEME_ADMIN, lantern),
        "superuser": lambda: make_person("r2@platform.example", None),
        "deconfliction": lambda: make_person(
            "d2@force.example", roles.DECONFLICTION, force=Force.objects.create(name="Northshire Police")
        ),
    }[who]()
    if roles.requires_mfa(person):
        mfa_login(client, person, enrol_totp(person))
    else:
        _sign_in(client, person)
    for url in (PAGE, PDF, JSON):
        response = client.get(url)
        assert response.status_code == 403, (who, url)
        assert b"Vera" not in response.content
    assert not AuditEvent.objects.filter(action="volunteer.personal_data_exported").exists()


def test_the_signed_out_are_sent_to_sign_in(client, vera_with_records):
    for url in (PAGE, PDF, JSON):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert not AuditEvent.objects.filter(action="volunteer.personal_data_exported").exists()


def test_an_applicant_with_nothing_decided_yet_gets_a_file_that_says_so(client, una):
    _sign_in(client, una.user)
    text, _raw, data = _downloads(client)
    assert data["profile"]["status"] == "Applicant"
    assert "Your vetting has not started yet." in text and "You have not been screened yet." in text
    assert "You have not been stood down." in text


def test_the_pdf_is_tagged_titled_and_draws_every_character_of_her_name(client, lantern, owen):
    """People's names are not all ASCII: each character is drawn with a real glyph, and the PDF is tagged with
    its language and title so a screen reader reads it in order."""
    import pikepdf

    from tests.pdf_glyphs import notdef_glyphs

    volunteer = invite_and_apply(lantern, owen, "zoe@lantern.example", "Zoë Ōkawa-Nguyễn 李")
    _sign_in(client, volunteer.user)
    content = client.get(PDF).content
    assert "Zoë Ōkawa-Nguyễn 李" in pdf_text(content)
    with pikepdf.open(io.BytesIO(content)) as document:
        assert notdef_glyphs(document) == []
        assert "/StructTreeRoot" in document.Root and str(document.Root.Lang) == "en-GB"
        assert str(document.docinfo["/Title"]) == "Your personal data: Zoë Ōkawa-Nguyễn 李"
