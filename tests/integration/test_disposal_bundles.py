"""Disposal reaches the bundles built before it: every stored file holding the exhibit goes; the record stays.

Vera produced VD/1 (a photograph) and VD/2 (a chat) for Owen's tasking OP-LANTERN-1 in Lantern, and version 1 of
its bundle was built with them. Then VD/3, a chat export no other exhibit shares, was accepted and version 2 built
with all three. Carla (court) and Pat (CPS) were shared version 2. The case ended in no further action long enough
ago; Owen proposes disposing of VD/3 and Olive approves (test_disposal's fixtures). Version 2's files held VD/3 and
go; version 1 never held it, and OP-LANTERN-2's bundle is another case: both keep their files.
"""

from __future__ import annotations

import html
import io
import re
import zipfile
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import DatabaseError, transaction
from django.urls import reverse
from django.utils import timezone

from evidence import bundles, services
from evidence.bundles import WorkArea, bundles_withdrawn_for
from evidence.models import BundleAccess, Exhibit, HandoverBundle
from evidence.services import tasking_assign
from portal import roles
from portal.filecrypt import FileDecryptionError
from portal.models import AuditEvent
from portal.storage import walk_files
from retention.disposal import disposal_approve, disposal_propose, disposal_remove_content
from tests.conftest import make_person, make_tasking, on_postgres
from tests.integration import bundle_helpers, test_disposal
from tests.integration.bundle_helpers import make_ready, stored_bytes, submit_exhibit
from tests.integration.test_retention import signed_in, text_of

# Fixtures from bundle_helpers and test_disposal, made visible to pytest in this module. test_disposal's
# `past_its_date` closes the case and hands on `exhibit`, which here is VD/3.
signing_key, ready_tasking, built = bundle_helpers.signing_key, bundle_helpers.ready_tasking, bundle_helpers.built
olive, past_its_date = test_disposal.olive, test_disposal.past_its_date

# VD/3: in no other exhibit, so finding these bytes anywhere in storage means VD/3's content is still there.
DISPOSED_CHAT = (
    b"[21:14] mark_k: the blue door on Harbour Street, number 41\n"
    b"[21:15] mia_x: what time\n"
    b"[21:16] mark_k: after school, come alone\n"
)
# A recording too large to embed (PORTAL_BUNDLE_EMBED_MAX_BYTES is lowered for it): it travels beside the PDF in
# the package, and the PDF only describes it.
RECORDING = b"\x00\x00\x00\x18ftypmp42" + b"RECORDING-OF-THE-CALL-" * 400


# --- set-up -------------------------------------------------------------------------------------------------


@pytest.fixture
def exhibit(request, built, assigned_vera, owen, tmp_path_factory):
    """VD/3, accepted after version 1 was built (so version 1 never held it). A test may ask for another kind of
    file with `@pytest.mark.parametrize("exhibit", [(name, content, type)], indirect=True)`."""
    name, content, mime = getattr(request, "param", ("later.txt", DISPOSED_CHAT, "text/plain"))
    # The upload's temporary copy lies outside storage, so the only copies in storage are the portal's.
    folder = tmp_path_factory.mktemp("upload")
    third = submit_exhibit(assigned_vera.user, built.tasking, folder, name, content, mime)
    services.exhibit_review(exhibit=third, decision="accepted", reason="", by=owen)
    return Exhibit.objects.get(pk=third.pk)


@pytest.fixture
def holding(exhibit, owen, signing_key, django_capture_on_commit_callbacks):
    """Version 2, built with VD/1, VD/2 and VD/3; its work area cleared once it is committed, as in service."""
    with django_capture_on_commit_callbacks(execute=True):
        return bundles.bundle_build(bundles.bundle_request(tasking=exhibit.tasking, by=owen))


@pytest.fixture
def pat(db):
    """A recipient recorded as a CPS prosecutor: she may have the sensitive part too."""
    person = make_person("pat@cps.example", roles.COURT, None)
    person.recipient_kind = person.RecipientKind.CPS
    person.save(update_fields=["recipient_kind"])
    return person


@pytest.fixture
def shared(holding, carla, pat, owen):
    until = timezone.now() + timedelta(days=30)
    services.bundle_share(bundle=holding, recipient=carla, until=until, by=owen)
    services.bundle_share(bundle=holding, recipient=pat, until=until, by=owen, parts="both")
    return holding


@pytest.fixture
def other_case(lantern, assigned_vera, owen, signing_key, tmp_path_factory):
    """OP-LANTERN-2's bundle: the same volunteer and officer, another case."""
    other = make_tasking(lantern, owen, reference="OP-LANTERN-2")
    tasking_assign(tasking=other, volunteer=assigned_vera.user, by=owen)
    make_ready(other, assigned_vera.user, owen, tmp_path_factory.mktemp("other-upload"))
    return bundles.bundle_build(bundles.bundle_request(tasking=other, by=owen))


def dispose(exhibit, owen, olive) -> None:
    disposal_approve(proposal=disposal_propose(exhibit=exhibit, by=owen, reason=test_disposal.REASON), by=olive)


def holds(data: bytes, needle: bytes) -> bool:
    """Whether a file's bytes hold `needle`: as they are, or inside a ZIP member or a PDF's embedded file."""
    if needle in data:
        return True
    if data.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return any(holds(archive.read(name), needle) for name in archive.namelist())
    if data.startswith(b"%PDF"):
        import pikepdf

        with pikepdf.open(io.BytesIO(data)) as pdf:
            return any(needle in spec.get_file().read_bytes() for spec in pdf.attachments.values())
    return False


def stored_holding(needle: bytes) -> list[str]:
    """Every file anywhere in storage whose content holds `needle`, each read through default_storage (which
    decrypts it); the test's own files beside the portal's (the signing key, say) are read as they are."""
    found = []
    for name in walk_files(default_storage):
        try:
            data = stored_bytes(name)
        except FileDecryptionError:  # not stored by the portal: plain bytes
            with default_storage.open_raw(name) as handle:
                data = handle.read()
        if holds(data, needle):
            found.append(name)
    return found


def record(bundle: HandoverBundle) -> dict:
    """Every column of the bundle as the database holds it now."""
    fresh = HandoverBundle.objects.get(pk=bundle.pk)
    return {field.attname: getattr(fresh, field.attname) for field in fresh._meta.concrete_fields}


WITHDRAWAL = {"files_withdrawn_at", "files_withdrawn_for_id", "files_withdrawn"}


def page_text(response) -> str:
    return re.sub(r"\s+", " ", html.unescape(response.content.decode()))


# --- storage --------------------------------------------------------------------------------------------------


def test_every_stored_file_of_a_bundle_holding_the_exhibit_is_removed(past_its_date, holding, owen, olive):
    exhibit = past_its_date
    # Before: the exhibit's own file and the signed PDF (its native embedded) hold VD/3, and nothing else.
    assert sorted(stored_holding(DISPOSED_CHAT)) == sorted([exhibit.stored_name, holding.pdf_name])
    assert not holding.package_name  # everything is embedded: no package

    dispose(exhibit, owen, olive)

    assert not default_storage.exists(exhibit.stored_name)
    assert not default_storage.exists(holding.pdf_name)
    assert stored_holding(DISPOSED_CHAT) == []
    # The sensitive part never holds an exhibit's content (the authorisation, identities, the MG6D): it is kept.
    assert default_storage.exists(holding.sensitive_pdf_name)


@pytest.mark.parametrize("exhibit", [("recording.mp4", RECORDING, "video/mp4")], indirect=True)
def test_a_native_beside_the_pdf_takes_the_package_and_leaves_the_pdf_that_only_describes_it(
    exhibit, settings, request, owen, olive
):
    settings.PORTAL_BUNDLE_EMBED_MAX_BYTES = 4096  # VD/1 and VD/2 are embedded in version 2; VD/3 is not
    request.getfixturevalue("past_its_date")
    holding = request.getfixturevalue("holding")
    assert holding.package_name
    assert sorted(stored_holding(RECORDING)) == sorted([exhibit.stored_name, holding.package_name])

    dispose(exhibit, owen, olive)

    holding.refresh_from_db()
    assert not default_storage.exists(holding.package_name)
    assert default_storage.exists(holding.pdf_name)  # it describes the recording; it never held it
    assert [f["part"] for f in holding.files_withdrawn] == ["package"]
    assert stored_holding(RECORDING) == []


@pytest.mark.parametrize("exhibit", [("recording.mp4", RECORDING, "video/mp4")], indirect=True)
def test_a_later_disposal_of_another_exhibit_the_bundle_held_takes_what_the_first_one_left(
    exhibit, settings, request, assigned_vera, owen, olive, tmp_path_factory
):
    settings.PORTAL_BUNDLE_EMBED_MAX_BYTES = 4096  # the recording VD/3 travels beside; the chat VD/4 is embedded
    chat = submit_exhibit(
        assigned_vera.user, exhibit.tasking, tmp_path_factory.mktemp("upload"), "later.txt", DISPOSED_CHAT, "text/plain"
    )
    services.exhibit_review(exhibit=chat, decision="accepted", reason="", by=owen)
    request.getfixturevalue("past_its_date")
    holding = request.getfixturevalue("holding")

    dispose(exhibit, owen, olive)  # the recording: the package goes, the PDF stays
    assert default_storage.exists(holding.pdf_name) and stored_holding(DISPOSED_CHAT)
    dispose(Exhibit.objects.get(pk=chat.pk), owen, olive)  # the chat: now the PDF goes too

    holding.refresh_from_db()
    assert not default_storage.exists(holding.pdf_name) and stored_holding(DISPOSED_CHAT) == []
    assert holding.files_withdrawn_for_id == exhibit.pk  # first withdrawn for the recording, and that stands
    assert [(f["part"], f["exhibit"]) for f in holding.files_withdrawn] == [("package", "VD/3"), ("pdf", "VD/4")]
    assert bundles_withdrawn_for(chat) == bundles_withdrawn_for(exhibit) == [holding]


@pytest.fixture
def versioned_bucket(object_storage):
    """Storage is a bucket that keeps every version of an object behind a plain delete (asked for first, so every
    file of the test lands in it)."""
    client = object_storage.server.client()
    client.put_bucket_versioning(Bucket=object_storage.bucket, VersioningConfiguration={"Status": "Enabled"})
    return object_storage


def test_on_a_versioned_bucket_no_version_of_a_withdrawn_file_or_of_its_built_parts_is_left(
    versioned_bucket, past_its_date, holding, owen, olive
):
    client, bucket = versioned_bucket.server.client(), versioned_bucket.bucket

    def versions(part: str) -> list[str]:
        """Every version and delete marker of every object whose key holds `part`."""
        pages = client.get_paginator("list_object_versions").paginate(Bucket=bucket)
        found = [v for page in pages for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]]
        return [v["Key"] for v in found if part in v["Key"]]

    work = f"{WorkArea(holding).prefix}/"
    # The build's parts were cleared with a plain delete when it was committed: their versions stay, unlisted.
    assert versions(work) and not any(work in key for key in versioned_bucket.keys(prefix=""))
    assert versions(holding.pdf_name)

    dispose(past_its_date, owen, olive)

    assert versions(holding.pdf_name) == [] and versions(work) == []
    assert versions(past_its_date.stored_name) == []
    assert versions(holding.sensitive_pdf_name)  # it never held the exhibit


def test_a_failed_build_planned_to_hold_the_exhibit_loses_its_rendered_parts_and_is_never_sent_again(
    past_its_date, owen, olive, signing_key
):
    from portal.jobs import job_fail

    exhibit = past_its_date
    bundle = bundles.bundle_request(tasking=exhibit.tasking, by=owen)
    plan = bundles.bundle_start(bundle)
    for index in range(len(plan["chunks"])):
        bundles.bundle_render_chunk(bundle, index)
    bundles.bundle_fail(bundle, "the worker was stopped")
    job_fail(job_id=bundles.bundle_job(bundle).pk, error="the worker was stopped")
    work = WorkArea(bundle)
    assert work.files()

    dispose(exhibit, owen, olive)

    bundle.refresh_from_db()
    assert work.files() == [] and stored_holding(DISPOSED_CHAT) == []
    assert bundle.state == HandoverBundle.State.FAILED and "VD/3" in bundle.error
    assert bundle.files_withdrawn_for_id == exhibit.pk and [f["part"] for f in bundle.files_withdrawn] == ["work"]
    assert bundles.bundle_retry(bundle, by=owen) is False
    assert HandoverBundle.objects.get(pk=bundle.pk).state == HandoverBundle.State.FAILED


def test_a_bundle_asked_for_before_the_disposal_and_not_built_yet_is_never_built(
    past_its_date, owen, olive, signing_key
):
    bundle = bundles.bundle_request(tasking=past_its_date.tasking, by=owen)
    assert bundle.state == HandoverBundle.State.QUEUED and not bundle.plan

    dispose(past_its_date, owen, olive)

    bundle.refresh_from_db()
    assert bundle.files_withdrawn_for_id == past_its_date.pk and bundle.state == HandoverBundle.State.FAILED
    with pytest.raises(RuntimeError, match="VD/3, which this bundle was to hold, was disposed of"):
        bundles.bundle_build(bundle)
    bundle.refresh_from_db()
    assert bundle.state == HandoverBundle.State.FAILED and not bundle.plan and not bundle.pdf_name
    assert bundles_withdrawn_for(past_its_date) == []  # nothing was built, so nothing to list on the certificate


# --- the record ------------------------------------------------------------------------------------------------


def test_the_bundles_record_and_hashes_are_kept_and_it_says_when_and_why_its_files_went(
    past_its_date, holding, owen, olive
):
    exhibit = past_its_date
    before = record(holding)

    dispose(exhibit, owen, olive)

    after = record(holding)
    assert {k: v for k, v in after.items() if k not in WITHDRAWAL} == {
        k: v for k, v in before.items() if k not in WITHDRAWAL
    }
    assert len(after["pdf_sha256"]) == 64 and after["manifest"] and after["page_count"] and after["plan"]
    assert after["files_withdrawn_at"] is not None and after["files_withdrawn_for_id"] == exhibit.pk
    assert after["files_withdrawn"] == [{"part": "pdf", "name": holding.pdf_name, "exhibit": "VD/3"}]
    event = AuditEvent.objects.get(action="evidence.bundle_files_withdrawn")
    assert event.detail["exhibit"] == "VD/3" and event.detail["pdf_sha256"] == holding.pdf_sha256
    assert event.scheme_id == holding.tasking.scheme_id
    # What the disposal certificate lists.
    [listed] = bundles_withdrawn_for(exhibit)
    assert (listed.pk, listed.tasking.reference, listed.version) == (holding.pk, "OP-LANTERN-1", 2)
    assert (listed.pdf_sha256, listed.package_sha256) == (holding.pdf_sha256, "")


def test_a_bundle_that_never_held_the_exhibit_and_another_cases_bundle_keep_their_files(
    past_its_date, built, holding, other_case, owen, olive
):
    dispose(past_its_date, owen, olive)

    client = signed_in(owen)
    for bundle in (built, other_case):
        assert record(bundle)["files_withdrawn_at"] is None
        assert default_storage.exists(bundle.pdf_name) and default_storage.exists(bundle.sensitive_pdf_name)
        assert client.get(reverse("bundle_download", args=[bundle.pk])).status_code == 200
    assert bundles_withdrawn_for(past_its_date) == [HandoverBundle.objects.get(pk=holding.pk)]


def test_a_bundle_holding_the_exhibit_only_as_withheld_quarantined_material_keeps_its_files(
    past_its_date, owen, olive, signing_key
):
    exhibit = past_its_date
    services.exhibit_set_quarantine(exhibit=exhibit, quarantined=True, reason="Possible IIOC.", by=owen)
    withheld = bundles.bundle_build(bundles.bundle_request(tasking=exhibit.tasking, by=owen))
    entry = next(f for f in withheld.manifest["files"] if f.get("exhibit") == exhibit.pk)
    assert entry["location"] == "withheld"

    dispose(exhibit, owen, olive)

    assert record(withheld)["files_withdrawn_at"] is None
    assert default_storage.exists(withheld.pdf_name)
    assert stored_holding(DISPOSED_CHAT) == []


def test_running_the_removal_again_removes_what_is_still_stored_and_changes_nothing_else(
    past_its_date, holding, owen, olive
):
    exhibit = past_its_date
    dispose(exhibit, owen, olive)
    before = record(holding)
    audited = AuditEvent.objects.filter(action="evidence.bundle_files_withdrawn").count()

    disposal_remove_content(exhibit=exhibit)  # nothing left to remove
    assert record(holding) == before
    # Storage failed the first time, say: the file is still there, and a second run removes it.
    default_storage.save(holding.pdf_name, ContentFile(b"%PDF-1.7 left behind " + DISPOSED_CHAT))
    disposal_remove_content(exhibit=exhibit)

    assert not default_storage.exists(holding.pdf_name) and stored_holding(DISPOSED_CHAT) == []
    assert record(holding) == before
    assert AuditEvent.objects.filter(action="evidence.bundle_files_withdrawn").count() == audited


def test_bundle_files_are_withdrawn_only_for_an_exhibit_whose_disposal_stands(exhibit, holding):
    with pytest.raises(bundles.BundleWithdrawalRefused, match="has not been disposed of"):
        bundles.withdraw_bundles_holding(exhibit)
    assert default_storage.exists(holding.pdf_name) and record(holding)["files_withdrawn_at"] is None


@pytest.mark.postgres
def test_the_database_records_a_withdrawal_once_and_keeps_the_rest_of_a_built_bundle_final(
    past_its_date, built, holding, owen, olive
):
    assert on_postgres()
    # Recording a withdrawal is no cover for changing anything else about a built bundle.
    untouched = record(built)
    with pytest.raises(DatabaseError, match="a built bundle is final"), transaction.atomic():
        HandoverBundle.objects.filter(pk=built.pk).update(
            files_withdrawn_at=timezone.now(), files_withdrawn_for=past_its_date, pdf_sha256="0" * 64
        )
    assert record(built) == untouched
    dispose(past_its_date, owen, olive)
    before = record(holding)
    rows = HandoverBundle.objects.filter(pk=holding.pk)
    for change, refusal in (
        ({"files_withdrawn_at": None}, "a withdrawal stands"),
        ({"files_withdrawn": []}, "a withdrawal stands"),
        ({"pdf_sha256": "0" * 64}, "a built bundle is final"),
        ({"manifest": {}}, "a built bundle is final"),
    ):
        with pytest.raises(DatabaseError, match=refusal), transaction.atomic():
            rows.update(**change)
    assert record(holding) == before


# --- what people are offered -------------------------------------------------------------------------------


def test_every_download_of_the_withdrawn_bundle_answers_410_naming_the_exhibit(
    shared, past_its_date, owen, olive, carla, pat
):
    dispose(past_its_date, owen, olive)
    disposed_on = f"{timezone.localtime(Exhibit.objects.get(pk=past_its_date.pk).disposed_at):%-d %B %Y}"
    served = reverse("bundle_download", args=[shared.pk])
    sensitive = reverse("bundle_sensitive_download", args=[shared.pk])
    # The officer, the court recipient (served bundle) and the CPS prosecutor (both parts), each with a live share.
    clients = {user: signed_in(user) for user in (owen, carla, pat)}
    for user, url in ((owen, served), (owen, sensitive), (carla, served), (pat, served), (pat, sensitive)):
        response = clients[user].get(url)
        assert response.status_code == 410, (user.email, url)
        text = page_text(response)
        assert f"bundle OP-LANTERN-1 version 2 on {disposed_on}" in text
        assert "because exhibit VD/3, which it held, was disposed of" in text
        assert f"Exhibit VD/3 was disposed of on {disposed_on}" in text and "under the retention rule" in text
        assert shared.pdf_sha256 in text and "not affected by this portal" in text
        # Each is pointed where they can learn more: officers to the tombstone, others to the officers.
        officer = user == owen
        assert ("tombstone and its signed disposal certificate" in text) == officer
        assert ("ask the scheme's supervising officers" in text) == (not officer)
        assert response.get("Content-Disposition") is None
    assert not BundleAccess.objects.filter(bundle=shared).exists()  # nothing was downloaded


def test_the_verify_page_verifies_a_copy_of_the_withdrawn_bundle_exactly_as_before(
    shared, past_its_date, carla, owen, olive
):
    copy = stored_bytes(shared.pdf_name)  # what Carla downloaded before the disposal
    client = signed_in(carla)

    def verified() -> str:
        from django.core.files.uploadedfile import SimpleUploadedFile

        response = client.post(reverse("bundle_verify"), {"bundle": SimpleUploadedFile("bundle.pdf", copy)})
        assert response.status_code == 200
        return text_of(response)

    before = verified()
    dispose(past_its_date, owen, olive)
    after = verified()

    assert "This bundle passed every check" in after and "This is the file the portal issued on" in after
    assert "Exhibit VD/3: unchanged" in after
    assert "The portal no longer holds this bundle's files: they were withdrawn on" in after
    note = re.search(r"The portal no longer holds this bundle's files: .*? its record in the portal is kept\. ", after)
    assert after.replace(note[0], "") == before


def test_the_bundle_pages_say_files_withdrawn_and_offer_no_download(shared, built, past_its_date, carla, owen, olive):
    dispose(past_its_date, owen, olive)
    served = reverse("bundle_download", args=[shared.pk])
    sensitive = reverse("bundle_sensitive_download", args=[shared.pk])
    summary = "Files withdrawn (exhibit VD/3, which it held, was disposed of on"
    officer = signed_in(owen)

    status = officer.get(reverse("bundle_status", args=[shared.pk]))
    assert summary in text_of(status)
    assert (
        officer.get(reverse("bundle_status", args=[shared.pk]), HTTP_ACCEPT="application/json").json()["download_url"]
        == ""
    )
    pages = {
        "status": status,
        "bundle record": officer.get(reverse("admin:evidence_handoverbundle_change", args=[shared.pk])),
        "bundle list": officer.get(reverse("admin:evidence_handoverbundle_changelist")),
        "tasking": officer.get(reverse("admin:evidence_tasking_change", args=[shared.tasking_id])),
        "inbox": signed_in(carla).get(reverse("bundle_inbox")),
    }
    for page, response in pages.items():
        body = response.content.decode()
        assert summary in text_of(response), page
        assert f'href="{served}"' not in body and f'href="{sensitive}"' not in body, page
    # Version 1 is still offered where it was.
    assert f'href="{reverse("bundle_download", args=[built.pk])}"' in pages["bundle list"].content.decode()
    record_page = text_of(pages["bundle record"])
    assert (
        "the signed PDF (for exhibit VD/3)" in record_page
        and "The bundle's record, SHA-256 and manifest are kept" in record_page
    )
    assert "Share with a court or CPS recipient" not in record_page


def test_a_withdrawn_bundle_is_no_longer_offered_for_sharing(holding, past_its_date, carla, owen, olive):
    officer = signed_in(owen)
    # The officers' home page lists it among the bundles ready to share.
    waiting = f'href="{reverse("bundle_status", args=[holding.pk])}"'
    assert waiting in officer.get(reverse("admin:index")).content.decode()
    share_form = reverse("admin:evidence_bundleshare_add")
    assert f'value="{holding.pk}"' in officer.get(share_form).content.decode()

    dispose(past_its_date, owen, olive)

    assert waiting not in officer.get(reverse("admin:index")).content.decode()
    assert f'value="{holding.pk}"' not in officer.get(share_form).content.decode()
    with pytest.raises(ValidationError, match="its files were withdrawn"):
        services.bundle_share(
            bundle=HandoverBundle.objects.get(pk=holding.pk),
            recipient=carla,
            until=timezone.now() + timedelta(days=7),
            by=owen,
        )
