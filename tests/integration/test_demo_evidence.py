"""The demo seed leaves one tasking, OP-DEMO-1, whose evidence is settled: a bundle can be requested at once."""

import io
import re

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone

from evidence import bundles
from evidence.models import (
    Assignment,
    Authorisation,
    CustodyEvent,
    Exhibit,
    HandoverBundle,
    Statement,
    StatementDraft,
    Tasking,
    UnusedMaterial,
)
from evidence.verify import verify
from portal.demo import DEMO_PEOPLE, DEMO_TASKING
from portal.models import AuditEvent, User
from tests.integration import bundle_helpers
from training.models import Attempt, Certificate

signing_key = bundle_helpers.signing_key  # the fixture, made visible to pytest in this module


@pytest.fixture
def curriculum(db):
    from training.curriculum import seed_curriculum

    return seed_curriculum()


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def person(index: int) -> User:
    return User.objects.get(email=DEMO_PEOPLE[index][1])


def test_the_demo_tasking_is_active_reviewed_and_ready_for_a_bundle(curriculum):
    output = seed()
    tasking = Tasking.objects.get(reference=DEMO_TASKING)
    vera, owen = person(0), person(1)
    assert tasking.status == Tasking.Status.ACTIVE
    assert tasking.handler == owen and tasking.controller == owen
    assert tasking.authorisation.kind == Authorisation.Kind.CHIS
    assert Assignment.objects.filter(tasking=tasking, volunteer=vera, ended_at__isnull=True).exists()
    # All that is left is the disclosure officer's own act, which the demo leaves to Owen.
    assert [line.split(" schedule ")[0] for line in bundles.bundle_missing(tasking)] == ["The MG6C", "The MG6D"]

    exhibits = {exhibit.reference: exhibit for exhibit in tasking.exhibits.all()}
    assert sorted(exhibits) == ["VV/1", "VV/2", "VV/3", "VV/4", "VV/5"]
    assert [exhibits[ref].sniffed_type for ref in sorted(exhibits)] == [
        "text/plain",
        "application/json",
        "image/png",
        "video/mp4",
        "image/png",
    ]
    assert all(exhibit.producer == vera for exhibit in exhibits.values())
    assert all(exhibit.conduct_flags == [] for exhibit in exhibits.values())  # the decoy never instigates
    accepted = tasking.exhibits.filter(review_state=Exhibit.Review.ACCEPTED)
    assert sorted(accepted.values_list("reference", flat=True)) == ["VV/1", "VV/2", "VV/3", "VV/4"]
    unused = UnusedMaterial.objects.get(tasking=tasking)
    assert unused.exhibit == exhibits["VV/5"] and unused.schedule == "MG6C" and unused.reason

    # The files went through the upload path into the private storage, intact.
    from PIL import Image

    with default_storage.open(exhibits["VV/3"].stored_name, "rb") as handle:
        Image.open(handle).verify()
    assert default_storage.size(exhibits["VV/1"].stored_name) == exhibits["VV/1"].size
    assert len(bundle_helpers.stored_bytes(exhibits["VV/1"].stored_name).decode().splitlines()) >= 40

    statement = Statement.objects.get(tasking=tasking)
    assert statement.state == Statement.State.SIGNED and statement.author == vera
    assert sorted(statement.exhibits.values_list("reference", flat=True)) == ["VV/1", "VV/2", "VV/3", "VV/4"]
    assert StatementDraft.objects.filter(statement=statement).count() == 2
    assert default_storage.exists(statement.pdf_name)
    assert "Try: sign in as Owen" in output and "Request handover bundle" in output


def test_owen_builds_a_bundle_of_the_demo_tasking_and_it_verifies(curriculum, signing_key):
    seed()
    tasking = Tasking.objects.get(reference=DEMO_TASKING)
    bundle_helpers.sign_schedules(tasking, person(1))
    bundle = bundles.bundle_build(bundles.bundle_request(tasking=tasking, by=person(1)))
    assert bundle.state == HandoverBundle.State.READY
    report = verify(bundle_helpers.stored_bytes(bundle.pdf_name), signing_key)
    assert report.ok, report.failure
    names = {entry["name"] for entry in bundle.manifest["files"]}
    references = {entry.get("reference") for entry in bundle.manifest["files"]}
    assert {"VV/1", "VV/2", "VV/3", "VV/4"} <= references and "VV/5" not in references
    assert all(re.fullmatch(r"VV_\d+\.\w+", name) for name in names if not name.startswith("MG11-"))
    assert bundle.manifest["urn"] == "42DT0000126"


def test_seeding_twice_creates_nothing_twice(curriculum):
    seed()
    models = [Authorisation, Tasking, Assignment, Exhibit, CustodyEvent, Statement, StatementDraft, UnusedMaterial]
    models += [User, Attempt, Certificate, AuditEvent]
    before = {model: model.objects.count() for model in models}
    output = seed()
    assert {model: model.objects.count() for model in models} == before
    assert Tasking.objects.filter(reference=DEMO_TASKING).count() == 1
    assert "Try: sign in as Owen" in output


def test_without_the_curriculum_the_seed_succeeds_and_creates_no_evidence(db):
    output = seed()
    assert User.objects.filter(email=DEMO_PEOPLE[0][1]).exists()
    assert not Tasking.objects.exists() and not Exhibit.objects.exists()
    evidence_lines = [line for line in output.splitlines() if DEMO_TASKING in line]
    assert len(evidence_lines) == 1 and evidence_lines[0].startswith("No demo evidence")
    assert "seed_curriculum" in evidence_lines[0]


def test_a_curriculum_published_after_the_first_seed_is_caught_up(db):
    from training.curriculum import seed_curriculum

    seed()
    seed_curriculum()
    output = seed()
    assert Tasking.objects.filter(reference=DEMO_TASKING, status=Tasking.Status.ACTIVE).exists()
    assert "Try: sign in as Owen" in output


def test_a_seed_that_fails_part_way_leaves_neither_rows_nor_files(curriculum, monkeypatch, tmp_path):
    from portal import demo

    def no_renderer(**kwargs):
        raise RuntimeError("the PDF renderer is missing")

    demo.demo_seed()
    monkeypatch.setattr(demo, "statement_sign", no_renderer)
    with pytest.raises(RuntimeError):
        demo.demo_seed_evidence()
    assert not Tasking.objects.exists() and not Authorisation.objects.exists() and not Exhibit.objects.exists()
    assert [path for path in tmp_path.rglob("*") if path.is_file()] == []  # tmp_path is the private storage here

    monkeypatch.undo()
    assert demo.demo_seed_evidence().created


def _demo_client(login):
    """Signed in with the login the demo printed: its password, then a code from its TOTP secret."""
    from django.test import Client

    from tests.conftest import totp_code

    client = Client()
    response = client.post("/accounts/login/", {"login": login.email, "password": login.password})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/2fa/authenticate/")
    assert client.post("/accounts/2fa/authenticate/", {"code": totp_code(login.totp_secret)}).status_code == 302
    return client


def test_the_demo_has_a_closed_case_for_two_officers_to_dispose_of(curriculum):
    from portal import demo
    from retention.models import CaseOutcome, DisposalProposal, Tombstone
    from retention.policy import may_approve_disposal
    from retention.selectors import disposal_status
    from tests.integration.test_retention import text_of

    output = seed()
    olive = User.objects.get(email="olive.officer@demo.example")
    assert olive.scheme == person(1).scheme and olive.has_perm("retention.approve_disposal")
    assert re.search(r"Supervising officer\s+olive\.officer@demo\.example\s+\S+\s+TOTP secret [A-Z2-7]+", output)
    assert "Disposal: OP-DEMO-2" in output

    tasking = Tasking.objects.get(reference=demo.DISPOSAL_TASKING)
    assert tasking.status == Tasking.Status.CLOSED
    outcome = CaseOutcome.objects.get(tasking=tasking)
    assert outcome.outcome == "nfa" and outcome.decided_on < timezone.localdate()
    exhibits = list(tasking.exhibits.order_by("reference"))
    assert [exhibit.reference for exhibit in exhibits] == ["VV/1", "VV/2"]
    assert all(disposal_status(exhibit).may_dispose_now for exhibit in exhibits)
    # Nothing is disposed of: Owen's proposal for VV/1 awaits a second officer, Olive.
    assert not Tombstone.objects.exists() and all(exhibit.disposed_at is None for exhibit in exhibits)
    assert all(default_storage.exists(exhibit.stored_name) for exhibit in exhibits)
    proposal = DisposalProposal.objects.get(state=DisposalProposal.State.PROPOSED)
    assert proposal.exhibit == exhibits[0] and proposal.proposed_by == person(1)
    assert may_approve_disposal(olive, proposal) and not may_approve_disposal(person(1), proposal)

    logins = {login.email: login for login in demo.demo_seed()}
    url = "/admin/retention/disposalproposal/review/"
    as_owen = text_of(_demo_client(logins["owen.officer@demo.example"]).get(url))
    assert "Proposed by DS Owen Officer" in as_owen and "Propose disposal of VV/2" in as_owen
    assert DEMO_TASKING not in as_owen  # the active tasking's exhibits are kept
    as_olive = text_of(_demo_client(logins["olive.officer@demo.example"]).get(url))
    assert "Approve or refuse the disposal of VV/1" in as_olive


def test_the_demo_has_a_volunteer_who_left_whose_records_two_people_may_dispose_of(curriculum, signing_key):
    """Lena left long enough ago that each kind of her records may go: Owen's proposal for her vetting records awaits
    Olive; her training records await an officer's proposal, her welfare records a welfare officer's (Wendy's, then
    Wyn approves)."""
    from portal import demo
    from retention.models import DisposalCertificate, PersonDisposalProposal, PersonTombstone
    from retention.person_disposal import person_disposal_approve, person_disposal_review, records_held
    from retention.policy import may_approve_person_disposal
    from retention.selectors import left_on
    from tests.integration.test_retention import text_of
    from volunteers.models import ScreeningRecord, StatusChange, VettingCheck, VettingRecord, Volunteer

    output = seed()
    assert demo.TRY_PEOPLE_DISPOSAL in output.splitlines()
    lena = User.objects.get(email=demo.LEAVER_EMAIL)
    owen, olive = person(1), User.objects.get(email="olive.officer@demo.example")
    wendy, wyn = (User.objects.get(email=f"{name}.welfare@demo.example") for name in ("wendy", "wyn"))
    assert lena.scheme == owen.scheme and lena.volunteer.status == "withdrawn"
    assert not lena.has_usable_password()  # nobody signs in as her
    assert (timezone.localdate() - left_on(lena)).days > 6 * 365
    assert VettingRecord.objects.filter(volunteer__user=lena, outcome="cleared").exists()
    assert VettingCheck.objects.filter(record__volunteer__user=lena).exists()
    assert Attempt.objects.filter(user=lena, passed=True).exists() and Certificate.objects.filter(user=lena).exists()
    assert ScreeningRecord.objects.filter(person=lena).exists()

    rows = person_disposal_review(lena.scheme_id, ("vetting", "training", "welfare"))
    assert sorted((row.person, row.kind) for row in rows) == [(lena, "training"), (lena, "vetting"), (lena, "welfare")]
    assert all(row.status.may_dispose_now and row.held for row in rows)
    proposal = PersonDisposalProposal.objects.get()  # the vetting records' only: the rest are left to try
    assert (proposal.person, proposal.kind, proposal.state, proposal.proposed_by) == (lena, "vetting", "proposed", owen)
    assert proposal.reason.startswith("She left the scheme more than 6 years ago")
    assert may_approve_person_disposal(olive, proposal) and not may_approve_person_disposal(owen, proposal)
    assert not may_approve_person_disposal(wendy, proposal)

    models = [User, Volunteer, StatusChange, VettingRecord, VettingCheck, Attempt, Certificate, ScreeningRecord]
    models += [PersonDisposalProposal, AuditEvent]
    before = {model: model.objects.count() for model in models}
    assert demo.TRY_PEOPLE_DISPOSAL in seed().splitlines()
    assert {model: model.objects.count() for model in models} == before

    # What the printed line promises: Olive finds the proposal on her admin home, Wendy the link on her console.
    logins = {login.email: login for login in demo.demo_seed()}
    as_olive = text_of(_demo_client(logins[olive.email]).get("/admin/"))
    assert "Approve or refuse the disposal of the vetting records of Lena Leaver" in as_olive
    console = _demo_client(logins[wendy.email]).get("/welfare/").content.decode()
    assert "Review welfare records for disposal" in console
    assert wyn.has_perm("retention.approve_person_disposal") and wyn.scheme == lena.scheme

    tombstone = person_disposal_approve(proposal=proposal, by=olive)
    assert PersonTombstone.objects.get() == tombstone and tombstone.kind == "vetting"
    assert records_held(lena, "vetting") == {} and DisposalCertificate.objects.filter(person_tombstone=tombstone)
    assert records_held(lena, "training") and records_held(lena, "welfare")  # each kind goes only by its own approval
