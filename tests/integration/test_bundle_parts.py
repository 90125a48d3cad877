"""A bundle is two signed parts. The served bundle, which may reach a court and the defence, carries no
tradecraft: no authorisation detail, persona or permitted conduct, no MG6D, and no true name or e-mail of
an identity-protected witness anywhere in it (pages, embedded statements, manifest). The sensitive part,
for the CPS only, carries exactly those and names the served PDF it accompanies. Sharing decides who gets
which; each verifier recognises both. The disclosure officer signs each schedule by an explicit act after
re-authentication; a changed schedule must be signed again."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone
from pypdf import PdfReader

from evidence import bundles, services
from evidence.disclosure import schedule_digest, schedule_items, schedule_sign
from evidence.models import BundleAccess, ScheduleSignature
from evidence.statements import statement_save_draft, statement_sign
from evidence.verify import verify
from portal.models import AuditEvent
from tests.conftest import make_person
from tests.integration import bundle_helpers
from tests.integration.bundle_helpers import (
    CHAT,
    make_ready,
    sign_schedules,
    stored_bytes,
    submit_exhibit,
)
from tests.integration.test_bundle_verify_page import _login, _verify

signing_key = bundle_helpers.signing_key

# What the served part must never print: the authorisation, the persona, the permitted conduct (all from
# the tasking fixture) and the MG6D item recorded below.
TRADECRAFT = [
    "AUTH-OP-LANTERN-1",
    "Supt Sarah Grant",
    "from Leeds",
    "Respond only; never initiate",
    "persona handle list",
    "MG6D item: the persona's photograph",
    "Shows the decoy's photograph",
]
PSEUDONYM = "Witness Kestrel"


def _text(pdf: bytes) -> str:
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages)


def _attachments(pdf: bytes) -> dict[str, bytes]:
    return {name: data[0] for name, data in PdfReader(io.BytesIO(pdf)).attachments.items()}


def _everything_served(pdf: bytes) -> str:
    """Every word a served bundle carries: its pages, each embedded statement's pages, and its manifest."""
    parts = [_text(pdf)]
    for name, data in _attachments(pdf).items():
        parts.append(_text(data) if name.endswith(".pdf") else data.decode("utf-8", errors="replace"))
    return "\n".join(parts)


def _with_mg6d(tasking, volunteer_user, officer, folder):
    tasking.persona_handles = "persona handle list"
    tasking.save(update_fields=["persona_handles"])
    spare = submit_exhibit(volunteer_user, tasking, folder, "photo.txt", CHAT * 2, "text/plain")
    services.exhibit_review(
        exhibit=spare,
        decision="unused",
        schedule="MG6D",
        reason="Shows the decoy's photograph",
        unused_description="MG6D item: the persona's photograph",
        by=officer,
    )


@pytest.fixture
def two_parts(assigned_vera, tasking, owen, signing_key, tmp_path):
    _with_mg6d(tasking, assigned_vera.user, owen, tmp_path)
    make_ready(tasking, assigned_vera.user, owen, tmp_path)
    return bundles.bundle_build(bundles.bundle_request(tasking=tasking, by=owen))


def test_the_served_part_carries_no_tradecraft_and_the_sensitive_part_carries_it_all(two_parts, signing_key):
    served, sensitive = stored_bytes(two_parts.pdf_name), stored_bytes(two_parts.sensitive_pdf_name)
    everything = _everything_served(served)
    leaked = [secret for secret in TRADECRAFT if secret in everything]
    assert not leaked, f"the served bundle prints {leaked}"
    assert "Identify adults grooming." in everything  # the case summary is still there, without tradecraft
    text = _text(sensitive)
    missing = [secret for secret in TRADECRAFT if secret not in text]
    assert not missing, f"the sensitive part lacks {missing}"
    assert "FOR THE CPS ONLY" in text and two_parts.pdf_sha256 in text.replace(" ", "")

    for pdf, part in ((served, "served"), (sensitive, "sensitive")):
        report = verify(pdf, signing_key)
        assert report.ok, report.failure
        assert ("part", part) in report.case
    report = verify(sensitive, signing_key)
    assert report.manifest["served"]["sha256"] == two_parts.pdf_sha256 and report.manifest["files"] == []
    assert any("sensitive part" in check and two_parts.pdf_sha256 in check for check in report.checks)
    assert two_parts.sensitive_page_count == len(PdfReader(io.BytesIO(sensitive)).pages)
    assert json.loads(_attachments(served)["manifest.json"])["part"] == "served"


def test_an_identity_protected_witness_is_named_only_by_the_pseudonym(
    assigned_vera, tasking, owen, signing_key, tmp_path
):
    from volunteers.services import identity_protection_set

    vera = assigned_vera.user
    identity_protection_set(
        volunteer=assigned_vera, protected=True, pseudonym=PSEUDONYM, by=owen, reason="Risk of reprisal."
    )
    make_ready(tasking, vera, owen, tmp_path)
    bundle = bundles.bundle_build(bundles.bundle_request(tasking=tasking, by=owen))
    served = stored_bytes(bundle.pdf_name)
    everything = _everything_served(served)
    for secret in ("Vera", "Deploy", vera.email):
        assert secret not in everything, f"the served bundle names the protected witness: {secret}"
    assert PSEUDONYM in everything
    # Exhibit references take the pseudonym's initials, unique in the scheme, not the witness's own.
    assert sorted(tasking.exhibits.values_list("reference", flat=True)) == ["WK/1", "WK/2"]
    sensitive = _text(stored_bytes(bundle.sensitive_pdf_name))
    assert PSEUDONYM in sensitive and "Vera Deploy" in sensitive and vera.email in sensitive.replace(" ", "")


def test_a_statement_signed_under_the_true_name_before_protection_cannot_be_served(
    assigned_vera, tasking, owen, signing_key, tmp_path
):
    from volunteers.services import identity_protection_set

    make_ready(tasking, assigned_vera.user, owen, tmp_path)
    identity_protection_set(
        volunteer=assigned_vera, protected=True, pseudonym=PSEUDONYM, by=owen, reason="Risk of reprisal."
    )
    with pytest.raises(bundles.BundleRefused) as refused:
        bundles.bundle_request(tasking=tasking, by=owen)
    (line,) = refused.value.missing
    assert line.startswith(f"A statement by {PSEUDONYM} signed ") and "now identity-protected" in line
    assert "Vera" not in line
    # A further statement under the pseudonym does not cure the first: it would still be served.
    statement = statement_save_draft(tasking=tasking, author=assigned_vera.user, body="Further.", exhibit_ids=[])
    assert statement_sign(statement=statement, by=assigned_vera.user).signed_as == PSEUDONYM
    assert len(bundles.bundle_missing(tasking)) == 1


@pytest.mark.parametrize(
    ("pseudonym", "reason", "says"),
    [
        ("", "Risk.", "Give the pseudonym"),
        ("Vera Deploy", "Risk.", "must not be the volunteer's own name"),
        (PSEUDONYM, " ", "Give a reason"),
    ],
)
def test_identity_protection_is_refused_without_what_it_needs(assigned_vera, owen, pseudonym, reason, says):
    from volunteers.services import identity_protection_set

    with pytest.raises(ValidationError) as refused:
        identity_protection_set(volunteer=assigned_vera, protected=True, pseudonym=pseudonym, by=owen, reason=reason)
    assert says in " ".join(refused.value.messages)


def test_two_volunteers_cannot_share_a_pseudonym(assigned_vera, lantern, owen):
    from portal import roles
    from volunteers.models import Volunteer
    from volunteers.services import identity_protection_set

    other = Volunteer.objects.create(user=make_person("pat@lantern.example", roles.VOLUNTEER, lantern), scheme=lantern)
    identity_protection_set(volunteer=assigned_vera, protected=True, pseudonym=PSEUDONYM, by=owen, reason="Risk.")
    with pytest.raises(ValidationError, match="already uses that pseudonym"):
        identity_protection_set(volunteer=other, protected=True, pseudonym=PSEUDONYM.upper(), by=owen, reason="R.")
    assert AuditEvent.objects.filter(action="volunteer.identity_protection").count() == 1


# --- sharing: a court gets the served part only ---------------------------------------------------------------


def _cps():
    """A court / CPS recipient recorded as a CPS prosecutor."""
    from portal import roles

    person = make_person("pat@cps.example", roles.COURT, None)
    person.recipient_kind = person.RecipientKind.CPS
    person.save(update_fields=["recipient_kind"])
    return person


def test_a_court_share_gives_the_served_part_only_and_a_cps_share_both(two_parts, carla, owen, otto, vera, client):

    cps = _cps()
    until = timezone.now() + timedelta(days=7)
    services.bundle_share(bundle=two_parts, recipient=carla, until=until, by=owen)  # served, by default
    services.bundle_share(bundle=two_parts, recipient=cps, until=until, by=owen, parts="both")
    sensitive_url = f"/bundles/{two_parts.pk}/sensitive/download/"

    _login(client, carla)
    assert client.get(f"/bundles/{two_parts.pk}/download/").status_code == 200
    assert client.get(sensitive_url).status_code == 404
    inbox = client.get("/bundles/").content.decode()
    assert "Download sensitive part" not in inbox and sensitive_url not in inbox
    client.logout()

    _login(client, cps)
    inbox = client.get("/bundles/").content.decode()
    assert sensitive_url in inbox and "for the prosecutor only" in inbox
    response = client.get(sensitive_url)
    assert response.status_code == 200 and "sensitive-CPS-only" in response["Content-Disposition"]
    assert b"".join(response.streaming_content) == stored_bytes(two_parts.sensitive_pdf_name)
    assert BundleAccess.objects.filter(user=cps, part="sensitive").count() == 1
    share = two_parts.shares.get(recipient=cps)
    services.bundle_share_revoke(share=share, by=owen)
    assert client.get(sensitive_url).status_code == 404
    client.logout()

    _login(client, otto)  # another scheme's officer
    assert client.get(sensitive_url).status_code == 404
    client.logout()
    client.force_login(vera)  # a volunteer
    assert client.get(sensitive_url).status_code == 404


def test_an_expired_cps_share_no_longer_gives_the_sensitive_part(two_parts, owen):
    from evidence.policy import may_download_sensitive_part

    cps = _cps()
    until = timezone.now() + timedelta(days=1)
    services.bundle_share(bundle=two_parts, recipient=cps, until=until, by=owen, parts="both")
    assert may_download_sensitive_part(cps, two_parts)
    assert not may_download_sensitive_part(cps, two_parts, at=until + timedelta(seconds=1))


def test_only_a_cps_prosecutor_can_be_given_the_sensitive_part(two_parts, carla, owen):
    until = timezone.now() + timedelta(days=1)
    for kind, says in (
        ("", "is not recorded as one"),
        ("court", "receives bundles for a court"),
        ("defence", "for the defence"),
    ):
        carla.recipient_kind = kind
        carla.save(update_fields=["recipient_kind"])
        with pytest.raises(ValidationError, match=says):
            services.bundle_share(bundle=two_parts, recipient=carla, until=until, by=owen, parts="both")
    assert not two_parts.shares.exists()


def test_a_recipient_no_longer_recorded_as_cps_loses_the_sensitive_part_at_once(two_parts, owen, client):
    from evidence.policy import may_download_sensitive_part

    cps = _cps()
    services.bundle_share(
        bundle=two_parts, recipient=cps, until=timezone.now() + timedelta(days=1), by=owen, parts="both"
    )
    assert may_download_sensitive_part(cps, two_parts)
    cps.recipient_kind = cps.RecipientKind.DEFENCE  # recorded wrongly, corrected by the platform administrator
    cps.save(update_fields=["recipient_kind"])
    assert not may_download_sensitive_part(cps, two_parts)
    _login(client, cps)
    assert client.get(f"/bundles/{two_parts.pk}/sensitive/download/").status_code == 404
    assert client.get(f"/bundles/{two_parts.pk}/download/").status_code == 200  # the served part is still theirs


def test_a_share_must_say_which_parts(two_parts, carla, owen):
    with pytest.raises(ValidationError, match="served bundle only, or both parts"):
        services.bundle_share(
            bundle=two_parts, recipient=carla, until=timezone.now() + timedelta(days=1), by=owen, parts="all"
        )


def test_the_verifiers_recognise_the_sensitive_part(two_parts, signing_key, owen, carla, client, tmp_path):
    path = tmp_path / "sensitive.pdf"
    path.write_bytes(stored_bytes(two_parts.sensitive_pdf_name))
    out = io.StringIO()
    call_command("verify_bundle", str(path), "--cert", signing_key, stdout=out)
    assert "the sensitive part of bundle" in out.getvalue()
    assert "it names the served bundle the portal issued with it" in out.getvalue()

    # The verify page compares it with the portal's record only for someone who may hold it.
    services.bundle_share(bundle=two_parts, recipient=carla, until=timezone.now() + timedelta(days=1), by=owen)
    _login(client, carla)
    page = _verify(client, path.read_bytes(), "sensitive.pdf").content.decode()
    assert "is the file the portal issued" not in page
    client.logout()
    _login(client, owen)
    page = _verify(client, path.read_bytes(), "sensitive.pdf").content.decode()
    assert "is the file the portal issued" in page


def test_a_re_signed_sensitive_part_pointing_elsewhere_is_not_one_the_portal_issued(two_parts, signing_key, tmp_path):
    """An insider with the key signs a sensitive part whose manifest names another served bundle: it verifies
    on its own, and `verify_bundle` says the portal never issued it."""
    from evidence.bundles.plan import bundle_plan
    from evidence.bundles.sensitive import write_sensitive

    forged, _pages = write_sensitive(
        two_parts, bundle_plan(two_parts), served_sha256="0" * 64, folder=tmp_path, token="x"
    )
    assert verify(forged.read_bytes(), signing_key).ok  # genuinely signed, by an insider with the key
    path = tmp_path / "forged.pdf"
    path.write_bytes(forged.read_bytes())
    with pytest.raises(CommandError, match="issued no bundle with this SHA-256"):
        call_command("verify_bundle", str(path), "--cert", signing_key, stdout=io.StringIO())


# --- the disclosure officer signs each schedule -----------------------------------------------------------------


def test_a_schedule_changed_after_signing_must_be_signed_again(assigned_vera, tasking, owen, tmp_path, signing_key):
    make_ready(tasking, assigned_vera.user, owen, tmp_path)
    assert bundles.bundle_missing(tasking) == []
    _with_mg6d(tasking, assigned_vera.user, owen, tmp_path)
    (line,) = bundles.bundle_missing(tasking)
    assert line.startswith("The MG6D schedule has changed since the disclosure officer signed it")
    sign_schedules(tasking, owen)
    bundle = bundles.bundle_build(bundles.bundle_request(tasking=tasking, by=owen))
    signed = ScheduleSignature.objects.filter(tasking=tasking, schedule="MG6D").latest("signed_at")
    assert bundle.plan["schedules"]["MG6D"]["items"] == signed.items and len(signed.items) == 1
    text = _text(stored_bytes(bundle.sensitive_pdf_name))
    assert "Signed electronically, after re-authentication in the portal, by Owen" in text
    assert "disclosure officer" in _text(stored_bytes(bundle.pdf_name))


def test_signing_what_was_not_seen_is_refused(tasking, owen, assigned_vera, tmp_path):
    shown = schedule_digest(schedule_items(tasking, "MG6D"))
    _with_mg6d(tasking, assigned_vera.user, owen, tmp_path)  # an item arrives while the officer reads
    with pytest.raises(ValidationError, match="changed while you were reading it"):
        schedule_sign(tasking=tasking, schedule="MG6D", by=owen, digest=shown)
    assert not ScheduleSignature.objects.exists()


def test_only_an_officer_of_the_scheme_signs_its_schedules(tasking, otto, vera, carla, wendy, ada):
    digest = schedule_digest(schedule_items(tasking, "MG6C"))
    for person in (otto, vera, carla, wendy, ada):
        with pytest.raises(PermissionDenied):
            schedule_sign(tasking=tasking, schedule="MG6C", by=person, digest=digest)
    assert not ScheduleSignature.objects.exists()


def test_signing_in_the_admin_asks_for_the_password_again_and_is_audited(client, tasking, owen):
    from tests.conftest import PASSWORD

    _login(client, owen)
    url = f"/admin/evidence/tasking/{tasking.pk}/schedules/MG6C/"
    page = client.get(url).content.decode()
    assert "Not signed as it stands" in page and "Sign the MG6C as disclosure officer" in page
    digest = schedule_digest(schedule_items(tasking, "MG6C"))
    # Long after signing in, the act needs the password again.
    session = client.session
    session["account_authentication_methods"] = [
        {**method, "at": method["at"] - 3600} for method in session["account_authentication_methods"]
    ]
    session.save()
    response = client.post(url, {"digest": digest})
    assert response.status_code == 302 and "reauthenticate" in response["Location"]
    assert not ScheduleSignature.objects.exists()
    reauth = client.post(response["Location"], {"password": PASSWORD}, follow=True)
    assert reauth.redirect_chain[-1][0] == f"/admin/evidence/tasking/{tasking.pk}/change/"
    assert "You signed the MG6C schedule of OP-LANTERN-1 as disclosure officer." in reauth.content.decode()
    signature = ScheduleSignature.objects.get(tasking=tasking, schedule="MG6C")
    assert signature.signed_by == owen and signature.digest == digest
    event = AuditEvent.objects.filter(action="evidence.schedule_sign").get()
    assert event.detail["schedule"] == "MG6C" and event.actor_email == owen.email
    assert client.get(url).content.decode().count("Signed as it stands by") == 1
    assert client.get(f"/admin/evidence/tasking/{tasking.pk}/schedules/MG6X/").status_code == 404


def test_another_schemes_officer_cannot_open_or_sign_the_schedule(client, tasking, otto):
    _login(client, otto)
    url = f"/admin/evidence/tasking/{tasking.pk}/schedules/MG6C/"
    assert client.get(url).status_code == 404
    assert client.post(url, {"digest": schedule_digest([])}).status_code == 404
    assert not ScheduleSignature.objects.exists()


def test_the_identity_form_names_what_is_missing_and_keeps_nothing(client, assigned_vera, owen):
    _login(client, owen)
    url = f"/admin/volunteers/volunteer/{assigned_vera.pk}/identity/"
    page = client.post(url, {"protected": "on", "pseudonym": "", "reason": "Risk."}).content.decode()
    assert "Give the pseudonym the volunteer will give evidence under." in page
    assigned_vera.refresh_from_db()
    assert not assigned_vera.identity_protected
    response = client.post(url, {"protected": "on", "pseudonym": PSEUDONYM, "reason": "Risk."})
    assert response.status_code == 302
    page = client.get(f"/admin/volunteers/volunteer/{assigned_vera.pk}/change/").content.decode()
    assert f"Protected: gives evidence as “{PSEUDONYM}”." in page
