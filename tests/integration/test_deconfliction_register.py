"""The police register, tried as the people involved meet it. Dora is the Northshire force's deconfliction
officer; Owen controls a Lantern tasking whose target turns out to be of live police interest. Whichever
comes first — Dora's entry or Owen's identity — the tasking pauses the moment both exist, Owen is told to
call Dora and Dora to expect Owen, with a match reference and nothing else; Dora sees only her own force's
register and its matches, and nobody else sees either."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from evidence.deconfliction import register
from evidence.deconfliction.blind import blind_index
from evidence.deconfliction.identifiers import identify
from evidence.deconfliction.services import PAUSED_FOR_VOLUNTEER, identifiers_record, match_resolve
from evidence.models import DeconflictionMatch, RegisterEntry, Tasking
from portal import roles
from portal.accounts import staff_invitation_refusal, user_create
from portal.models import AuditEvent, Force, Notice
from tests.conftest import PASSWORD, enrol_totp, make_person, mfa_login

pytestmark = pytest.mark.django_db
TARGET = "dave_77 on Instagram"
# What neither side of a register match may learn of the other.
TASKING_SECRETS = ("OP-LANTERN-1", "Lantern Partnership", "dave_77", "instagram")
REGISTER_SECRETS = ("OP-NIGHTJAR", "Northshire", "dave_77", "instagram")


@pytest.fixture
def northshire(db):
    return Force.objects.create(name="Northshire Police")


@pytest.fixture
def dora(northshire):
    return make_person("dora@northshire.example", roles.DECONFLICTION, force=northshire, full_name="Dora Decon")


@pytest.fixture
def southshire_officer(db):
    force = Force.objects.create(name="Southshire Police")
    return make_person("sid@southshire.example", roles.DECONFLICTION, force=force, full_name="Sid South")


def _terms(**changes) -> dict:
    today = timezone.localdate()
    return {"expires_on": today + timedelta(days=90), "review_on": today + timedelta(days=30), **changes}


def _enter(dora, text: str = TARGET, reference: str = "OP-NIGHTJAR", **terms):
    identifier = identify(*text.split(" on ")) if " on " in text else identify(text)
    return register.register_entry_add(
        force=dora.force, identifier=identifier, reference=reference, owner=dora, by=dora, **_terms(**terms)
    )


def _record(tasking, text: str, by):
    identifier = identify(*text.split(" on ")) if " on " in text else identify(text)
    return identifiers_record(tasking=tasking, identifiers=[identifier], source="officer", by=by)


def _text(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def _leaks(said: str, secrets: tuple[str, ...], contact=None) -> list[str]:
    """The secrets said, beyond whom to contact (whose address names their organisation, as it must)."""
    if contact is not None:
        said = said.replace(contact.email, "")
    return [part for part in secrets if part.lower() in said.lower()]


@pytest.mark.parametrize("first", ["register", "tasking"])
def test_a_register_match_pauses_the_tasking_and_tells_both_owners_only_whom_to_call(
    first, assigned_vera, tasking, owen, dora
):
    if first == "register":
        _, found = _enter(dora)
        assert found == []
        found = _record(tasking, "https://instagram.com/Dave_77", owen)  # the same account, written apart
    else:
        assert _record(tasking, "https://instagram.com/Dave_77", owen) == []
        _, found = _enter(dora)

    (match,) = found
    assert match.register_entry.force == dora.force and match.contact == dora and match.other_tasking is None
    assert Tasking.objects.get(pk=tasking.pk).status == Tasking.Status.PAUSED

    to_owen = Notice.objects.get(user=owen, subject__contains=match.reference)
    said = f"{to_owen.subject} {to_owen.text}"
    assert dora.email in said and "Dora Decon" in said and "OP-LANTERN-1" in said
    assert _leaks(said, REGISTER_SECRETS, dora) == [], said

    to_dora = Notice.objects.get(user=dora, subject__contains=match.reference)
    said = f"{to_dora.subject} {to_dora.text}"
    assert owen.email in said and "OP-NIGHTJAR" in said  # her own entry's reference, and whom to expect
    assert _leaks(said, TASKING_SECRETS, owen) == [], said

    vera_told = Notice.objects.get(user=assigned_vera.user, subject__contains="paused")
    assert vera_told.text == PAUSED_FOR_VOLUNTEER
    assert AuditEvent.objects.filter(action="evidence.deconfliction_register_match").count() == 1
    assert AuditEvent.objects.filter(action="evidence.register_add").count() == 1

    # The same pair is not raised twice: recording the identity again, or re-checking, adds nothing.
    assert _record(tasking, TARGET, owen) == []
    assert DeconflictionMatch.objects.filter(tasking=tasking).count() == 1


def test_an_entry_withdrawn_or_expired_matches_nothing_and_one_due_for_review_still_does(tasking, owen, dora):
    withdrawn, _ = _enter(dora, "kestrel_9 on Kik", reference="OP-OLD")
    register.register_entry_withdraw(entry=withdrawn, by=dora)
    today = timezone.localdate()
    _enter(dora, "+44 7700 900123", reference="OP-SHORT", expires_on=today + timedelta(days=1), review_on=today)
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        assert _record(tasking, "kestrel_9 on Kik", owen) == []
        assert _record(tasking, "07700 900123", owen) == []
        assert Tasking.objects.get(pk=tasking.pk).status == Tasking.Status.ACTIVE
    _enter(dora, "mia.x@example.com", reference="OP-REVIEW", review_on=today)  # review due today: still live
    (match,) = _record(tasking, "Mia.X@Example.com", owen)
    assert match.register_entry.reference == "OP-REVIEW"


def test_a_force_computes_blind_indexes_on_its_own_machine_and_imports_only_those(
    client, tmp_path, tasking, owen, dora
):
    _record(tasking, "dave_77 on Instagram", owen)
    identities = tmp_path / "identities.csv"
    identities.write_text(
        "identity,platform\n@Dave_77,instagram\n+44 7700 900999,\nnot an account name,Kik\n", encoding="utf-8"
    )
    computed = tmp_path / "blind.csv"
    call_command("deconfliction_blind_indexes", str(identities), str(computed))
    written = computed.read_text()
    assert written.splitlines()[0] == "key_id,blind_index" and len(written.splitlines()) == 3  # one line unreadable
    assert "dave" not in written.lower() and "7700" not in written  # nothing but indexes leaves the force

    mfa_login(client, dora, enrol_totp(dora))
    today = timezone.localdate()
    form = {
        "reference": "OP-NIGHTJAR",
        "owner": dora.pk,
        "review_on_0": (today + timedelta(days=30)).day,
        "review_on_1": (today + timedelta(days=30)).month,
        "review_on_2": (today + timedelta(days=30)).year,
        "expires_on_0": (today + timedelta(days=90)).day,
        "expires_on_1": (today + timedelta(days=90)).month,
        "expires_on_2": (today + timedelta(days=90)).year,
    }
    with computed.open("rb") as upload:
        done = client.post(reverse("deconfliction_import"), {**form, "file": upload}, follow=True)
    said = _text(done)
    assert "Imported 2 blind indexes under OP-NIGHTJAR" in said and "1 matched live taskings" in said, said[:1500]
    assert set(RegisterEntry.objects.values_list("value", flat=True)) == {""}  # the portal holds no plaintext
    assert Tasking.objects.get(pk=tasking.pk).status == Tasking.Status.PAUSED

    # Importing the same file again adds nothing twice.
    with computed.open("rb") as upload:
        again = client.post(reverse("deconfliction_import"), {**form, "file": upload}, follow=True)
    assert "2 already on your register were not added again" in _text(again)
    assert RegisterEntry.objects.count() == 2

    # The match page: her entry, whom to call, and nothing of the tasking.
    match = DeconflictionMatch.objects.get(register_entry__isnull=False)
    page = client.get(reverse("deconfliction_match", args=[match.pk]))
    assert page.status_code == 200 and match.reference in _text(page) and owen.email in _text(page)
    assert _leaks(_text(page), TASKING_SECRETS, owen) == []


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"identity,platform\ndave_77,instagram\n", "first line must be the header `key_id,blind_index`"),
        (b"key_id,blind_index\n0123456789abcdef,not-hex\n", "line 2: not a key id (16 hex digits)"),
        (b"key_id,blind_index\n0123456789abcdef," + b"a" * 64 + b"\n", "key this portal does not hold"),
        (b"key_id,blind_index\n", "holds no blind indexes"),
        (b"%PDF-1.7\n\x00\x01binary", "not a CSV file of blind indexes"),
    ],
)
def test_a_file_that_is_not_a_blind_index_file_is_refused_with_its_reason_and_nothing_is_imported(content, says, dora):
    _enter(dora, "kestrel_9 on Kik", reference="OP-KEPT")
    with pytest.raises(ValidationError) as refused:
        rows = register.register_file_read(content)
        register.register_import(force=dora.force, rows=rows, reference="X", owner=dora, by=dora, **_terms())
    assert says in " ".join(refused.value.messages)
    assert list(RegisterEntry.objects.values_list("reference", flat=True)) == ["OP-KEPT"]


def test_a_good_file_with_one_bad_line_imports_nothing(dora):
    good = blind_index(identify("kestrel_9", "kik").key)
    content = f"key_id,blind_index\n{good.key_id},{good.value}\n{good.key_id},zz\n".encode()
    with pytest.raises(ValidationError, match=r"Nothing was imported.*line 3"):
        register.register_file_read(content)
    assert not RegisterEntry.objects.exists()


def test_the_entry_s_terms_are_checked(dora, southshire_officer):
    today = timezone.localdate()
    for terms, field in (
        ({"expires_on": today}, "expires_on"),
        ({"review_on": today - timedelta(days=1)}, "review_on"),
        ({"review_on": today + timedelta(days=100)}, "review_on"),
    ):
        with pytest.raises(ValidationError) as refused:
            _enter(dora, **terms)
        assert field in refused.value.error_dict
    with pytest.raises(ValidationError) as refused:  # the owner is one of the force's own officers
        register.register_entry_add(
            force=dora.force,
            identifier=identify("kestrel_9", "kik"),
            reference="X",
            owner=southshire_officer,
            by=dora,
            **_terms(),
        )
    assert "owner" in refused.value.error_dict
    _enter(dora, "kestrel_9 on Kik", reference="OP-A")
    with pytest.raises(ValidationError, match="already on your register: entry OP-A"):
        _enter(dora, "@KESTREL_9 on kik", reference="OP-B")
    assert not RegisterEntry.objects.filter(reference="OP-B").exists()


def test_the_force_s_side_is_recorded_after_signing_in_again_and_the_controller_resolves_his(
    client, tasking, owen, dora
):
    _record(tasking, TARGET, owen)
    _, (match,) = _enter(dora)
    mfa_login(client, dora, enrol_totp(dora))
    url = reverse("deconfliction_match", args=[match.pk])
    asked = client.post(url, {"agreement": "  "})
    assert asked.status_code == 302 and asked["Location"].startswith(reverse("account_reauthenticate"))
    client.post(asked["Location"], {"password": PASSWORD})
    assert not DeconflictionMatch.objects.get(pk=match.pk).agreed_at
    empty = client.post(url, {"agreement": "  "})
    assert "Record what your force agreed" in _text(empty)
    done = client.post(url, {"agreement": "Agreed by phone with Owen: hand over."}, follow=True)
    assert f"Your force's side of match {match.reference} is on the record" in _text(done)
    assert AuditEvent.objects.filter(action="evidence.deconfliction_agree").count() == 1
    # The tasking stays paused: only its controller resolves it.
    assert Tasking.objects.get(pk=tasking.pk).status == Tasking.Status.PAUSED
    match_resolve(match=match, outcome="hand_over", reasons="Handed to Northshire.", by=owen)
    assert Tasking.objects.get(pk=tasking.pk).status == Tasking.Status.CLOSED
    shown = _text(client.get(url))
    assert "Hand over to the other owner" in shown and "Agreed by phone with Owen" in shown


def test_another_force_s_officer_sees_none_of_the_register_nor_its_matches(
    client, tasking, owen, dora, southshire_officer
):
    _record(tasking, TARGET, owen)
    entry, (match,) = _enter(dora)
    mfa_login(client, southshire_officer, enrol_totp(southshire_officer))
    assert client.get(reverse("deconfliction_entry", args=[entry.pk])).status_code == 404
    assert client.get(reverse("deconfliction_match", args=[match.pk])).status_code == 404
    assert client.post(reverse("deconfliction_entry", args=[entry.pk])).status_code == 404  # cannot withdraw it
    listed = _text(client.get(reverse("deconfliction_register") + "?show=all"))
    assert "OP-NIGHTJAR" not in listed and "No entries to show" in listed
    assert match.reference not in _text(client.get(reverse("deconfliction_matches")))
    with pytest.raises(register.RegisterRefused):
        register.match_agree(match=match, agreement="Mine now.", by=southshire_officer)
    with pytest.raises(register.RegisterRefused):
        register.register_entry_withdraw(entry=entry, by=southshire_officer)
    assert RegisterEntry.objects.get(pk=entry.pk).withdrawn_at is None


@pytest.mark.parametrize("who", ["vera", "owen", "wendy", "ada", "carla", "root"])
def test_nobody_but_the_force_s_deconfliction_officers_reaches_the_register(client, request, who, tasking, owen, dora):
    _record(tasking, TARGET, owen)
    entry, (match,) = _enter(dora)
    person = request.getfixturevalue(who) if who != "carla" else make_person("carla@court.example", roles.COURT)
    if roles.requires_mfa(person):
        mfa_login(client, person, enrol_totp(person))
    else:
        client.force_login(person)
    for url in (
        reverse("deconfliction_register"),
        reverse("deconfliction_matches"),
        reverse("deconfliction_add"),
        reverse("deconfliction_import"),
        reverse("deconfliction_entry", args=[entry.pk]),
        reverse("deconfliction_match", args=[match.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 403, (who, url, response.status_code)
        assert "OP-NIGHTJAR" not in response.content.decode()


def test_dora_sees_no_scheme_s_work(client, assigned_vera, tasking, owen, dora):
    _record(tasking, TARGET, owen)
    _, (match,) = _enter(dora)
    mfa_login(client, dora, enrol_totp(dora))
    assert client.get("/").url == reverse("deconfliction_register")
    assert client.get(reverse("tasking_detail", args=[tasking.pk])).status_code == 404
    assert client.get(f"/admin/evidence/tasking/{tasking.pk}/deconfliction/{match.pk}/").status_code == 302
    assert client.get(reverse("welfare_console")).status_code == 403


def test_where_a_deconfliction_officer_belongs(lantern, northshire, dora, request):
    with pytest.raises(ValidationError, match="must belong to a police force"):
        user_create(email="a@x.example", role_codes=[roles.DECONFLICTION.code])
    with pytest.raises(ValidationError, match="belongs to no scheme"):
        user_create(email="b@x.example", role_codes=[roles.DECONFLICTION.code], scheme=lantern, force=northshire)
    with pytest.raises(ValidationError, match="cannot be combined"):
        user_create(
            email="c@x.example",
            role_codes=[roles.DECONFLICTION.code, roles.OFFICER.code],
            scheme=lantern,
            force=northshire,
        )
    with pytest.raises(ValidationError, match="Only a deconfliction officer belongs to a police force"):
        user_create(email="d@x.example", role_codes=[roles.OFFICER.code], scheme=lantern, force=northshire)
    assert roles.requires_mfa(dora)
    ada = request.getfixturevalue("ada")
    assert "Only platform administrators" in staff_invitation_refusal(
        by=ada, scheme=lantern, role_codes=[roles.DECONFLICTION.code]
    )


def test_a_platform_administrator_adds_a_force_s_deconfliction_officer_in_the_admin(
    client, root, northshire, lantern, django_capture_on_commit_callbacks
):
    from django.core import mail

    mfa_login(client, root, enrol_totp(root))
    data = {"email": "dan@northshire.example", "full_name": "Dan Decon", "roles": [roles.DECONFLICTION.code]}
    refused = client.post(reverse("admin:portal_user_add"), data)
    assert "must belong to a police force" in _text(refused)
    refused = client.post(reverse("admin:portal_user_add"), {**data, "force": northshire.pk, "scheme": lantern.pk})
    assert "belongs to no scheme" in _text(refused)
    with django_capture_on_commit_callbacks(execute=True):
        added = client.post(reverse("admin:portal_user_add"), {**data, "force": northshire.pk})
    assert added.status_code == 302, _text(added)[:2000]
    dan = register.register_owners(northshire).get()
    assert dan.email == "dan@northshire.example" and roles.requires_mfa(dan) and not dan.is_staff
    assert mail.outbox[-1].to == ["dan@northshire.example"]
    assert "Your role: Deconfliction officer, Northshire Police." in mail.outbox[-1].body


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_entry_and_a_tasking_s_identity_recorded_at_the_same_moment_meet_exactly_once(lantern, owen, dora):
    """The register's addition and a tasking's recording each check in their own transaction: without the
    register's lock, each could miss the other's row and the tasking would go on unpaused."""
    import threading

    from django.db import connection

    from tests.conftest import make_tasking

    missed = 0
    for round_ in range(3):
        tasking = make_tasking(lantern, owen, reference=f"OP-R{round_}")
        errors, barrier = [], threading.Barrier(2)
        text = f"+44 7700 90{round_:04d}"

        def run(act, barrier=barrier, errors=errors):
            try:
                barrier.wait()
                act()
            except Exception as exc:
                errors.append(exc)
            finally:
                connection.close()

        threads = [
            threading.Thread(target=run, args=(lambda: _record(tasking, text, owen),)),  # noqa: B023
            threading.Thread(target=run, args=(lambda: _enter(dora, text, reference=f"NS-{round_}"),)),  # noqa: B023
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        matched = DeconflictionMatch.objects.filter(tasking=tasking).count()
        assert matched <= 1
        missed += matched == 0
        assert Tasking.objects.get(pk=tasking.pk).status == (Tasking.Status.PAUSED if matched else "active")
    assert missed == 0, f"{missed} of 3 simultaneous recordings missed each other"


def test_a_key_rotation_reindexes_entered_entries_and_names_the_imported_ones_still_to_redo(
    settings, tasking, owen, dora, capsys
):
    from evidence.deconfliction.blind import keys

    _enter(dora, "kestrel_9 on Kik", reference="OP-TYPED")
    old = blind_index(identify("dave_77", "instagram").key)
    register.register_import(
        force=dora.force, rows=[(old.key_id, old.value)], reference="OP-FILE", owner=dora, by=dora, **_terms()
    )
    settings.PORTAL_DECONFLICTION_KEYS = [
        "bmV3LWtleS1uZXcta2V5LW5ldy1rZXktbmV3LWtleS0xMjM0NTY3OA==",
        *settings.PORTAL_DECONFLICTION_KEYS,
    ]
    new = keys()[0].id
    call_command("rotate_deconfliction_keys")
    said = capsys.readouterr().out
    assert "1 register entries imported as blind indexes are still under an older key" in said
    assert RegisterEntry.objects.get(reference="OP-TYPED").key_id == new
    assert RegisterEntry.objects.get(reference="OP-FILE").key_id == old.key_id
    # Both still match while the old key is listed.
    found = _record(tasking, "kestrel_9 on Kik", owen) + _record(tasking, "dave_77 on Instagram", owen)
    assert sorted(match.register_entry.reference for match in found) == ["OP-FILE", "OP-TYPED"]
