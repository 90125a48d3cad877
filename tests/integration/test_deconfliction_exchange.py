"""Deconfliction between two installations, each with its own database and signing key, sharing only the
deconfliction key. Harbour's force runs the portal apart from Lantern's: its installation (B) runs here as
separate `manage.py` processes on a database of its own. Each exports its scheme's signed set; each imports
the other's; a target both engage pauses the tasking on each side, with whom to call. A set altered on the
way, signed by anyone but the pinned partner, or older than the one held is refused and changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from evidence.deconfliction import exchange
from evidence.deconfliction.identifiers import identify
from evidence.deconfliction.partners import partner_add, set_export, set_import
from evidence.deconfliction.services import identifiers_record
from evidence.models import DeconflictionMatch, PartnerEntry, PartnerSet, Tasking
from portal.models import AuditEvent, Notice
from tests.conftest import make_tasking

pytestmark = pytest.mark.django_db
PROJECT = Path(__file__).resolve().parents[2]
# Installation B's own set-up, run in its own process against its own database.
B_SETUP = """
from tests.conftest import make_person, make_tasking
from portal import roles
from portal.models import Scheme
from evidence.deconfliction.identifiers import identify
from evidence.deconfliction.services import identifiers_record
harbour = Scheme.objects.create(name="Harbour Partnership", code="harbour")
otto = make_person("otto@harbour.example", roles.OFFICER, harbour, full_name="Otto Harbour")
tasking = make_tasking(harbour, otto, reference="OP-HARBOUR-B")
identifiers_record(tasking=tasking, identifiers=[identify("dave_77", "Instagram")], source="officer", by=otto)
"""
B_STATUS = "from evidence.models import Tasking; print(Tasking.objects.get(reference='OP-HARBOUR-B').status)"


class Installation:
    """Another installation of the portal: its own SQLite database, signing key and folders."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir()
        self.folder = folder
        keep = {"PATH", "HOME", "LANG", "PYTHONPATH"}
        self.env = {name: value for name, value in os.environ.items() if name in keep}
        self.env.update(
            {
                "DJANGO_SETTINGS_MODULE": "portal.settings",
                "DATABASE_URL": f"sqlite:///{folder / 'b.sqlite3'}",
                "PORTAL_VAR_DIR": str(folder / "var"),
                "PORTAL_SIGNING_KEY_PATH": str(folder / "key.pem"),
                "PORTAL_SIGNING_CERT_PATH": str(folder / "cert.pem"),
                "PORTAL_DECONFLICTION_KEYS": ",".join(settings.PORTAL_DECONFLICTION_KEYS),  # the one thing shared
                "DJANGO_DEBUG": "true",
            }
        )

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=PROJECT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, f"B: manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    @property
    def certificate(self) -> str:
        return (self.folder / "cert.pem").read_text()


@pytest.fixture
def installation_b(tmp_path) -> Installation:
    b = Installation(tmp_path / "b")
    b.manage("migrate", "--no-input", "-v", "0")
    b.manage("create_signing_key")
    b.manage("shell", "-c", B_SETUP)
    return b


@pytest.fixture
def signing_key(settings, tmp_path):
    settings.PORTAL_SIGNING_KEY_PATH = str(tmp_path / "a-key.pem")
    settings.PORTAL_SIGNING_CERT_PATH = str(tmp_path / "a-cert.pem")
    call_command("create_signing_key", "--force")


def test_two_installations_deconflict_through_signed_sets_and_refuse_anything_else(
    tmp_path, signing_key, installation_b, tasking, owen, root
):
    # A (this installation): Owen's tasking engages the same account, written another way.
    identifiers_record(
        tasking=tasking, identifiers=[identify("https://instagram.com/Dave_77/")], source="officer", by=owen
    )
    from_b = tmp_path / "harbour.set"
    installation_b.manage(
        "deconfliction_export_set", str(from_b), "--scheme", "harbour", "--by", "otto@harbour.example"
    )
    assert b"dave" not in from_b.read_bytes().lower()  # no plaintext travels

    harbour = partner_add(name="Harbour installation", certificate=installation_b.certificate, by=root)
    call_command("deconfliction_import_set", str(from_b), "--partner", harbour.name, "--by", root.email)

    (match,) = DeconflictionMatch.objects.filter(tasking=tasking)
    assert match.partner_entry is not None and match.contact is None
    assert match.whom_to_contact == "Otto Harbour (otto@harbour.example)"
    assert Tasking.objects.get(pk=tasking.pk).status == Tasking.Status.PAUSED
    told = Notice.objects.get(user=owen, subject__contains=match.reference)
    assert "otto@harbour.example" in told.text and "Harbour Partnership" not in told.text
    assert "OP-HARBOUR-B" not in told.text and "dave" not in told.text.lower()
    assert AuditEvent.objects.filter(action="evidence.partner_set_import").count() == 1

    # The other way: A's set, imported by B, pauses B's tasking too.
    from_a = tmp_path / "lantern.set"
    from_a.write_bytes(set_export(scheme=tasking.scheme, by=owen))
    (tmp_path / "a-cert-copy.pem").write_text(Path(settings.PORTAL_SIGNING_CERT_PATH).read_text())
    installation_b.manage(
        "shell",
        "-c",
        "from evidence.deconfliction.partners import partner_add; from portal.models import User; "
        f"root = User.objects.create_superuser(email='root@harbour.example', password='x'); "
        f"partner_add(name='Lantern installation', certificate=open({str(tmp_path / 'a-cert-copy.pem')!r}).read(), "
        "by=root)",
    )
    assert installation_b.manage("shell", "-c", B_STATUS).split()[-1] == "active"
    said = installation_b.manage("deconfliction_import_set", str(from_a), "--partner", "Lantern installation")
    assert "1 live tasking matched and paused" in said
    assert installation_b.manage("shell", "-c", B_STATUS).split()[-1] == "paused"

    # Replayed: the same set again is refused, and nothing changes.
    with pytest.raises(CommandError, match="An older or repeated set is never imported"):
        call_command("deconfliction_import_set", str(from_b), "--partner", harbour.name)
    assert PartnerSet.objects.count() == 1 and DeconflictionMatch.objects.count() == 1

    # Altered on the way: one blind index changed by one digit.
    text = from_b.read_text()
    line = next(each for each in text.splitlines() if each[:16].isalnum() and " " in each)
    digit = line[20]
    tampered = tmp_path / "tampered.set"
    tampered.write_text(text.replace(line, line[:20] + ("0" if digit != "0" else "1") + line[21:]))
    with pytest.raises(CommandError, match="do not match its signature"):
        call_command("deconfliction_import_set", str(tampered), "--partner", harbour.name)

    # Signed by someone else: a valid signature, but by A's key, claiming to come from Harbour.
    forged = exchange.set_sign(
        issuer="Harbour Partnership",
        contact_name="Mallory",
        contact_email="mallory@example.com",
        entries=[{"key_id": PartnerEntry.objects.first().key_id, "blind_index": "a" * 64, "expires": None}],
        key_path=settings.PORTAL_SIGNING_KEY_PATH,
        cert_path=settings.PORTAL_SIGNING_CERT_PATH,
    )
    with pytest.raises(exchange.SetRefused, match="not the partner certificate"):
        set_import(partner=harbour, data=forged, by=root)
    # Only the platform's administrators import: an officer, even with the right file, is refused.
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        set_import(partner=harbour, data=from_b.read_bytes(), by=owen)
    assert PartnerSet.objects.count() == 1 and PartnerEntry.objects.filter(blind_index="a" * 64).count() == 0


def test_a_partner_set_meets_identities_recorded_after_it_and_only_its_newest_set_counts(
    tmp_path, signing_key, settings, tasking, owen, root, lantern, harbour, otto
):
    """Both sides on this database's schemes, the partner's set signed with a key of its own."""
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    from evidence.deconfliction.blind import blind_index

    partner_key, partner_cert = tmp_path / "p-key.pem", tmp_path / "p-cert.pem"
    settings.PORTAL_SIGNING_KEY_PATH, settings.PORTAL_SIGNING_CERT_PATH = str(partner_key), str(partner_cert)
    call_command("create_signing_key", "--force")
    partner = partner_add(name="Northshire installation", certificate=partner_cert.read_text(), by=root)

    def sign(*identities: str) -> bytes:
        index = [blind_index(identify(*each.split(" on ")).key) for each in identities]
        return exchange.set_sign(
            issuer="Northshire",
            contact_name="Nell North",
            contact_email="nell@north.example",
            entries=[{"key_id": i.key_id, "blind_index": i.value, "expires": None} for i in index],
            key_path=partner_key,
            cert_path=partner_cert,
        )

    _, found = set_import(partner=partner, data=sign("kestrel_9 on Kik"), by=root)
    assert found == []
    (match,) = identifiers_record(
        tasking=tasking, identifiers=[identify("@Kestrel_9", "kik")], source="officer", by=owen
    )
    assert match.whom_to_contact == "Nell North (nell@north.example)"
    # Resolved (proceed, agreed with Nell): the partner's next day's set, still holding the identity, does not
    # raise it again, nor does the tasking recording it again.
    from evidence.deconfliction.services import match_resolve

    match_resolve(match=match, outcome="proceed", reasons="Agreed with Nell North by phone.", by=owen)
    assert Tasking.objects.get(pk=tasking.pk).status == Tasking.Status.ACTIVE
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        _, again = set_import(partner=partner, data=sign("kestrel_9 on Kik"), by=root)
    assert again == []
    assert (
        identifiers_record(tasking=tasking, identifiers=[identify("kestrel_9", "kik")], source="officer", by=owen) == []
    )
    assert Tasking.objects.get(pk=tasking.pk).status == Tasking.Status.ACTIVE
    # A newer set without that identity replaces the old: a new tasking engaging it is not paused.
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        set_import(partner=partner, data=sign("someone_else on Kik"), by=root)
    other = make_tasking(lantern, owen, reference="OP-2")
    # Besides the partner's old set, only Lantern's own first tasking engages it: within a scheme, no match.
    found = identifiers_record(tasking=other, identifiers=[identify("kestrel_9", "kik")], source="officer", by=owen)
    assert found == []
    assert PartnerSet.objects.filter(replaced_at__isnull=True).count() == 1
    assert PartnerEntry.objects.count() == 1


def test_an_officer_exports_the_set_in_the_admin_and_a_platform_administrator_imports_a_partner_s(
    client, tmp_path, signing_key, tasking, owen, otto, root
):
    from django.urls import reverse

    from evidence.deconfliction.blind import keys
    from tests.conftest import enrol_totp, mfa_login

    identifiers_record(tasking=tasking, identifiers=[identify("dave_77", "Instagram")], source="officer", by=owen)
    mfa_login(client, owen, enrol_totp(owen))
    listed = client.get(reverse("admin:evidence_tasking_changelist"))
    assert reverse("admin:evidence_tasking_deconfliction_set") in listed.content.decode()
    page = client.get(reverse("admin:evidence_tasking_deconfliction_set"))
    assert "live taskings engage 1 identity" in page.content.decode()
    download = client.post(reverse("admin:evidence_tasking_deconfliction_set"))
    assert download["Content-Disposition"].startswith('attachment; filename="lantern-deconfliction-set-')
    read = exchange.set_read(
        download.content,
        trusted_certificates=[Path(settings.PORTAL_SIGNING_CERT_PATH).read_bytes()],
        known_key_ids={key.id for key in keys()},
    )
    assert read.contact_email == owen.email and len(read.entries) == 1 and read.issuer == "Lantern Partnership"

    # The platform administrator imports it as a partner's (this installation's own certificate, pinned).
    client.logout()
    mfa_login(client, root, enrol_totp(root))
    partner = partner_add(
        name="Lantern installation", certificate=Path(settings.PORTAL_SIGNING_CERT_PATH).read_text(), by=root
    )
    url = reverse("admin:evidence_partnerinstallation_import", args=[partner.pk])
    from django.core.files.uploadedfile import SimpleUploadedFile

    tampered = download.content.replace(read.entries[0].blind_index.encode(), b"0" * 64)
    refused = client.post(url, {"file": SimpleUploadedFile("set.txt", tampered)})
    assert "do not match its signature" in refused.content.decode() and not PartnerSet.objects.exists()
    done = client.post(url, {"file": SimpleUploadedFile("set.txt", download.content)}, follow=True)
    assert "Imported Lantern installation&#x27;s set of 1 blind index," in done.content.decode()
    assert PartnerSet.objects.get().contact_email == owen.email
