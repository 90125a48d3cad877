"""The permission matrix: every route of the URLconf (the admin site's included, model by model) x every
role x the object's state → the status DESIGN.md expects. A route with no entry here fails the suite.

Who is who (scheme Lantern unless said otherwise; built once for the module, through the services):
- Vera is deployable and assigned to OP-ACTIVE (open) and OP-CLOSED (closed); she produced the exhibits,
  the signed MG11 and the draft MG11 the routes below open.
- Cleo is deployable and assigned to OP-ACTIVE too: Vera's work is not hers to see.
- Una is a deployable Lantern volunteer assigned to nothing; Hal a deployable Harbour volunteer assigned
  to a Harbour tasking; Nadia is assigned to OP-ACTIVE but stood down by the welfare team.
- Owen supervises Lantern, Otto supervises Harbour; Wendy is Lantern's welfare officer; Ada its scheme
  administrator; Root the platform superuser (no welfare role).
- Carla holds a share of bundle v1 in force; Cuthbert none; Cora's was revoked; Cole's expired.
- Bundle v1 of OP-ACTIVE is ready; v2 is building.
- Dora is Northshire Police's deconfliction officer: her register's entry is matched by Lantern's
  OP-REGISTERED; Sid keeps Southshire's register, and Dora's is not his to see.

Statuses: 200, 202, 403, 404, 405, 410 as such; a redirect is written as where it goes (LOGIN: the sign-in
page; ADMIN_HOME: the admin index, which is how Django's admin answers "no such object" — the same
answer for "does not exist" and "another scheme's"; ADMIN_LOGIN: the admin's gate, where anyone who is
not staff is sent — the admin:login row checks what that page then does: the signed-out are sent on to
sign in, the signed-in refused). "clinical notes shown" is the answer for any page showing a clinical
note to anyone but the welfare officer; "Lantern's operation named" for any page naming OP-ACTIVE or
OP-CLOSED to someone with no part in them; "Vera's work shown" for any page showing her notes, statements
or exhibit descriptions to another volunteer, the welfare officer or a court recipient without a share.

Each route test tries the roles (see GATE_ALIKE for the one place where alike roles are sampled) and
reports every cell that differs, not only the first. Other schemes are exercised by the roles: every
object tried is Lantern's, and Hal, Otto (and, for shares, the courts) are the outsiders. Every cell is the
design's answer, not the code's: the three places they first disagreed (allauth's admin lists not scoped
to the scheme, /admin/login/ refusing signed-in staff, the scheme administrator holding the officers'
evidence permissions) were fixed in the product. test_action POSTs to the endpoints that act, as every
role, and checks that only the rightful roles changed anything.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from fnmatch import fnmatch
from pathlib import Path
from urllib.parse import quote

import pytest
import time_machine
from django.conf import settings as django_settings
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import transaction
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from portal import roles
from tests.conftest import (
    PASSWORD,
    clear_vetting,
    enrol_totp,
    invite_and_apply,
    make_person,
    make_tasking,
    mfa_login,
    module_data,
    pass_module,
    screen,
)
from tests.integration.bundle_helpers import CHAT, PNG, Received, sign_schedules

# --- the roles -------------------------------------------------------------------------------------------

ANON = "anonymous"
V_ASSIGNED = "volunteer_assigned"
V_COLLEAGUE = "volunteer_same_tasking"
V_UNASSIGNED = "volunteer_unassigned"
V_OTHER = "volunteer_other_scheme"
V_STOOD_DOWN = "volunteer_not_deployable"
OFFICER = "officer"
OFFICER_OTHER = "officer_other_scheme"
WELFARE = "welfare"
COURT = "court_shared"
COURT_NONE = "court_no_share"
COURT_REVOKED = "court_revoked_share"
COURT_EXPIRED = "court_expired_share"
ADMIN = "scheme_admin"
ROOT = "superuser"
DECON = "deconfliction"
DECON_OTHER = "deconfliction_other_force"

ROLES = (
    ANON,
    V_ASSIGNED,
    V_COLLEAGUE,
    V_UNASSIGNED,
    V_OTHER,
    V_STOOD_DOWN,
    OFFICER,
    OFFICER_OTHER,
    WELFARE,
    COURT,
    COURT_NONE,
    COURT_REVOKED,
    COURT_EXPIRED,
    ADMIN,
    ROOT,
    DECON,
    DECON_OTHER,
)
VOLUNTEERS = (V_ASSIGNED, V_COLLEAGUE, V_UNASSIGNED, V_OTHER, V_STOOD_DOWN)
COURTS = (COURT, COURT_NONE, COURT_REVOKED, COURT_EXPIRED)
STAFF = (OFFICER, OFFICER_OTHER, WELFARE, ADMIN, ROOT)
SIGNED_IN = tuple(role for role in ROLES if role != ANON)

# --- expected answers ------------------------------------------------------------------------------------

LOGIN = "→/accounts/login/"
ADMIN_HOME = "→/admin/"
HOME = "→/"
WELFARE_HOME = "→/welfare/"
INBOX = "→/bundles/"
ADMIN_LOGIN = "→/admin/login/"


def expect(default, **cells) -> dict[str, object]:
    """Every role gets `default` unless named: `expect(404, volunteer_assigned=200)`. Group keywords:
    volunteers=, courts=, staff=, signed_in= set a whole group before the single roles are applied."""
    groups = {"volunteers": VOLUNTEERS, "courts": COURTS, "staff": STAFF, "signed_in": SIGNED_IN}
    table = dict.fromkeys(ROLES, default)
    for group, members in groups.items():
        if group in cells:
            table.update(dict.fromkeys(members, cells.pop(group)))
    unknown = set(cells) - set(ROLES)
    assert not unknown, f"unknown roles {unknown}"
    table.update(cells)
    return table


def signed_in(default, **cells) -> dict[str, object]:
    """A page behind @login_required: the signed-out are sent to sign in."""
    return {**expect(default, **cells), ANON: LOGIN}


DECON_ONLY = signed_in(403, deconfliction=200, deconfliction_other_force=200)
# One force's entry or match: its own officers read it; another force's are told it does not exist.
DORAS = signed_in(403, deconfliction=200, deconfliction_other_force=404)

# --- the world -------------------------------------------------------------------------------------------


CLINICAL = "Clinical-note-7Q: low mood after the last operation."  # only a welfare officer may ever read it
# Lantern's covert operation names: no page may show them to anyone with no part in them.
OPERATION = re.compile(rb"OP-(ACTIVE|CLOSED)")
OUTSIDERS = (V_UNASSIGNED, V_OTHER, OFFICER_OTHER, COURT_NONE)
# Vera's note, draft statement and exhibit descriptions: no other volunteer, no welfare officer and no court
# recipient without a share may read them anywhere.
VERAS_WORK = re.compile(rb"Started at 19:00|A second thought|from the chat")
NOT_VERAS = (ANON, V_COLLEAGUE, V_UNASSIGNED, V_OTHER, V_STOOD_DOWN, WELFARE, COURT_NONE, COURT_REVOKED, COURT_EXPIRED)


@dataclass
class World:
    ids: dict[str, object]  # what URL kwargs are built from
    people: dict[str, object]  # role -> user (no entry for anonymous)
    clients: dict[str, Client]
    storage: str


class FastClient(Client):
    """Django's test client without its record of every template rendered and a copy of each context
    (for admin pages that copying costs more than the page): a request, its response, the cookies kept.
    A view's exception is answered 500, as a server would, instead of being raised here."""

    def request(self, **request):
        response = self.handler(self._base_environ(**request))
        if response.cookies:
            self.cookies.update(response.cookies)
        return response


def _store(upload, stored_name):
    default_storage.save(stored_name, ContentFile(upload.content))


def _exhibit(user, tasking, folder: Path, name: str, content: bytes, mime: str):
    from evidence import services

    return services.exhibit_submit(
        user=user,
        tasking=tasking,
        upload=Received(folder, name, content),
        sniffed_type=mime,
        description=f"{name} from the chat",
        platform="Platform X",
        other_party="dave_77",
        url="",
        captured_at=timezone.now(),
        capture_method="Platform export",
        store=_store,
    )


def _deployable(scheme, officer, welfare, email: str, name: str):
    from volunteers.services import volunteer_transition

    volunteer = invite_and_apply(scheme, officer, email, name)
    clear_vetting(volunteer, officer)
    screen(volunteer.user, welfare, notes=CLINICAL)
    volunteer.refresh_from_db()
    return volunteer_transition(volunteer=volunteer, to="accredited", by=officer, reason="All checks complete.")


def build_world(folder: Path) -> tuple[dict, dict]:
    from evidence import services as evidence
    from evidence.bundles import bundle_build, bundle_request, bundle_start
    from evidence.models import UnusedMaterial
    from evidence.statements import statement_save_draft, statement_sign
    from portal.accounts import staff_invitation_create, user_create
    from portal.jobs import job_create, job_fail
    from portal.models import AuditEvent, Scheme
    from training.models import Attempt, Certificate
    from training.services import attempts_reset, module_publish
    from volunteers import services as volunteers
    from volunteers.models import SchemeVolunteerSettings, ScreeningRecord, ScreeningRequest

    call_command("create_signing_key", "--force")
    volunteers.conduct_publish(title="Volunteer code of conduct", text="Never initiate sexual talk.", by=None)
    version = module_publish(data=module_data("safety-basics", mandatory=False))
    lantern = Scheme.objects.create(name="Lantern Partnership", code="lantern")
    harbour = Scheme.objects.create(name="Harbour Partnership", code="harbour")
    settings_row = SchemeVolunteerSettings.objects.create(scheme=lantern)

    owen = make_person("owen@lantern.example", roles.OFFICER, lantern)
    wendy = make_person("wendy@lantern.example", roles.WELFARE, lantern)
    ada = make_person("ada@lantern.example", roles.SCHEME_ADMIN, lantern)
    otto = make_person("otto@harbour.example", roles.OFFICER, harbour)
    harriet = make_person("harriet@harbour.example", roles.WELFARE, harbour)
    root = make_person("root@platform.example", None)
    carla = make_person("carla@court.example", roles.COURT, None)
    cuthbert = make_person("cuthbert@court.example", roles.COURT, None)
    cora = make_person("cora@court.example", roles.COURT, None)
    cole = make_person("cole@court.example", roles.COURT, None)

    vera = _deployable(lantern, owen, wendy, "vera@lantern.example", "Vera Volunteer")
    una = _deployable(lantern, owen, wendy, "una@lantern.example", "Una Unassigned")
    cleo = _deployable(lantern, owen, wendy, "cleo@lantern.example", "Cleo Colleague")
    nadia = _deployable(lantern, owen, wendy, "nadia@lantern.example", "Nadia Standdown")
    hal = _deployable(harbour, otto, harriet, "hal@harbour.example", "Hal Harbour")

    active = make_tasking(lantern, owen, reference="OP-ACTIVE")
    closed = make_tasking(lantern, owen, reference="OP-CLOSED")
    theirs = make_tasking(harbour, otto, reference="OP-HARBOUR")
    for tasking, person in ((active, vera), (closed, vera), (active, cleo), (active, nadia), (theirs, hal)):
        evidence.tasking_assign(tasking=tasking, volunteer=person.user, by=tasking.handler)

    png = _exhibit(vera.user, active, folder, "shot.png", PNG, "image/png")
    chat = _exhibit(vera.user, active, folder, "chat.txt", CHAT, "text/plain")
    spare = _exhibit(vera.user, active, folder, "spare.txt", CHAT * 2, "text/plain")
    signed = statement_save_draft(
        tasking=active, author=vera.user, body="I produce VD/1.", exhibit_ids=[png.pk, chat.pk]
    )
    statement_sign(statement=signed, by=vera.user)
    for accepted in (png, chat):
        evidence.exhibit_review(exhibit=accepted, decision="accepted", reason="", by=owen)
    evidence.exhibit_review(
        exhibit=spare, decision="unused", schedule="MG6C", reason="", unused_description="Not relied on", by=owen
    )
    evidence.note_add(tasking=active, author=vera.user, text="Started at 19:00.")
    alert = evidence.safeguarding_raise(tasking=active, by=vera.user, note="A real child may be at risk.")
    late = _exhibit(vera.user, closed, folder, "late.txt", CHAT, "text/plain")
    evidence.tasking_set_status(tasking=closed, to="closed", by=owen, reason="Operation over.")

    sign_schedules(active, owen)
    ready = bundle_build(bundle_request(tasking=active, by=owen))
    now = timezone.now()
    evidence.bundle_share(bundle=ready, recipient=carla, until=now + timedelta(days=30), by=owen)
    revoked = evidence.bundle_share(bundle=ready, recipient=cora, until=now + timedelta(days=30), by=owen)
    evidence.bundle_share_revoke(share=revoked, by=owen)
    with time_machine.travel(now - timedelta(days=10)):
        evidence.bundle_share(bundle=ready, recipient=cole, until=now - timedelta(days=1), by=owen)
    sign_schedules(active, owen)
    building = bundle_request(tasking=active, by=owen)
    bundle_start(building)
    share = ready.shares.get(recipient=carla)
    # A draft after the bundles: an unsigned statement holds a bundle back.
    draft = statement_save_draft(tasking=active, author=vera.user, body="A second thought.", exhibit_ids=[chat.pk])

    job = job_create(kind="portal.ping", payload={"echo": "x"}, by=owen)
    job_fail(job_id=job.pk, error="The worker went away.")
    pass_module(vera.user, version)
    attempts_reset(user=vera.user, module=version.module, by=owen, reason="Talked it through.")
    volunteers.integrity_review_record(volunteer=vera, notes="Annual review.", by=owen)
    volunteers.adverse_information_report(volunteer=nadia, summary="A relative arrested.", by=owen)
    volunteers.exposure_record(
        person=nadia.user, minutes=django_settings.PORTAL_EXPOSURE_THRESHOLD_MINUTES, source="Review", by=wendy
    )
    stand_down = volunteers.stand_down_place(person=nadia.user, detail="After a distressing chat.", by=wendy)
    _, pending_token = volunteers.invitation_create(
        scheme=lantern, email="ivy@lantern.example", full_name="Ivy Invitee", by=owen
    )
    newcomer = user_create(
        email="sam@lantern.example", role_codes=[roles.OFFICER.code], scheme=lantern, full_name="Sam New", by=ada
    )
    _, staff_token = staff_invitation_create(user=newcomer, by=ada)

    people = {
        V_ASSIGNED: vera.user,
        V_COLLEAGUE: cleo.user,
        V_UNASSIGNED: una.user,
        V_OTHER: hal.user,
        V_STOOD_DOWN: nadia.user,
        OFFICER: owen,
        OFFICER_OTHER: otto,
        WELFARE: wendy,
        COURT: carla,
        COURT_NONE: cuthbert,
        COURT_REVOKED: cora,
        COURT_EXPIRED: cole,
        ADMIN: ada,
        ROOT: root,
    }
    attempt = Attempt.objects.filter(user=vera.user).order_by("pk").first()
    # A deconfliction match, between taskings of their own (a match pauses both).
    from evidence.deconfliction.identifiers import identify
    from evidence.deconfliction.services import identifiers_record

    matched = make_tasking(lantern, owen, reference="OP-MATCHED")
    for tasking, by in ((matched, owen), (make_tasking(harbour, otto, reference="OP-HARBOUR-MATCHED"), otto)):
        identifiers_record(tasking=tasking, identifiers=[identify("kestrel_9", "Kik")], source="officer", by=by)
    match = matched.deconfliction_matches.get()
    # A force's register, with an entry a Lantern tasking meets.
    from evidence.deconfliction.register import register_entry_add
    from portal.models import Force

    northshire = Force.objects.create(name="Northshire Police")
    dora = make_person("dora@northshire.example", roles.DECONFLICTION, force=northshire)
    sid = make_person("sid@southshire.example", roles.DECONFLICTION, force=Force.objects.create(name="Southshire"))
    registered = make_tasking(lantern, owen, reference="OP-REGISTERED")
    identifiers_record(tasking=registered, identifiers=[identify("nightjar_1", "Kik")], source="officer", by=owen)
    entry, (register_match,) = register_entry_add(
        force=northshire,
        identifier=identify("nightjar_1", "Kik"),
        reference="NS-1",
        owner=dora,
        expires_on=timezone.localdate() + timedelta(days=30),
        review_on=timezone.localdate() + timedelta(days=10),
        by=dora,
    )
    people.update({DECON: dora, DECON_OTHER: sid})
    from evidence.deconfliction.partners import partner_add

    partner = partner_add(
        name="Harbour installation", certificate=Path(django_settings.PORTAL_SIGNING_CERT_PATH).read_text(), by=root
    )
    # Retention: a legal hold Owen placed on OP-ACTIVE, and Lantern's own (longer) retention periods.
    from retention.models import SchemeRetention
    from retention.services import hold_place

    hold = hold_place(
        target=active,
        kind="appeal",
        reason="Appeal lodged.",
        review_on=timezone.localdate() + timedelta(days=30),
        by=owen,
    )
    retention_settings = SchemeRetention.objects.create(scheme=lantern, vetting_years=10)
    # Disposal: Owen's proposal to dispose of the chat awaiting a second officer, and a tombstone of the spare
    # exhibit (rows as the disposal writes them: the world's case is still open, so no disposal could run).
    from retention.models import DisposalProposal, Tombstone

    proposal = DisposalProposal.objects.create(
        exhibit=chat, reason="Past its date.", rule="case_nfa", earliest=timezone.localdate(), proposed_by=owen
    )
    disposed = DisposalProposal.objects.create(
        exhibit=spare,
        reason="Past its date.",
        rule="case_nfa",
        earliest=timezone.localdate(),
        proposed_by=owen,
        state="approved",
        decided_by=owen,
        decided_at=timezone.now(),
    )
    tombstone = Tombstone.objects.create(
        exhibit=spare,
        proposal=disposed,
        reference=spare.reference,
        tasking_reference=active.reference,
        sha256=spare.sha256,
        size=spare.size,
        what="The stored content.",
        proposed_by=owen,
        approved_by=owen,
        rule="case_nfa",
        rule_reason="No further action.",
        legal_source="CPIA Code 5.7",
        earliest=timezone.localdate(),
    )
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from retention.models import DisposalCertificate

    DisposalCertificate.objects.create(
        tombstone=tombstone,
        pdf_name=default_storage.save("disposal-certificates/matrix.pdf", ContentFile(b"%PDF-1.7 certificate")),
        pdf_sha256="0" * 64,
        page_count=1,
        signed_by="AA:BB",
    )
    # Disposal of people's records: Owen's proposal to dispose of Nadia's vetting records, awaiting another
    # officer, and a tombstone of her welfare records with its certificate (the welfare officers' alone).
    from retention.models import PersonDisposalProposal, PersonTombstone

    person_proposal = PersonDisposalProposal.objects.create(
        scheme=lantern,
        person=nadia.user,
        kind="vetting",
        reason="Past its date.",
        rule="vetting_after_leaving",
        earliest=timezone.localdate(),
        proposed_by=owen,
    )
    welfare_disposed = PersonDisposalProposal.objects.create(
        scheme=lantern,
        person=nadia.user,
        kind="welfare",
        reason="Past its date.",
        rule="welfare_after_leaving",
        earliest=timezone.localdate(),
        proposed_by=wendy,
        state="approved",
        decided_by=wendy,
        decided_at=timezone.now(),
    )
    person_tombstone = PersonTombstone.objects.create(
        scheme=lantern,
        person=nadia.user,
        proposal=welfare_disposed,
        kind="welfare",
        person_name="Nadia Standdown",
        person_email=nadia.user.email,
        counts={"volunteers.ScreeningRecord": 1},
        what="The welfare records.",
        proposed_by=wendy,
        approved_by=wendy,
        rule="welfare_after_leaving",
        rule_reason="6 years after leaving.",
        legal_source="UK GDPR Art. 9",
        earliest=timezone.localdate(),
        left_on=timezone.localdate(),
    )
    DisposalCertificate.objects.create(
        person_tombstone=person_tombstone,
        pdf_name=default_storage.save("disposal-certificates/matrix-person.pdf", ContentFile(b"%PDF-1.7 person")),
        pdf_sha256="1" * 64,
        page_count=1,
        signed_by="AA:BB",
    )
    from evidence.models import ResumableUpload

    resumable = ResumableUpload.objects.create(
        user=vera.user, tasking=active, length=10, name="chat.txt", expires_at=timezone.now() + timedelta(days=1)
    )
    ids = {
        "resumable": str(resumable.pk),
        "active": active.pk,
        "closed": closed.pk,
        "harbour_tasking": theirs.pk,
        "exhibit": chat.pk,
        "png": png.pk,
        "late_exhibit": late.pk,
        "signed": signed.pk,
        "draft": draft.pk,
        "ready": ready.pk,
        "building": building.pk,
        "share": share.pk,
        "access": None,  # filled in after Carla's download
        "alert": alert.pk,
        "matched": matched.pk,
        "match": match.pk,
        "entry": entry.pk,
        "dora": dora.pk,
        "register_match": register_match.pk,
        "force": northshire.pk,
        "partner": partner.pk,
        "unused": UnusedMaterial.objects.filter(exhibit=spare).first().pk,
        "authorisation": active.authorisation_id,
        "job": job.pk,
        "attempt": attempt.pk,
        "certificate": Certificate.objects.get(attempt=attempt).code,
        "certificate_pk": Certificate.objects.get(attempt=attempt).pk,
        "module": version.module.slug,
        "module_pk": version.module.pk,
        "version_pk": version.pk,
        "vera_user": vera.user.pk,
        "vera": vera.pk,
        "nadia_user": nadia.user.pk,
        "stand_down": stand_down.pk,
        "lantern": lantern.pk,
        "settings": settings_row.pk,
        "screening": ScreeningRecord.objects.filter(person=vera.user).first().pk,
        "screening_request": ScreeningRequest.objects.filter(person=nadia.user).first().pk,
        "audit": AuditEvent.objects.filter(scheme_id=lantern.pk).order_by("pk").first().pk,
        "pending_token": pending_token,
        "staff_token": staff_token,
        "newcomer": newcomer.pk,
        "tasking_ct": ContentType.objects.get_for_model(type(active)).pk,
        "hold": hold.pk,
        "retention_settings": retention_settings.pk,
        "proposal": proposal.pk,
        "tombstone": tombstone.pk,
        "person_proposal": person_proposal.pk,
        "person_tombstone": person_tombstone.pk,
    }
    return ids, people


def _row(model_label: str, **lookup):
    from django.apps import apps

    return apps.get_model(model_label)._default_manager.filter(**lookup).order_by("pk").first()


def _fill_admin_ids(ids: dict, people: dict) -> None:
    """Ids of the rows the admin's change, history and delete pages are tried on: each one Lantern's."""
    from allauth.account.models import EmailAddress
    from allauth.mfa.models import Authenticator
    from django.contrib.auth.models import Group

    vera = people[V_ASSIGNED]
    ids.update(
        {
            "group": Group.objects.order_by("pk").first().pk,
            "email": EmailAddress.objects.filter(user=vera).first().pk,
            "authenticator": Authenticator.objects.filter(user=people[OFFICER]).first().pk,
            "vetting": _row("volunteers.VettingRecord", volunteer__user=vera).pk,
            "adverse": _row("volunteers.AdverseInformation", volunteer__user=people[V_STOOD_DOWN]).pk,
            "integrity": _row("volunteers.IntegrityReview", volunteer__user=vera).pk,
            "invitation": _row("volunteers.Invitation", email="ivy@lantern.example").pk,
            "conduct": _row("volunteers.CodeOfConduct").pk,
            "exposure": _row("volunteers.ExposureEvent", person=people[V_STOOD_DOWN]).pk,
            "reset": _row("training.AttemptReset").pk,
            "access": _row("evidence.BundleAccess").pk,
        }
    )


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    """Everyone and everything, built once for the module in a transaction rolled back at its end; each
    test runs in a savepoint inside it, so what one request writes never reaches the next test."""
    folder = tmp_path_factory.mktemp("matrix")
    isolated = override_settings(
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        STORAGES={
            **django_settings.STORAGES,
            "default": {
                "BACKEND": "portal.encrypted_storage.EncryptedFileSystemStorage",
                "OPTIONS": {"location": str(folder / "storage")},
            },
        },
        PORTAL_SIGNING_KEY_PATH=str(folder / "key.pem"),
        PORTAL_SIGNING_CERT_PATH=str(folder / "cert.pem"),
    )
    with isolated, django_db_blocker.unblock(), transaction.atomic():
        ids, people = build_world(folder)
        clients: dict[str, Client] = {ANON: FastClient()}
        for role, person in people.items():
            client = FastClient()
            if roles.requires_mfa(person):
                mfa_login(client, person, enrol_totp(person))
            else:
                assert client.login(email=person.email, password=PASSWORD)
            clients[role] = client
        response = clients[COURT].get(f"/bundles/{ids['ready']}/download/")
        assert response.status_code == 200
        b"".join(response.streaming_content)
        _fill_admin_ids(ids, people)
        yield World(ids=ids, people=people, clients=clients, storage=str(folder / "storage"))
        transaction.set_rollback(True)


@pytest.fixture
def world_storage(_fast_and_isolated, settings, world):
    """The exhibits and bundles live in the module's storage, not in each test's fresh tmp_path. Refusals
    are what this module expects by the thousand: Django's warning for each (with its traceback) is
    not logged; server errors still are."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "portal.encrypted_storage.EncryptedFileSystemStorage",
            "OPTIONS": {"location": world.storage},
        },
    }
    logger = logging.getLogger("django.request")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


# --- the matrix: the pages of the portal ------------------------------------------------------------------

Kwargs = Callable[[dict], dict]


@dataclass(frozen=True)
class Cell:
    """One route in one object state: how to build its URL, and what each role must get."""

    kwargs: Kwargs
    expected: dict[str, object]
    method: str = "get"


def no_kwargs(ids: dict) -> dict:
    return {}


def tasking(key: str) -> Kwargs:
    return lambda ids: {"tasking_id": ids[key]}


def statement(key: str) -> Kwargs:
    return lambda ids: {"tasking_id": ids["active"], "statement_id": ids[key]}


# Everyone may read these, signed in or not.
PUBLIC = expect(200)
# Pages of a tasking: the assigned volunteer reads it while the one rule lets her work on it; stood down,
# she sees its status and whom to contact (200, nothing of the operation); a tasking never hers does not
# exist for anyone else, staff included (officers work on taskings in the admin) — 404, not 403.
TASKING_PAGE = signed_in(404, volunteer_assigned=200, volunteer_same_tasking=200, volunteer_not_deployable=200)
# After the tasking closed she still sees its status page (200), never its content.
CLOSED_TASKING_PAGE = signed_in(404, volunteer_assigned=200)
# Actions on evidence (statements): refused with the closed page (403) while the one rule refuses her.
# Vera's statements are hers alone: for Cleo, on the same tasking, they do not exist.
STATEMENT_PAGE = signed_in(404, volunteer_assigned=200, volunteer_not_deployable=403)
NEW_STATEMENT = {**STATEMENT_PAGE, V_COLLEAGUE: 200}
POST_ONLY = signed_in(405)
WELFARE_ONLY = signed_in(403, welfare=200)
# The signed-in are sent on to their own home: the admin for staff, the welfare console for welfare.
SIGN_IN_PAGE = expect(
    HOME,
    anonymous=200,
    officer=ADMIN_HOME,
    officer_other_scheme=ADMIN_HOME,
    scheme_admin=ADMIN_HOME,
    superuser=ADMIN_HOME,
    welfare=WELFARE_HOME,
)

PORTAL: dict[str, dict[str, Cell]] = {
    "home": {
        "": Cell(
            no_kwargs,
            signed_in(
                200,
                welfare=WELFARE_HOME,
                courts=INBOX,
                officer=ADMIN_HOME,
                officer_other_scheme=ADMIN_HOME,
                scheme_admin=ADMIN_HOME,
                superuser=ADMIN_HOME,
                deconfliction="→/deconfliction/",
                deconfliction_other_force="→/deconfliction/",
            ),
        )
    },
    "healthz": {"": Cell(no_kwargs, PUBLIC)},
    # --- a force's deconfliction register: its own deconfliction officers only ---
    "deconfliction_register": {"": Cell(no_kwargs, DECON_ONLY)},
    "deconfliction_matches": {"": Cell(no_kwargs, DECON_ONLY)},
    "deconfliction_add": {"": Cell(no_kwargs, DECON_ONLY)},
    "deconfliction_import": {"": Cell(no_kwargs, DECON_ONLY)},
    "deconfliction_entry": {"": Cell(lambda ids: {"entry_id": ids["entry"]}, DORAS)},
    "deconfliction_match": {"": Cell(lambda ids: {"match_id": ids["register_match"]}, DORAS)},
    "accessibility": {"": Cell(no_kwargs, PUBLIC)},
    "privacy": {"": Cell(no_kwargs, PUBLIC)},
    "notices": {"": Cell(no_kwargs, signed_in(200))},
    # The token is the credential: a pending one opens the page for whoever holds it (a signed-in person is
    # told to sign out first); an unknown one is "not found" for everyone.
    "staff_invitation_accept": {
        "pending": Cell(lambda ids: {"token": ids["staff_token"]}, expect(200)),
        "unknown": Cell(lambda ids: {"token": "not-a-token"}, expect(404)),
    },
    "invitation_accept": {
        "pending": Cell(lambda ids: {"token": ids["pending_token"]}, expect(HOME, anonymous=200)),
        "unknown": Cell(lambda ids: {"token": "not-a-token"}, expect(404)),
    },
    "conduct": {"": Cell(no_kwargs, signed_in(200))},
    # Her own personal data (UK GDPR Art. 15): every volunteer, deployable or not, gets her own and nothing
    # else (no id in the address); anyone who is not a volunteer is refused, the superuser too.
    "personal_data": {"": Cell(no_kwargs, signed_in(403, volunteers=200))},
    "personal_data_pdf": {"": Cell(no_kwargs, signed_in(403, volunteers=200))},
    "personal_data_json": {"": Cell(no_kwargs, signed_in(403, volunteers=200))},
    # --- sign-in (allauth): the pages our rules depend on; the rest are listed in EXCLUDED ---
    "account_login": {"": Cell(no_kwargs, SIGN_IN_PAGE)},
    # Every account starts from an invitation: the sign-up page only says so (no form; see
    # test_nobody_signs_up_without_an_invitation).
    "account_signup": {"": Cell(no_kwargs, SIGN_IN_PAGE)},
    "mfa_index": {"": Cell(no_kwargs, signed_in(200))},
    # --- welfare: the clinical compartment, welfare officers only (a superuser without the role neither) ---
    "welfare_console": {"": Cell(no_kwargs, WELFARE_ONLY)},
    "welfare_person": {"": Cell(lambda ids: {"person_id": ids["vera_user"]}, WELFARE_ONLY)},
    "welfare_screening_new": {"": Cell(lambda ids: {"person_id": ids["vera_user"]}, WELFARE_ONLY)},
    "welfare_exposure_new": {"": Cell(lambda ids: {"person_id": ids["vera_user"]}, WELFARE_ONLY)},
    "welfare_stand_down": {"": Cell(lambda ids: {"person_id": ids["vera_user"]}, WELFARE_ONLY)},
    "welfare_stand_down_lift": {
        "": Cell(lambda ids: {"person_id": ids["nadia_user"], "stand_down_id": ids["stand_down"]}, WELFARE_ONLY)
    },
    # --- training: every signed-in person may read the modules; attempts and certificates are personal ---
    "training_index": {"": Cell(no_kwargs, signed_in(200))},
    "training_module": {"": Cell(lambda ids: {"slug": ids["module"]}, signed_in(200))},
    "training_start": {"": Cell(lambda ids: {"slug": ids["module"]}, POST_ONLY)},
    # A submitted attempt's page sends its owner to the result; to anyone else it does not exist.
    "training_attempt": {
        "submitted": Cell(
            lambda ids: {"attempt_id": ids["attempt"]},
            signed_in(404, volunteer_assigned="→/training/attempts/{attempt}/result/"),
        )
    },
    "training_result": {"": Cell(lambda ids: {"attempt_id": ids["attempt"]}, signed_in(404, volunteer_assigned=200))},
    # Her own certificate, her scheme's officers and administrator, the platform superuser (202 while its
    # PDF is being made).
    "certificate_download": {
        "": Cell(
            lambda ids: {"code": ids["certificate"]},
            signed_in(404, volunteer_assigned=202, officer=202, scheme_admin=202, superuser=202),
        )
    },
    "certificate_check": {"": Cell(no_kwargs, PUBLIC)},
    "certificate_verify": {"": Cell(lambda ids: {"code": ids["certificate"]}, PUBLIC)},
    # --- a volunteer's taskings ---
    "tasking_list": {"": Cell(no_kwargs, signed_in(200))},
    "tasking_detail": {
        "active": Cell(tasking("active"), TASKING_PAGE),
        "closed": Cell(tasking("closed"), CLOSED_TASKING_PAGE),
        # The other way round: Harbour's operation is Hal's, and does not exist for Lantern's people.
        "harbour": Cell(tasking("harbour_tasking"), signed_in(404, volunteer_other_scheme=200)),
    },
    "exhibit_upload": {
        "active": Cell(tasking("active"), TASKING_PAGE),
        "closed": Cell(tasking("closed"), CLOSED_TASKING_PAGE),
    },
    "exhibit_stream": {"active": Cell(tasking("active"), POST_ONLY)},
    # The resumable upload protocol answers the signed-out 401 (a script reads it, not a person); an upload
    # in progress exists for the volunteer who started it only.
    "resumable_uploads": {"active": Cell(tasking("active"), expect(405, anonymous=401))},
    "resumable_upload": {
        "vera's": Cell(
            lambda ids: {"tasking_id": ids["active"], "upload_id": ids["resumable"]},
            expect(404, anonymous=401, volunteer_assigned=405),
        )
    },
    "note_add": {
        "active": Cell(tasking("active"), TASKING_PAGE),
        "closed": Cell(tasking("closed"), CLOSED_TASKING_PAGE),
    },
    "tasking_statements": {
        "active": Cell(tasking("active"), TASKING_PAGE),
        "closed": Cell(tasking("closed"), CLOSED_TASKING_PAGE),
    },
    # Never refused to anyone assigned, deployable or not: an alert about a child must not be lost.
    "safeguarding_raise": {
        "active": Cell(tasking("active"), TASKING_PAGE),
        "closed": Cell(tasking("closed"), CLOSED_TASKING_PAGE),
    },
    "statement_new": {
        "active": Cell(tasking("active"), NEW_STATEMENT),
        "closed": Cell(tasking("closed"), signed_in(404, volunteer_assigned=403)),
    },
    "statement_edit": {"draft": Cell(statement("draft"), STATEMENT_PAGE)},
    "statement_check": {"draft": Cell(statement("draft"), STATEMENT_PAGE)},
    "statement_discard": {"draft": Cell(statement("draft"), STATEMENT_PAGE)},
    "statement_sign": {"draft": Cell(statement("draft"), POST_ONLY)},
    "statement_pdf": {"signed": Cell(statement("signed"), STATEMENT_PAGE)},
    # Her own exhibit while she may work on the tasking; her scheme's officers; nobody else (welfare never
    # sees evidence content, a scheme administrator manages the scheme, not its evidence). Another
    # volunteer's evidence does not exist for her, even on a tasking she shares.
    "exhibit_download": {
        "active": Cell(lambda ids: {"exhibit_id": ids["exhibit"]}, signed_in(404, volunteer_assigned=200, officer=200)),
        "closed": Cell(
            lambda ids: {"exhibit_id": ids["late_exhibit"]}, signed_in(404, volunteer_assigned=403, officer=200)
        ),
    },
    # --- bundles: officers of the bundle's scheme, and court recipients holding a share in force ---
    "bundle_inbox": {"": Cell(no_kwargs, signed_in(200))},
    "bundle_verify": {"": Cell(no_kwargs, signed_in(403, courts=200, officer=200, officer_other_scheme=200))},
    "bundle_download": {
        "ready": Cell(lambda ids: {"bundle_id": ids["ready"]}, signed_in(404, officer=200, court_shared=200)),
        "building": Cell(lambda ids: {"bundle_id": ids["building"]}, signed_in(404)),
    },
    # The sensitive part goes to officers of the scheme and to a CPS share of both parts; Carla's share is of
    # the served bundle only, so for her (and every other court user) it does not exist.
    "bundle_sensitive_download": {
        "ready": Cell(lambda ids: {"bundle_id": ids["ready"]}, signed_in(404, officer=200)),
        "building": Cell(lambda ids: {"bundle_id": ids["building"]}, signed_in(404)),
    },
    "bundle_status": {
        "ready": Cell(lambda ids: {"bundle_id": ids["ready"]}, signed_in(404, officer=200)),
        "building": Cell(lambda ids: {"bundle_id": ids["building"]}, signed_in(404, officer=200)),
    },
    "bundle_retry": {"building": Cell(lambda ids: {"bundle_id": ids["building"]}, POST_ONLY)},
}


# --- the matrix: the admin site, model by model ----------------------------------------------------------


@dataclass(frozen=True)
class AdminModel:
    """What each staff role may do to one registered model's rows of their own scheme (v view, a add,
    c change, d delete), and which row is tried. Volunteers and court recipients get nothing of the admin."""

    row: str  # key in World.ids
    officer: str = ""
    welfare: str = ""
    scheme_admin: str = ""
    superuser: str = ""
    scoped: bool = True  # rows belong to a scheme: another scheme's officer is told they do not exist
    compartment: bool = False  # the welfare compartment: its rows do not exist for anyone but welfare
    overrides: tuple[tuple[str, str, object], ...] = ()  # (view, role, answer) where a page says more


# Officers vet and accredit volunteers, create and authorise taskings, review evidence, request and share
# bundles; welfare officers keep the clinical compartment; scheme administrators manage users, settings and
# staff invitations — not the scheme's evidence, which they neither see nor touch; the superuser works
# across schemes, but evidence, custody and the audit log are append-only for everyone (DESIGN.md,
# "Evidence integrity"), and clinical records are the welfare team's.
ADMIN_MODELS: dict[str, AdminModel] = {
    # No one deletes people or schemes in the admin: records leave through two-person disposal.
    "portal_user": AdminModel("vera_user", officer="v", scheme_admin="vac", superuser="vac"),
    "portal_scheme": AdminModel("lantern", scheme_admin="vc", superuser="vac"),
    # Police forces, whose deconfliction officers keep registers: the platform's superusers alone.
    "portal_force": AdminModel("force", superuser="vac", scoped=False),
    "portal_auditevent": AdminModel("audit", scheme_admin="v", superuser="v"),
    "portal_job": AdminModel("job", officer="v", scheme_admin="v", superuser="v"),
    "auth_group": AdminModel("group", superuser="vacd", scoped=False),
    "account_emailaddress": AdminModel("email", superuser="vacd"),
    "mfa_authenticator": AdminModel("authenticator", superuser="vad"),
    "training_module": AdminModel("module_pk", officer="v", scheme_admin="v", superuser="v", scoped=False),
    "training_moduleversion": AdminModel("version_pk", officer="v", scheme_admin="v", superuser="v", scoped=False),
    "training_certificate": AdminModel("certificate_pk", officer="vc", scheme_admin="vc", superuser="vc"),
    "training_attempt": AdminModel("attempt", officer="v", scheme_admin="v", superuser="v"),
    "training_attemptreset": AdminModel("reset", officer="va", scheme_admin="va", superuser="va"),
    "volunteers_volunteer": AdminModel("vera", officer="vc", scheme_admin="vc", superuser="vc"),
    "volunteers_vettingrecord": AdminModel("vetting", officer="vac", scheme_admin="vac", superuser="vac"),
    "volunteers_adverseinformation": AdminModel("adverse", officer="vac", scheme_admin="vac", superuser="vac"),
    "volunteers_integrityreview": AdminModel("integrity", officer="va", scheme_admin="va", superuser="va"),
    # An invitation belongs to a scheme: the superuser, of none, is sent back to the list to pick one.
    "volunteers_invitation": AdminModel(
        "invitation",
        officer="va",
        scheme_admin="va",
        superuser="va",
        overrides=(("add", ROOT, "→/admin/volunteers/invitation/"),),
    ),
    "volunteers_codeofconduct": AdminModel("conduct", officer="v", scheme_admin="v", superuser="va", scoped=False),
    "volunteers_schemevolunteersettings": AdminModel("settings", scheme_admin="vac", superuser="vac"),
    # Welfare records are written on the welfare pages (through the services), read in the admin.
    "volunteers_screeningrecord": AdminModel("screening", welfare="v", compartment=True),
    "volunteers_exposureevent": AdminModel("exposure", welfare="v", compartment=True),
    "volunteers_standdown": AdminModel("stand_down", welfare="v", compartment=True),
    "volunteers_screeningrequest": AdminModel("screening_request", welfare="v", compartment=True),
    "evidence_safeguardingalert": AdminModel("alert", officer="v", superuser="v"),
    # An authorisation is recorded by an officer of its scheme; the superuser belongs to none.
    "evidence_authorisation": AdminModel("authorisation", officer="vac", superuser="vc"),
    # Creating and authorising taskings is the supervising officer's (DESIGN.md, "Who uses it").
    "evidence_tasking": AdminModel("active", officer="vac", superuser="vac"),
    "evidence_exhibit": AdminModel("exhibit", officer="v", superuser="v"),
    "evidence_unusedmaterial": AdminModel("unused", officer="v", superuser="v"),
    "evidence_handoverbundle": AdminModel("ready", officer="v", superuser="v"),
    "evidence_bundleshare": AdminModel("share", officer="va", superuser="v"),
    "evidence_bundleaccess": AdminModel("access", officer="v", superuser="v"),
    # Partner installations whose signed deconfliction sets are imported: pinned by the platform's superusers,
    # never changed in place.
    "evidence_partnerinstallation": AdminModel("partner", superuser="va", scoped=False),
    # Legal holds are placed from the page of what they hold and lifted on their own page (both routes below):
    # never added, changed or deleted through the admin's own forms. The superuser reads them, audited.
    "retention_legalhold": AdminModel("hold", officer="v", superuser="v"),
    # A scheme's own retention periods: its administrator sets them (longer than the platform's, never shorter).
    "retention_schemeretention": AdminModel("retention_settings", officer="v", scheme_admin="vac", superuser="vac"),
    # Disposal proposals and tombstones: written by the two-person disposal (its routes below), read here.
    "retention_disposalproposal": AdminModel("proposal", officer="v", superuser="v"),
    "retention_tombstone": AdminModel("tombstone", officer="v", superuser="v"),
    # People's records: each reads only the kinds they decide (retention/policy.py). The world's proposal is of
    # vetting records (the officers'), its tombstone of welfare records (the welfare officers'); the superuser,
    # of no scheme, decides none. A row one may not read is "perhaps deleted" (sent back to the admin's home).
    "retention_persondisposalproposal": AdminModel(
        "person_proposal",
        officer="v",
        welfare="v",
        superuser="v",
        overrides=(
            ("change", WELFARE, ADMIN_HOME),
            ("history", WELFARE, ADMIN_HOME),
            ("history", ADMIN, ADMIN_HOME),
            ("change", ROOT, ADMIN_HOME),
            ("history", ROOT, ADMIN_HOME),
        ),
    ),
    "retention_persontombstone": AdminModel(
        "person_tombstone",
        officer="v",
        welfare="v",
        superuser="v",
        overrides=(
            ("change", OFFICER, ADMIN_HOME),
            ("history", OFFICER, ADMIN_HOME),
            ("history", ADMIN, ADMIN_HOME),
            ("change", ROOT, ADMIN_HOME),
            ("history", ROOT, ADMIN_HOME),
        ),
    ),
}

# Anyone not staff is sent to the admin's login page, which sends the signed-out on to sign in and refuses
# the signed-in (the admin:login row below): one redirect per cell keeps the matrix fast.
NOT_STAFF = expect(ADMIN_LOGIN)


def admin_expect(**cells) -> dict[str, object]:
    """An admin page: whoever is not staff is sent to the admin's gate; staff as given."""
    return {**NOT_STAFF, **cells}


def _admin_cells(model: AdminModel) -> dict[str, dict[str, Cell]]:
    def status(ops: str, needs: str) -> int:
        return 200 if set(ops) & set(needs) else 403

    def row(ids: dict) -> dict:
        return {"object_id": ids[model.row]}

    own = {OFFICER: model.officer, WELFARE: model.welfare, ADMIN: model.scheme_admin, ROOT: model.superuser}

    def per_role(needs: str, *, hidden_first: bool = False, on_row: bool = True) -> dict[str, object]:
        cells = {role: status(ops, needs) for role, ops in own.items()}
        if on_row and hidden_first and model.compartment:
            cells.update({role: ADMIN_HOME for role in own if role != WELFARE})
        # Otto has an officer's model permissions, but Lantern's rows do not exist for him.
        otto = status(model.officer, needs)
        if on_row and model.scoped and (hidden_first or otto == 200):
            otto = ADMIN_HOME
        cells[OFFICER_OTHER] = otto
        return admin_expect(**cells)

    views = {  # the order of ADMIN_MODEL_VIEWS
        "changelist": (no_kwargs, per_role("vc", on_row=False)),
        "add": (no_kwargs, per_role("a", on_row=False)),
        "change": (row, per_role("vc")),
        # Django's history page looks the row up before it asks about permissions.
        "history": (row, per_role("vc", hidden_first=True)),
        "delete": (row, per_role("d")),
    }
    for view, role, answer in model.overrides:
        views[view][1][role] = answer
    return {view: {"": Cell(kwargs, expected)} for view, (kwargs, expected) in views.items()}


ADMIN_MODEL_VIEWS = ("changelist", "add", "change", "history", "delete")
ADMIN_ROUTES: dict[str, dict[str, Cell]] = {
    f"admin:{key}_{view}": cells for key, model in ADMIN_MODELS.items() for view, cells in _admin_cells(model).items()
}

ALL_STAFF_200 = admin_expect(**dict.fromkeys(STAFF, 200))
SUPERUSER_ONLY = {**admin_expect(**dict.fromkeys(STAFF, 403)), ROOT: 200}

ADMIN_ROUTES.update(
    {
        "admin:index": {"": Cell(no_kwargs, ALL_STAFF_200)},
        # Django answers 404 for an app none of whose models the viewer may see.
        "admin:app_list": {
            "evidence": Cell(lambda ids: {"app_label": "evidence"}, {**ALL_STAFF_200, WELFARE: 404, ADMIN: 404}),
            "volunteers": Cell(lambda ids: {"app_label": "volunteers"}, ALL_STAFF_200),
        },
        # Signing in and out go through allauth (MFA, rate limits), never the admin's own forms.
        "admin:login": {"": Cell(no_kwargs, expect(403, anonymous=LOGIN, staff=ADMIN_HOME))},
        # Django sends anyone not staff from the admin's logout to its index (and so on to its login).
        "admin:logout": {"": Cell(no_kwargs, expect(ADMIN_HOME, staff="→/accounts/logout/"))},
        "admin:password_change": {
            "": Cell(no_kwargs, admin_expect(**dict.fromkeys(STAFF, "→/accounts/password/change/")))
        },
        "admin:password_change_done": {"": Cell(no_kwargs, ALL_STAFF_200)},
        "admin:jsi18n": {"": Cell(no_kwargs, ALL_STAFF_200)},
        # Without the widget's query the lookup is refused to everyone.
        "admin:autocomplete": {"": Cell(no_kwargs, admin_expect(**dict.fromkeys(STAFF, 403)))},
        # No model of ours has a public page to jump to.
        "admin:view_on_site": {
            "": Cell(
                lambda ids: {"content_type_id": ids["tasking_ct"], "object_id": ids["active"]},
                admin_expect(**dict.fromkeys(STAFF, 404)),
            )
        },
        # Staff invitations: the scheme administrator invites staff of her scheme (and the superuser).
        "admin:portal_user_invitation_send": {
            "": Cell(
                lambda ids: {"pk": ids["newcomer"]},
                admin_expect(officer=403, officer_other_scheme=404, welfare=403, scheme_admin=200, superuser=200),
            )
        },
        "admin:portal_user_invitation_revoke": {
            "": Cell(
                lambda ids: {"pk": ids["newcomer"]},
                admin_expect(officer=403, officer_other_scheme=404, welfare=403, scheme_admin=200, superuser=200),
            )
        },
        # django-guardian's object-permission screens: closed to all but the platform superuser (else anyone
        # who may change an object could grant rights on it).
        "admin:portal_scheme_permissions": {"": Cell(lambda ids: {"object_pk": ids["lantern"]}, SUPERUSER_ONLY)},
        "admin:portal_scheme_permissions_manage_user": {
            "": Cell(lambda ids: {"object_pk": ids["lantern"], "user_id": ids["vera_user"]}, SUPERUSER_ONLY)
        },
        "admin:portal_scheme_permissions_manage_group": {
            "": Cell(lambda ids: {"object_pk": ids["lantern"], "group_id": ids["group"]}, SUPERUSER_ONLY)
        },
        "admin:training_matrix": {"": Cell(no_kwargs, {**ALL_STAFF_200, WELFARE: 403})},
        "admin:volunteers_volunteer_status": {
            "": Cell(
                lambda ids: {"pk": ids["vera"]},
                admin_expect(officer=200, officer_other_scheme=404, welfare=403, scheme_admin=200, superuser=200),
            )
        },
        "admin:volunteers_volunteer_identity": {
            "": Cell(
                lambda ids: {"pk": ids["vera"]},
                admin_expect(officer=200, officer_other_scheme=404, welfare=403, scheme_admin=200, superuser=200),
            )
        },
        # A disclosure schedule: read by those who may open the tasking, signed by its scheme's officers.
        "admin:evidence_tasking_schedule": {
            "": Cell(
                lambda ids: {"object_id": ids["active"], "schedule": "MG6C"},
                admin_expect(officer=200, officer_other_scheme=404, welfare=404, scheme_admin=404, superuser=200),
            )
        },
        # A deconfliction match: read by the officers of the tasking's scheme (and the superuser, audited).
        "admin:evidence_tasking_deconfliction": {
            "": Cell(
                lambda ids: {"object_id": ids["matched"], "match_id": ids["match"]},
                admin_expect(officer=200, officer_other_scheme=404, welfare=404, scheme_admin=404, superuser=200),
            )
        },
        # The scheme's signed deconfliction set: its supervising officers export it (each their own scheme's).
        "admin:evidence_tasking_deconfliction_set": {
            "": Cell(
                no_kwargs,
                admin_expect(officer=200, officer_other_scheme=200, welfare=403, scheme_admin=403, superuser=403),
            )
        },
        # A partner's set is imported by the platform's superusers only.
        "admin:evidence_partnerinstallation_import": {
            "": Cell(
                lambda ids: {"pk": ids["partner"]},
                admin_expect(officer=403, officer_other_scheme=403, welfare=403, scheme_admin=403, superuser=200),
            )
        },
        "admin:evidence_safeguardingalert_acknowledge": {
            "": Cell(lambda ids: {"pk": ids["alert"]}, admin_expect(**dict.fromkeys(STAFF, 405)))
        },
        "admin:evidence_tasking_request_bundle": {
            "": Cell(lambda ids: {"object_id": ids["active"]}, admin_expect(**dict.fromkeys(STAFF, 405)))
        },
        # Reviewing evidence is the supervising officer's task (DESIGN.md, "Who uses it"); the superuser works
        # across schemes, audited. Welfare never sees evidence.
        "admin:evidence_exhibit_review": {
            "": Cell(
                lambda ids: {"pk": ids["exhibit"]},
                admin_expect(officer=200, officer_other_scheme=404, welfare=403, scheme_admin=403, superuser=200),
            )
        },
        # Opening evidence content: officers of its scheme only.
        "admin:evidence_exhibit_preview": {
            "": Cell(
                lambda ids: {"pk": ids["exhibit"]},
                admin_expect(officer=200, officer_other_scheme=404, welfare=404, scheme_admin=404, superuser=404),
            )
        },
        # Recording a case's outcome, placing and lifting legal holds: supervising officers of the scheme (the
        # superuser reads the records but is no scheme's officer). Whoever cannot see the record is told it does
        # not exist: welfare and the scheme administrator never see taskings, exhibits or holds; the scheme
        # administrator does see the scheme's people, so is refused a hold on one.
        "admin:evidence_tasking_outcome": {
            "": Cell(
                lambda ids: {"object_id": ids["active"]},
                admin_expect(officer=200, officer_other_scheme=404, welfare=404, scheme_admin=404, superuser=403),
            )
        },
        "admin:retention_legalhold_place": {
            "tasking": Cell(
                lambda ids: {"target": "tasking", "target_id": ids["active"]},
                admin_expect(officer=200, officer_other_scheme=404, welfare=404, scheme_admin=404, superuser=403),
            ),
            "exhibit": Cell(
                lambda ids: {"target": "exhibit", "target_id": ids["exhibit"]},
                admin_expect(officer=200, officer_other_scheme=404, welfare=404, scheme_admin=404, superuser=403),
            ),
            "person": Cell(
                lambda ids: {"target": "person", "target_id": ids["vera_user"]},
                admin_expect(officer=200, officer_other_scheme=404, welfare=404, scheme_admin=403, superuser=403),
            ),
        },
        "admin:retention_legalhold_lift": {
            "": Cell(
                lambda ids: {"pk": ids["hold"]},
                admin_expect(officer=200, officer_other_scheme=404, welfare=404, scheme_admin=404, superuser=403),
            )
        },
        # Disposal: the review list and proposing, supervising officers of the scheme; deciding, another officer
        # (the proposer may only withdraw). Whoever cannot see the exhibit or the proposal is told it does not exist.
        "admin:retention_disposal_review": {
            "": Cell(
                no_kwargs,
                admin_expect(officer=200, officer_other_scheme=200, welfare=403, scheme_admin=403, superuser=403),
            )
        },
        "admin:retention_disposal_propose": {
            "": Cell(
                lambda ids: {"exhibit_id": ids["exhibit"]},
                admin_expect(officer=200, officer_other_scheme=404, welfare=404, scheme_admin=404, superuser=403),
            )
        },
        "admin:retention_disposal_decide": {
            "": Cell(
                lambda ids: {"pk": ids["proposal"]},
                admin_expect(officer=200, officer_other_scheme=404, welfare=404, scheme_admin=404, superuser=403),
            )
        },
        # People's records: the review list for officers (vetting, training) and welfare officers (welfare) of
        # any scheme, each seeing their own scheme's; proposing and deciding, only those who decide that kind in
        # the person's scheme (everyone else is told it does not exist); the welfare certificate, welfare only.
        "admin:retention_disposal_review_people": {
            "": Cell(
                no_kwargs,
                admin_expect(officer=200, officer_other_scheme=200, welfare=200, scheme_admin=403, superuser=403),
            )
        },
        "admin:retention_person_disposal_propose": {
            "": Cell(
                lambda ids: {"person_id": ids["nadia_user"], "kind": "vetting"},
                admin_expect(officer=200, officer_other_scheme=404, welfare=404, scheme_admin=404, superuser=404),
            )
        },
        "admin:retention_person_disposal_decide": {
            "": Cell(
                lambda ids: {"pk": ids["person_proposal"]},
                admin_expect(officer=200, officer_other_scheme=404, welfare=404, scheme_admin=404, superuser=404),
            )
        },
        "admin:retention_persontombstone_certificate": {
            "": Cell(
                lambda ids: {"pk": ids["person_tombstone"]},
                admin_expect(officer=404, officer_other_scheme=404, welfare=200, scheme_admin=404, superuser=404),
            )
        },
        # A disposal's signed certificate: whoever reads the tombstone (the scheme's officers; the platform's
        # superuser, who reads every tombstone); everyone else is told it does not exist.
        "admin:retention_tombstone_certificate": {
            "": Cell(
                lambda ids: {"pk": ids["tombstone"]},
                admin_expect(officer=200, officer_other_scheme=404, welfare=404, scheme_admin=404, superuser=200),
            )
        },
    }
)

# One admin row of Harbour's, the other way round: Lantern's staff are told it does not exist.
ADMIN_ROUTES["admin:evidence_tasking_change"]["harbour"] = Cell(
    lambda ids: {"object_id": ids["harbour_tasking"]},
    admin_expect(officer=ADMIN_HOME, officer_other_scheme=200, welfare=403, scheme_admin=403, superuser=200),
)

MATRIX: dict[str, dict[str, Cell]] = {**PORTAL, **ADMIN_ROUTES}

# Routes deliberately left out of the matrix, each with the reason. Keys are route names, or the route's
# pattern for the unnamed ones.
EXCLUDED: dict[str, str] = {
    # allauth's own sign-in machinery: each page acts only on the signed-in person's own account (or on a
    # one-time key sent by e-mail); MFA enforcement on them is tested in test_mfa_enforcement.py.
    **dict.fromkeys(
        [
            "account_logout",
            "account_inactive",
            "account_reauthenticate",
            "account_email",
            "account_email_verification_sent",
            "account_change_password",
            "account_set_password",
            "account_reset_password",
            "account_confirm_login_code",
            "account_confirm_email",
            "account_reset_password_from_key_done",
            "account_reset_password_from_key",
            "account_reset_password_done",
            "mfa_authenticate",
            "mfa_reauthenticate",
            "mfa_activate_totp",
            "mfa_deactivate_totp",
            "mfa_view_recovery_codes",
            "mfa_generate_recovery_codes",
            "mfa_download_recovery_codes",
            "mfa_list_webauthn",
            "mfa_add_webauthn",
            "mfa_reauthenticate_webauthn",
            "mfa_remove_webauthn",
            "mfa_edit_webauthn",
        ],
        "allauth's own account flow for the signed-in person's account",
    ),
    # Django's admin: the old-style "<object_id>/" URL only redirects to "<object_id>/change/" (tried
    # above for every model), and the catch-all answers unknown admin URLs.
    "admin/(?P<url>.*)$": "Django admin's catch-all for unknown URLs (404, or login for the signed-out)",
}
ADMIN_OBJECT_REDIRECT = re.compile(r"^admin/[a-z_]+/[a-z_]+/<path:object_id>/$")


# --- the URLconf, walked -----------------------------------------------------------------------------------


def every_route() -> list[tuple[str | None, str]]:
    """(name with its namespace, full pattern) of every URL the portal serves, the admin's included."""
    found = []

    def walk(resolver: URLResolver, prefix: str, namespace: str) -> None:
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}:{pattern.namespace}" if namespace and pattern.namespace else pattern.namespace
                walk(pattern, prefix + str(pattern.pattern), inner or namespace)
            elif isinstance(pattern, URLPattern):
                name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
                found.append((name, prefix + str(pattern.pattern)))

    walk(get_resolver(), "", "")
    return found


def is_excluded(name: str | None, pattern: str) -> bool:
    return (name or pattern) in EXCLUDED or (name is None and bool(ADMIN_OBJECT_REDIRECT.match(pattern)))


def test_every_route_has_an_entry():
    missing = [
        f"{name or '(unnamed)'}  {pattern}"
        for name, pattern in every_route()
        if name not in MATRIX and not is_excluded(name, pattern)
    ]
    assert not missing, (
        "Routes with no entry in the permission matrix (add them to MATRIX, or to EXCLUDED with a reason):\n"
        + "\n".join(missing)
    )


def test_every_entry_is_a_route_and_every_admin_model_is_in_the_matrix():
    names = {name for name, _ in every_route()}
    stale = sorted(set(MATRIX) - names) + sorted(key for key in EXCLUDED if key not in names and "(" not in key)
    assert not stale, f"Entries for routes that no longer exist: {stale}"
    registered = {f"{m._meta.app_label}_{m._meta.model_name}" for m in admin.site._registry}
    assert registered == set(ADMIN_MODELS), (
        f"not in ADMIN_MODELS: {sorted(registered - set(ADMIN_MODELS))}; "
        f"no longer registered: {sorted(set(ADMIN_MODELS) - registered)}"
    )


# --- the matrix, tried -----------------------------------------------------------------------------------

# Cells where the product disagrees with DESIGN.md: (route, state, role) -> why. Tried by test_known_finding
# as strict xfails; skipped by test_route so that the rest of each row is still checked.


@dataclass(frozen=True)
class Stream:
    """A raw request body with its headers (the JavaScript upload path)."""

    body: bytes
    headers: dict


def outcome(client: Client, url: str, method: str = "get", role: str = "", data: dict | Stream | None = None) -> object:
    """The status, or for a redirect "→path" (without its query); "clinical notes shown" if the page
    shows a clinical note to anyone but the welfare officer."""
    if method == "get":
        response = client.get(url)
    elif isinstance(data, Stream):
        response = client.post(url, data.body, content_type="application/octet-stream", headers=data.headers)
    else:
        response = client.post(url, data or {})
    # Read a file to its end: the test client then closes it without closing the database connection.
    body = b"".join(response.streaming_content) if response.streaming else response.content
    if role != WELFARE and CLINICAL.encode() in body:
        return "clinical notes shown"
    if role in OUTSIDERS and OPERATION.search(body):
        return "Lantern's operation named"
    if role in NOT_VERAS and VERAS_WORK.search(body):
        return "Vera's work shown"
    if response.status_code in (301, 302, 303, 307, 308):
        target = response["Location"].split("?", 1)[0]
        return f"→{target}"
    return response.status_code


def _expected(value: object, ids: dict) -> object:
    return value.format(**ids) if isinstance(value, str) else value


MODEL_PAGES = {f"admin:{key}_{view}": key for key in ADMIN_MODELS for view in ADMIN_MODEL_VIEWS}
# Django wraps each ModelAdmin's own five pages in the admin's gate (AdminSite.admin_view), which asks only
# whether the person is active staff: to it every volunteer is alike, and every court recipient. Those
# pages are tried with one of each (plus the signed-out) — except the first model's, where all are tried
# to show that the gate treats them alike. Every other page, custom admin pages included (a custom URL
# is where a forgotten admin_view would show), is tried by every role.
GATE_ALIKE = (
    V_COLLEAGUE,
    V_UNASSIGNED,
    V_OTHER,
    V_STOOD_DOWN,
    COURT_NONE,
    COURT_REVOKED,
    COURT_EXPIRED,
    DECON_OTHER,
)
GATE_SHOWN_ON = "portal_user"


def roles_for(name: str) -> tuple[str, ...]:
    if MODEL_PAGES.get(name, GATE_SHOWN_ON) == GATE_SHOWN_ON:
        return ROLES
    return tuple(role for role in ROLES if role not in GATE_ALIKE)


def _groups() -> dict[str, list[tuple[str, str]]]:
    """One test per route (all its object states), and one per admin model (its five pages): few enough
    tests that their set-up costs little, small enough that a failure names the page."""
    model_pages = MODEL_PAGES
    groups: dict[str, list[tuple[str, str]]] = {}
    for name, states in MATRIX.items():
        group = f"admin:{model_pages[name]}" if name in model_pages else name
        groups.setdefault(group, []).extend((name, state) for state in states)
    return groups


GROUPS = _groups()


@pytest.mark.parametrize("group", list(GROUPS))
def test_route(world, world_storage, db, group):
    wrong = []
    for name, state in GROUPS[group]:
        cell = MATRIX[name][state]
        url = reverse(name, kwargs=cell.kwargs(world.ids) or None)
        for role in roles_for(name):
            want = _expected(cell.expected[role], world.ids)
            got = outcome(world.clients[role], url, cell.method, role)
            if got != want:
                wrong.append(f"  {cell.method.upper()} {url}  {role:26} expected {want!s:24} got {got}")
    assert not wrong, "Cells that differ from the design:\n" + "\n".join(wrong)


# --- actions: POSTs by everyone, and what they changed -------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """A POST tried by every role: the answer each must get, and a probe of the state it may change. Only
    the roles in `acts` change it; for everyone else the probe reads the same after their attempt."""

    url: Callable[[dict], str]
    data: dict | Stream
    expected: dict[str, object]
    probe: Callable[[dict], object]
    acts: tuple[str, ...] = ()


def _count(model_label: str, **lookup) -> Callable[[dict], object]:
    from django.apps import apps

    def probe(ids: dict) -> object:
        return (
            apps.get_model(model_label)
            ._default_manager.filter(**{key: ids[value] for key, value in lookup.items()})
            .count()
        )

    return probe


def _field(model_label: str, key: str, field: str) -> Callable[[dict], object]:
    from django.apps import apps

    def probe(ids: dict) -> object:
        return apps.get_model(model_label)._default_manager.values_list(field, flat=True).get(pk=ids[key])

    return probe


STREAM_METADATA = quote(
    json.dumps(
        {
            "description": "Chat export, part 3",
            "platform": "Platform X",
            "other_party": "dave_77",
            "captured_at": "2026-01-02 14:05",
            "capture_method": "Platform export",
        }
    )
)
ADMIN_REFUSED = expect(ADMIN_LOGIN)  # not staff: the admin's gate answers before the page does

ACTIONS: dict[str, Action] = {
    # Only assigned, deployable volunteers add notes; stood down, she is told why and nothing is added.
    "note_add": Action(
        lambda ids: reverse("note_add", args=[ids["active"]]),
        {"text": "Seen at 20:15."},
        signed_in(
            404,
            volunteer_assigned="→/taskings/{active}/notes/",
            volunteer_same_tasking="→/taskings/{active}/notes/",
            volunteer_not_deployable="→/taskings/{active}/notes/",
        ),
        _count("evidence.ContemporaneousNote", tasking_id="active"),
        acts=(V_ASSIGNED, V_COLLEAGUE),
    ),
    # Never refused to anyone assigned, deployable or not; nobody else may raise one on this tasking.
    "safeguarding_raise": Action(
        lambda ids: reverse("safeguarding_raise", args=[ids["active"]]),
        {"note": "She said she is 12."},
        signed_in(
            404,
            volunteer_assigned="→/taskings/{active}/",
            volunteer_same_tasking="→/taskings/{active}/",
            volunteer_not_deployable="→/taskings/{active}/",
        ),
        _count("evidence.SafeguardingAlert", tasking_id="active"),
        acts=(V_ASSIGNED, V_COLLEAGUE, V_STOOD_DOWN),
    ),
    "statement_discard": Action(
        lambda ids: reverse("statement_discard", args=[ids["active"], ids["draft"]]),
        {},
        signed_in(404, volunteer_assigned="→/taskings/{active}/statements/", volunteer_not_deployable=403),
        _field("evidence.Statement", "draft", "state"),
        acts=(V_ASSIGNED,),
    ),
    "exhibit_stream": Action(
        lambda ids: reverse("exhibit_stream", args=[ids["active"]]),
        Stream(CHAT * 3, {"X-Exhibit-Metadata": STREAM_METADATA, "X-File-Name": "chat-3.txt"}),
        signed_in(404, volunteer_assigned=201, volunteer_same_tasking=201, volunteer_not_deployable=403),
        _count("evidence.Exhibit", tasking_id="active"),
        acts=(V_ASSIGNED, V_COLLEAGUE),
    ),
    # Retrying is for officers of the bundle's scheme (this build has not failed: nothing to send again).
    "bundle_retry": Action(
        lambda ids: reverse("bundle_retry", args=[ids["building"]]),
        {},
        signed_in(404, officer="→/bundles/{building}/"),
        _field("evidence.HandoverBundle", "building", "state"),
    ),
    "welfare_stand_down": Action(
        lambda ids: reverse("welfare_stand_down", args=[ids["vera_user"]]),
        {"detail": "After a distressing chat."},
        signed_in(403, welfare="→/welfare/people/{vera_user}/"),
        _count("volunteers.StandDown", person_id="vera_user"),
        acts=(WELFARE,),
    ),
    "admin:evidence_safeguardingalert_acknowledge": Action(
        lambda ids: reverse("admin:evidence_safeguardingalert_acknowledge", args=[ids["alert"]]),
        {},
        {
            **ADMIN_REFUSED,
            OFFICER: "→/admin/evidence/safeguardingalert/",
            OFFICER_OTHER: 404,
            WELFARE: 403,
            ADMIN: 403,
            ROOT: "→/admin/evidence/safeguardingalert/",
        },
        _field("evidence.SafeguardingAlert", "alert", "acknowledged_at"),
        acts=(OFFICER, ROOT),
    ),
    # A bundle is requested by a supervising officer of the tasking's scheme (one is already building, so
    # even his request adds none).
    "admin:evidence_tasking_request_bundle": Action(
        lambda ids: reverse("admin:evidence_tasking_request_bundle", args=[ids["active"]]),
        {},
        {**ADMIN_REFUSED, OFFICER: "→/bundles/{building}/", OFFICER_OTHER: 404, WELFARE: 403, ADMIN: 403, ROOT: 403},
        _count("evidence.HandoverBundle", tasking_id="active"),
    ),
    # The disclosure officer's signature: a supervising officer of the tasking's scheme (the superuser works
    # across schemes but is no scheme's disclosure officer). Only the officer is asked for his password again
    # (the act itself, tested with the password in test_bundle_parts.py); the others are refused outright.
    "admin:evidence_tasking_schedule": Action(
        lambda ids: reverse("admin:evidence_tasking_schedule", args=[ids["active"], "MG6C"]),
        {"digest": "not-what-the-page-showed"},
        {
            **ADMIN_REFUSED,
            OFFICER: "→/accounts/reauthenticate/",
            OFFICER_OTHER: 404,
            WELFARE: 404,
            ADMIN: 404,
            ROOT: 403,
        },
        _count("evidence.ScheduleSignature", tasking_id="active"),
    ),
    # Its resolution: the tasking's controller only, after his password again (the act itself is tested with
    # the password in test_deconfliction.py); the superuser is no tasking's controller.
    "admin:evidence_tasking_deconfliction": Action(
        lambda ids: reverse("admin:evidence_tasking_deconfliction", args=[ids["matched"], ids["match"]]),
        {"outcome": "proceed", "reasons": "Agreed with the other owner."},
        {
            **ADMIN_REFUSED,
            OFFICER: "→/accounts/reauthenticate/",
            OFFICER_OTHER: 404,
            WELFARE: 404,
            ADMIN: 404,
            ROOT: 403,
        },
        _field("evidence.DeconflictionMatch", "match", "resolved_at"),
    ),
    # A force's register: changed by its own deconfliction officers only; another force's is told the entry
    # does not exist, everyone else that the pages are not theirs.
    "deconfliction_entry": Action(
        lambda ids: reverse("deconfliction_entry", args=[ids["entry"]]),
        {},
        signed_in(403, deconfliction="→/deconfliction/entries/{entry}/", deconfliction_other_force=404),
        _field("evidence.RegisterEntry", "entry", "withdrawn_at"),
        acts=(DECON,),
    ),
    "deconfliction_add": Action(
        lambda ids: reverse("deconfliction_add"),
        {
            "identity": "+44 7700 900555",
            "reference": "NS-2",
            "owner": "{dora}",
            "review_on_0": "1",
            "review_on_1": "1",
            "review_on_2": str(timezone.localdate().year + 1),
            "expires_on_0": "2",
            "expires_on_1": "1",
            "expires_on_2": str(timezone.localdate().year + 1),
        },
        # Sid's form offers only his own force's officers: Dora is not a choice for him (the form again, 200).
        signed_in(403, deconfliction="→/deconfliction/entries/*/", deconfliction_other_force=200),
        _count("evidence.RegisterEntry"),
        acts=(DECON,),
    ),
    # The force's side of a match: after the password again (the act itself: test_deconfliction_register.py).
    "deconfliction_match": Action(
        lambda ids: reverse("deconfliction_match", args=[ids["register_match"]]),
        {"agreement": "Agreed by phone."},
        signed_in(403, deconfliction="→/accounts/reauthenticate/", deconfliction_other_force=404),
        _field("evidence.DeconflictionMatch", "register_match", "agreed_at"),
    ),
    "admin:volunteers_volunteer_identity": Action(
        lambda ids: reverse("admin:volunteers_volunteer_identity", args=[ids["vera"]]),
        {"protected": "on", "pseudonym": "Witness Kestrel", "reason": "Risk of reprisal."},
        {
            **ADMIN_REFUSED,
            OFFICER: "→/admin/volunteers/volunteer/{vera}/change/",
            OFFICER_OTHER: 404,
            WELFARE: 403,
            ADMIN: "→/admin/volunteers/volunteer/{vera}/change/",
            ROOT: "→/admin/volunteers/volunteer/{vera}/change/",
        },
        _field("volunteers.Volunteer", "vera", "pseudonym"),
        acts=(OFFICER, ADMIN, ROOT),
    ),
    "admin:volunteers_volunteer_status": Action(
        lambda ids: reverse("admin:volunteers_volunteer_status", args=[ids["vera"]]),
        {"to": "suspended", "reason": "Under investigation."},
        {
            **ADMIN_REFUSED,
            OFFICER: "→/admin/volunteers/volunteer/{vera}/change/",
            OFFICER_OTHER: 404,
            WELFARE: 403,
            ADMIN: "→/admin/volunteers/volunteer/{vera}/change/",
            ROOT: "→/admin/volunteers/volunteer/{vera}/change/",
        },
        _field("volunteers.Volunteer", "vera", "status"),
        acts=(OFFICER, ADMIN, ROOT),
    ),
    # What became of the case, a legal hold placed, a legal hold lifted: supervising officers of the scheme only.
    "admin:evidence_tasking_outcome": Action(
        lambda ids: reverse("admin:evidence_tasking_outcome", args=[ids["active"]]),
        {"outcome": "nfa", "decided_on": timezone.localdate().isoformat()},
        {
            **ADMIN_REFUSED,
            OFFICER: "→/admin/evidence/tasking/{active}/change/",
            OFFICER_OTHER: 404,
            WELFARE: 404,
            ADMIN: 404,
            ROOT: 403,
        },
        _count("retention.CaseOutcome", tasking_id="active"),
        acts=(OFFICER,),
    ),
    "admin:retention_legalhold_place": Action(
        lambda ids: reverse("admin:retention_legalhold_place", args=["tasking", ids["active"]]),
        {"kind": "civil_claim", "reason": "A claim against the force.", "review_on": timezone.localdate().isoformat()},
        {
            **ADMIN_REFUSED,
            OFFICER: "→/admin/evidence/tasking/{active}/change/",
            OFFICER_OTHER: 404,
            WELFARE: 404,
            ADMIN: 404,
            ROOT: 403,
        },
        _count("retention.LegalHold"),
        acts=(OFFICER,),
    ),
    "admin:retention_legalhold_lift": Action(
        lambda ids: reverse("admin:retention_legalhold_lift", args=[ids["hold"]]),
        {"reason": "The appeal was dismissed."},
        {
            **ADMIN_REFUSED,
            OFFICER: "→/admin/evidence/tasking/{active}/change/",
            OFFICER_OTHER: 404,
            WELFARE: 404,
            ADMIN: 404,
            ROOT: 403,
        },
        _field("retention.LegalHold", "hold", "lifted_at"),
        acts=(OFFICER,),
    ),
}


@pytest.mark.parametrize("name", list(ACTIONS))
def test_action(world, world_storage, db, name):
    action = ACTIONS[name]
    url = action.url(world.ids)
    wrong = []
    for role in ROLES:
        # Each attempt in a savepoint of its own, rolled back: every role starts from the same state.
        with transaction.atomic():
            before = action.probe(world.ids)
            data = action.data
            if isinstance(data, dict):  # values may name the world's ids: {"owner": "{dora}"}
                data = {key: _expected(value, world.ids) for key, value in data.items()}
            got = outcome(world.clients[role], url, "post", role, data)
            changed = action.probe(world.ids) != before
            transaction.set_rollback(True)
        want = _expected(action.expected[role], world.ids)
        # A redirect to a row created by the request names an id not known before: "*" stands for it.
        alike = got == want or (isinstance(want, str) and "*" in want and fnmatch(str(got), want))
        if not alike or changed != (role in action.acts):
            wrong.append(f"  {role:26} expected {want!s:32} got {got}; changed: {changed}")
    assert not wrong, f"POST {url}:\n" + "\n".join(wrong)


def test_nobody_signs_up_without_an_invitation(world, world_storage, db):
    from portal.models import User

    before = User.objects.count()
    data = {"email": "eve@example.com", "password1": PASSWORD, "password2": PASSWORD}
    response = FastClient().post(reverse("account_signup"), data)
    assert response.status_code in (200, 403)
    assert User.objects.count() == before
