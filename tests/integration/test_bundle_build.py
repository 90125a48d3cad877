"""The chunked build: what a court sees in the assembled bundle, and how the build survives re-runs,
races, failures and files too large to embed."""

import io
import json
import re
import zipfile
from pathlib import Path

import pikepdf
import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from pypdf import PdfReader

from evidence import bundles
from evidence.models import HandoverBundle
from evidence.statements import statement_save_draft, statement_sign
from evidence.verify import verify, verify_package
from portal.models import AuditEvent, Job
from portal.storage import local_copy
from tests.integration.bundle_helpers import sign_schedules
from tests.integration.test_bundles import CHAT, _exhibit, signing_key  # noqa: F401 (fixture)

JSON_CHAT = json.dumps([{"sender": "dave_77", "text": "are you on your own"}, {"sender": "mia_x", "text": "yes"}])
VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(4000)


def _photo() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (1600, 1200), (30, 90, 160)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def many(assigned_vera, tasking, owen, tmp_path, settings):
    """Five exhibits of four kinds, one chunk each, so the bundle is assembled from many parts."""
    from evidence import services

    settings.PORTAL_BUNDLE_CHUNK_EXHIBITS = 1
    user = assigned_vera.user
    exhibits = [
        _exhibit(user, tasking, tmp_path, "shot.png", _photo(), "image/png"),
        _exhibit(user, tasking, tmp_path, "chat.txt", CHAT * 40, "text/plain"),
        _exhibit(user, tasking, tmp_path, "chat.json", JSON_CHAT.encode(), "application/json"),
        _exhibit(user, tasking, tmp_path, "call.mp4", VIDEO, "video/mp4"),
        _exhibit(user, tasking, tmp_path, "chat2.txt", CHAT * 200, "text/plain"),
    ]
    statement = statement_save_draft(
        tasking=tasking, author=user, body="I produce VD/1 to VD/5.", exhibit_ids=[e.pk for e in exhibits]
    )
    statement_sign(statement=statement, by=user)
    for exhibit in exhibits:
        services.exhibit_review(exhibit=exhibit, decision="accepted", reason="", by=owen)
    return tasking


def _pdf(bundle) -> bytes:
    with default_storage.open(bundle.pdf_name, "rb") as handle:
        return handle.read()


def _pages(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


@pytest.fixture
def built_many(many, owen, signing_key):  # noqa: F811
    sign_schedules(many, owen)
    bundle = bundles.bundle_build(bundles.bundle_request(tasking=many, by=owen))
    assert len(bundle.plan["chunks"]) >= 12  # statements, MG11, MG12, 5 exhibits, 3 continuity, tail
    return bundle


def test_every_page_carries_the_marking_and_its_number_of_the_whole(built_many):
    pages = _pages(_pdf(built_many))
    for number, text in enumerate(pages, start=1):
        assert (
            f"OFFICIAL-SENSITIVE · URN 42 AB 12345 26 · OP-LANTERN-1 handover bundle v1 · Page {number} of {len(pages)}"
            in text
        )
    assert f"{len(pages)} pages" in pages[0]  # the cover says how long the bundle is
    assert built_many.page_count == len(pages)  # and the record too


def test_the_index_gives_the_real_page_of_every_heading(built_many):
    pages = _pages(_pdf(built_many))
    index = next(text for text in pages if text.startswith("Index"))
    listed = dict(re.findall(r"^(.+?) (\d+)$", index, re.MULTILINE))
    expected_headings = {
        "Case summary": "Case summary",
        "Witness statements (MG11)": "Witness statements (MG11)",
        "Exhibit list (MG12)": "Exhibit list (MG12)",
        "Continuity": "Continuity",
        "Unused material (MG6C)": "Unused material (MG6C)",
        "How to verify this bundle": "How to verify this bundle",
    }
    for title, heading in expected_headings.items():
        real = next(n for n, text in enumerate(pages, start=1) if text.startswith(heading))
        assert int(listed[title]) == real, title
    for reference in ["VD/1", "VD/2", "VD/3", "VD/4", "VD/5"]:
        line = next(key for key in listed if key.startswith(f"{reference} — "))
        page = pages[int(listed[line]) - 1]
        assert re.search(rf"^{re.escape(reference)}\n", page, re.MULTILINE), reference  # its heading is there
        assert page.index(reference) < page.index("Page ")
    statement = next(key for key in listed if key.startswith("Statement of Vera Deploy"))
    assert pages[int(listed[statement]) - 1].startswith("Witness statement")


def test_bookmarks_lead_to_their_headings(built_many):
    pdf = _pdf(built_many)
    pages = _pages(pdf)
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        numbers = {page.objgen: n for n, page in enumerate(doc.pages)}
        with doc.open_outline() as outline:
            top = [(item.title, item) for item in outline.root]
            assert [title for title, _ in top] == [
                "Evidence handover bundle",
                "Index",
                "Case summary",
                "Witness statements (MG11)",
                "Exhibit list (MG12)",
                "Exhibits",
                "Continuity",
                "Unused material (MG6C)",
                "How to verify this bundle",
            ]
            exhibits = dict(top)["Exhibits"]
            assert [child.title for child in exhibits.children] == ["VD/1", "VD/2", "VD/3", "VD/4", "VD/5"]
            for title, item in top[1:]:
                page = numbers[item.destination[0].objgen]
                assert title in pages[page], title
            # A bookmark opens its heading where it stands on the page, not merely the page's top.
            heading = dict(top)["Continuity"].destination
            assert heading[1] == "/XYZ" and 0 < float(heading[3]) < float(
                doc.pages[numbers[heading[0].objgen]].mediabox[3]
            )


def test_each_statement_appears_exactly_as_signed(built_many, many):
    statement = many.statements.get()
    with default_storage.open(statement.pdf_name, "rb") as handle:
        signed_pages = _pages(handle.read())
    pages = _pages(_pdf(built_many))
    start = next(n for n, text in enumerate(pages) if text.startswith("Witness statement\n"))
    for offset, signed in enumerate(signed_pages):
        in_bundle = pages[start + offset]
        assert in_bundle.startswith(signed.rstrip()), "the statement's own pages, unchanged, then the bundle's stamp"
    first = " ".join(pages[start].split())
    assert "true to the best of my knowledge and belief" in first  # the s.9 declaration
    assert "Signature: Vera Deploy (signed electronically)" in first


def test_every_exhibit_and_schedule_is_in_the_text_and_transcripts_read_as_messages(built_many, many):
    text = " ".join("\n".join(_pages(_pdf(built_many))).split())
    for exhibit in many.exhibits.all():
        assert exhibit.reference in text and exhibit.sha256 in text
    assert "dave_77: are you on your own" in text  # the JSON export rendered as messages
    assert "video/mp4, 3.9 KB: not rendered in the PDF. The original is embedded in this file" in text
    assert "Schedule of non-sensitive unused material, in the columns of the MG6C" in text
    assert "MG6D" not in text.replace("Sensitive unused material is scheduled on the MG6D", "")  # the CPS's alone


def test_the_assembled_file_is_clean_pdf_a_with_its_natives_attached(built_many, many):
    pdf = _pdf(built_many)
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        assert doc.check_pdf_syntax() == []  # qpdf's own structural check: no errors or warnings
        meta = doc.open_metadata()
        assert meta["pdfaid:part"] == "3" and meta["pdfaid:conformance"] == "B"
        assert "/OutputIntents" in doc.Root and "/AF" in doc.Root
        attached = {name: spec.get_file().read_bytes() for name, spec in doc.attachments.items()}
    manifest = json.loads(attached["manifest.json"])
    assert manifest["bundle"] == built_many.pk and manifest["tasking"] == "OP-LANTERN-1"
    for exhibit in many.exhibits.all():
        import hashlib

        assert hashlib.sha256(attached[bundles.native_name(exhibit)]).hexdigest() == exhibit.sha256
    assert verify(pdf, _cert()).ok


def _cert():
    from django.conf import settings

    return settings.PORTAL_SIGNING_CERT_PATH


def test_a_rerun_renders_only_what_is_missing_and_lands_once(many, owen, signing_key):  # noqa: F811
    sign_schedules(many, owen)
    bundle = bundles.bundle_request(tasking=many, by=owen)
    bundles.bundle_start(bundle)
    first = bundles.bundle_render_chunk(bundle, 3)  # a worker rendered one part, then the build stopped
    record = Path(default_storage.raw_path(bundles.WorkArea(bundle).name("chunk-0003.json")))
    stamp = record.stat().st_mtime_ns
    bundle.refresh_from_db()
    built = bundles.bundle_build(bundle)
    assert record.stat().st_mtime_ns == stamp  # not rendered a second time
    assert bundles.bundle_render_chunk(bundle, 3) == first
    again = bundles.bundle_build(HandoverBundle.objects.get(pk=bundle.pk))
    assert again.pdf_sha256 == built.pdf_sha256
    assert AuditEvent.objects.filter(action="evidence.bundle_built").count() == 1
    assert verify(_pdf(built), _cert()).ok


def test_two_assemblies_racing_land_exactly_one_bundle(many, owen, signing_key):  # noqa: F811
    sign_schedules(many, owen)
    bundle = bundles.bundle_request(tasking=many, by=owen)
    bundles.bundle_start(bundle)
    one, two = HandoverBundle.objects.get(pk=bundle.pk), HandoverBundle.objects.get(pk=bundle.pk)
    landed = bundles.bundle_assemble(one)
    late = bundles.bundle_assemble(two)  # it did all the work, but finds the bundle ready and discards its file
    assert late.pdf_sha256 == landed.pdf_sha256
    with default_storage.open(landed.pdf_name, "rb") as handle:
        import hashlib

        assert hashlib.sha256(handle.read()).hexdigest() == landed.pdf_sha256
    assert HandoverBundle.objects.filter(tasking=many).count() == 1
    assert AuditEvent.objects.filter(action="evidence.bundle_built").count() == 1
    work = Path(default_storage.raw_path(bundles.WorkArea(bundle).prefix))
    leftovers = [p.name for p in work.iterdir() if p.name.startswith(".")]
    assert leftovers == []  # no temporary file left behind


def test_natives_too_large_to_embed_travel_beside_the_pdf_in_a_package(
    many,
    owen,
    signing_key,  # noqa: F811
    settings,
    client,
    tmp_path,
):
    from django.core.management import call_command

    from tests.conftest import enrol_totp, mfa_login

    settings.PORTAL_BUNDLE_EMBED_MAX_BYTES = 2500  # all but the short JSON export are larger than this
    sign_schedules(many, owen)
    bundle = bundles.bundle_build(bundles.bundle_request(tasking=many, by=owen))
    beside = sorted(f["name"] for f in bundle.manifest["files"] if f["location"] == "beside")
    assert beside == ["VD_1.png", "VD_2.txt", "VD_4.mp4", "VD_5.txt"]
    assert bundle.package_name.endswith(".zip") and len(bundle.package_sha256) == 64
    path = tmp_path / "stored.zip"
    path.write_bytes(default_storage.open(bundle.package_name).read())
    with zipfile.ZipFile(path) as archive:
        names = sorted(archive.namelist())
    assert names == [
        "OP-LANTERN-1-v1.pdf",
        "natives/VD_1.png",
        "natives/VD_2.txt",
        "natives/VD_4.mp4",
        "natives/VD_5.txt",
    ]
    report = verify_package(path, _cert())
    assert report.ok, report.failure
    assert "VD_5.txt: SHA-256 and size match the manifest" in report.checks
    text = "\n".join(_pages(_pdf(bundle))).replace("\n", " ")
    assert "supplied beside this file in the bundle package" in text

    mfa_login(client, owen, enrol_totp(owen))
    response = client.get(reverse("bundle_download", args=[bundle.pk]))
    assert response["Content-Type"] == "application/zip"
    assert 'filename="OP-LANTERN-1-bundle-v1.zip"' in response["Content-Disposition"]
    downloaded = tmp_path / "download.zip"
    downloaded.write_bytes(b"".join(response.streaming_content))
    call_command("verify_bundle", str(downloaded))


def test_the_embedded_total_is_capped_so_memory_stays_bounded(many, owen, signing_key, settings):  # noqa: F811
    settings.PORTAL_BUNDLE_EMBED_TOTAL_MAX_BYTES = 5000
    sign_schedules(many, owen)
    bundle = bundles.bundle_build(bundles.bundle_request(tasking=many, by=owen))
    embedded = [f for f in bundle.manifest["files"] if f["location"] == "embedded" and f.get("exhibit")]
    assert sum(f["size"] for f in embedded) <= 5000
    with local_copy(bundle.package_name) as path:
        assert bundle.package_name and verify_package(path, _cert()).ok


def test_a_build_that_fails_says_why_and_a_retry_finishes_it(many, owen, settings, tmp_path):
    from django.core.management import call_command

    from evidence.tasks import bundle_assemble_task

    settings.PORTAL_SIGNING_KEY_PATH = str(tmp_path / "missing-key.pem")
    settings.PORTAL_SIGNING_CERT_PATH = str(tmp_path / "missing-cert.pem")
    sign_schedules(many, owen)
    bundle = bundles.bundle_request(tasking=many, by=owen)
    job = bundles.bundle_job(bundle)
    Job.objects.filter(pk=job.pk).update(state=Job.State.RUNNING)
    bundles.bundle_start(bundle)
    bundle_assemble_task.apply(args=[[], bundle.pk, job.pk])  # no signing key: a failure no retry would fix
    bundle.refresh_from_db()
    job.refresh_from_db()
    assert bundle.state == "failed" and job.state == "failed"
    assert job.last_error.startswith("Assembling and signing failed: ValidationError")
    assert "run `python manage.py create_signing_key`" in job.last_error

    call_command("create_signing_key", "--force")
    assert bundles.bundle_retry(bundle, by=owen)
    bundle.refresh_from_db()
    assert bundle.state == "queued" and bundles.bundle_job(bundle).state == "queued"
    built = bundles.bundle_build(bundle)
    assert built.state == "ready" and verify(_pdf(built), settings.PORTAL_SIGNING_CERT_PATH).ok


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_embedded_broker_builds_a_bundle_as_a_chord_too(
    assigned_vera,
    tasking,
    owen,
    signing_key,  # noqa: F811
    tmp_path,
    use_broker,
    start_worker,
    settings,
):
    """`make demo` runs on SQLite with the SQLAlchemy broker and result backend: the chord works there."""

    from tests.conftest import wait_for
    from tests.integration.bundle_helpers import make_chats

    make_chats(tasking, assigned_vera.user, owen, tmp_path, count=3, repeat=20)

    broker = f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"
    use_broker(broker)
    worker = start_worker(
        broker,
        PORTAL_VAR_DIR=str(tmp_path / "var"),  # the result backend's SQLite file lives here
        PORTAL_PRIVATE_STORAGE=settings.STORAGES["default"]["OPTIONS"]["location"],
        PORTAL_SIGNING_KEY_PATH=settings.PORTAL_SIGNING_KEY_PATH,
        PORTAL_SIGNING_CERT_PATH=settings.PORTAL_SIGNING_CERT_PATH,
        PORTAL_BUNDLE_CHUNK_EXHIBITS="1",
    )
    sign_schedules(tasking, owen)
    bundle = bundles.bundle_request(tasking=tasking, by=owen)
    job = bundles.bundle_job(bundle)
    assert wait_for(lambda: Job.objects.get(pk=job.pk).state == "succeeded", timeout=150), worker.output()
    bundle.refresh_from_db()
    assert bundle.state == "ready" and verify(_pdf(bundle), settings.PORTAL_SIGNING_CERT_PATH).ok
    log = worker.output()
    assert "evidence.bundle_render_chunk" in log and "evidence.bundle_assemble" in log


def _disk_full():
    raise OSError(28, "No space left on device")


def _object_store_unreachable():
    """What botocore itself raises when the bucket's endpoint does not answer (nothing listens there)."""
    import boto3
    from botocore.config import Config

    from tests.conftest import free_port

    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        region_name="eu-west-2",
        aws_access_key_id="k",
        aws_secret_access_key="s",
        config=Config(retries={"max_attempts": 1}),
    )
    client.head_object(Bucket="portal-evidence", Key="bundle-work/1/chunk-0004.json")


@pytest.mark.parametrize("hiccup", [_disk_full, _object_store_unreachable], ids=["disk full", "object store down"])
def test_a_transient_failure_is_retried_and_the_chunk_still_lands(many, owen, monkeypatch, hiccup):
    """A disk or object-store hiccup while rendering a chunk is retried with backoff, not reported as a
    failure of the bundle."""
    from evidence import tasks

    sign_schedules(many, owen)
    bundle = bundles.bundle_request(tasking=many, by=owen)
    job = bundles.bundle_job(bundle)
    bundles.bundle_start(bundle)
    real, calls = bundles.bundle_render_chunk, []

    def flaky(bundle, index):
        calls.append(index)
        if len(calls) == 1:
            hiccup()
        return real(bundle, index)

    monkeypatch.setattr(tasks.bundles, "bundle_render_chunk", flaky)
    result = tasks.bundle_render_chunk_task.apply(args=[bundle.pk, 4, job.pk])
    assert result.successful(), result.traceback
    assert calls == [4, 4] and result.result["pages"] >= 1
    bundle.refresh_from_db()
    assert bundle.state == "building" and bundle.error == ""
    assert tasks.bundle_render_chunk_task.retry_backoff


def test_an_index_of_many_pages_numbers_every_line_right(many, owen, signing_key, monkeypatch):  # noqa: F811
    """The index's length is fixed by its line count (so every later page number is known before it is
    rendered): across several index pages, each continued, every line still gives the heading's real page."""
    from evidence.bundles import assemble

    monkeypatch.setattr(assemble, "INDEX_LINES_PER_PAGE", 3)
    monkeypatch.setattr(assemble, "INDEX_PART_PAGES", 2)  # and rendered in parts of two pages
    sign_schedules(many, owen)
    bundle = bundles.bundle_build(bundles.bundle_request(tasking=many, by=owen))
    pdf = _pdf(bundle)
    assert verify(pdf, _cert()).ok
    pages = _pages(pdf)
    index_pages = [n for n, text in enumerate(pages) if text.startswith(("Index\n", "Index, continued\n"))]
    assert len(index_pages) == 5 and index_pages == list(range(1, 6))  # 13 lines, 3 a page
    listed = {}
    for n in index_pages:
        listed.update(re.findall(r"^(?!OFFICIAL-SENSITIVE)(.+?) (\d+)$", pages[n], re.MULTILINE))
    assert len(listed) == 13
    for reference in ["VD/1", "VD/2", "VD/3", "VD/4", "VD/5"]:
        line = next(key for key in listed if key.startswith(f"{reference} — "))
        assert re.search(rf"^{re.escape(reference)}\n", pages[int(listed[line]) - 1], re.MULTILINE), reference
    assert pages[int(listed["How to verify this bundle"]) - 1].startswith("How to verify this bundle")
    assert all(f"Page {n} of {len(pages)}" in text for n, text in enumerate(pages, start=1))


def test_a_long_transcript_fills_a_chunk_alone_so_no_render_outgrows_its_worker(
    assigned_vera,
    tasking,
    owen,
    tmp_path,
    settings,
    signing_key,  # noqa: F811
):
    """Chunks are cut by estimated pages as well as by count, and continuity by rows; a transcript longer
    than a chunk is cut into runs of messages. Otherwise one export could make a render of any length."""
    from evidence import services
    from evidence.custody import custody_append

    settings.PORTAL_BUNDLE_CHUNK_EXHIBITS, settings.PORTAL_BUNDLE_CHUNK_PAGES = 25, 10
    user = assigned_vera.user
    small = [_exhibit(user, tasking, tmp_path, f"chat{n}.txt", CHAT * 10, "text/plain") for n in range(3)]
    long = _exhibit(user, tasking, tmp_path, "long.txt", CHAT * 300, "text/plain")  # 900 messages: ~45 pages
    last = _exhibit(user, tasking, tmp_path, "last.txt", CHAT * 10, "text/plain")
    for _ in range(100):  # an exhibit opened a hundred times has a long continuity log
        custody_append(exhibit=small[1], action="viewed", actor=owen)
    statement = statement_save_draft(tasking=tasking, author=user, body="I produce them.", exhibit_ids=[])
    statement_sign(statement=statement, by=user)
    for exhibit in [*small, long, last]:
        services.exhibit_review(exhibit=exhibit, decision="accepted", reason="", by=owen)
    sign_schedules(tasking, owen)
    bundle = bundles.bundle_request(tasking=tasking, by=owen)
    plan = bundles.bundle_start(bundle)
    runs = {kind: [c["exhibits"] for c in plan["chunks"] if c["kind"] == kind] for kind in ("exhibits", "continuity")}
    ids = [e.pk for e in [*small, long, last]]
    # A chunk of 10 pages holds about 200 messages: the long transcript is rendered in five runs, a chunk each.
    assert runs["exhibits"] == [ids[:3], *[[long.pk]] * 5, [last.pk]]
    ranges = [c["ranges"][0] for c in plan["chunks"] if c["kind"] == "exhibits" and c["exhibits"] == [long.pk]]
    assert ranges == [[0, 200], [200, 400], [400, 600], [600, 800], [800, 900]]
    assert runs["continuity"] == [ids[:1], ids[1:2], ids[2:]]  # 80 rows at most: the viewed one alone
    built = bundles.bundle_build(bundle)
    assert verify(_pdf(built), _cert()).ok


def test_a_render_leaves_the_cycle_collector_as_it_found_it():
    """Renders run with the collector tuned (evidence.bundles.render.rendering); a worker's other tasks
    then run with the usual thresholds and nothing left frozen, even when the render fails."""
    import gc

    from evidence.bundles.render import rendering

    before = gc.get_threshold()
    with pytest.raises(RuntimeError), rendering():
        assert gc.get_threshold() != before and gc.get_freeze_count() > 0
        raise RuntimeError("the render failed")
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_photographs_are_rendered_inline_and_the_renderer_reaches_nothing_else(built_many, many):
    """The photograph VD/1 appears on its page, drawn from the stored exhibit; the renderer's URL fetcher
    refuses every other address: local files, the web, data: URLs, this bundle's exhibits that are not
    images, and any exhibit that is not this bundle's."""
    from evidence.bundles.render import _fetcher

    pdf = PdfReader(io.BytesIO(_pdf(built_many)))
    page = next(p for p in pdf.pages if re.search(r"^VD/1\n", p.extract_text(), re.MULTILINE))
    assert [(image.image.width, image.image.height) for image in page.images] == [(1600, 1200)]

    photo, chat = many.exhibits.get(reference="VD/1"), many.exhibits.get(reference="VD/2")
    fetch = _fetcher(built_many, built_many.plan).fetch
    with default_storage.open(photo.stored_name, "rb") as handle:
        assert fetch(f"bundle-exhibit:{photo.pk}").read() == handle.read()
    for url in [
        "file:///etc/passwd",
        "https://example.org/tracker.png",
        "data:image/png;base64,iVBORw0KGgo=",
        f"bundle-exhibit:{chat.pk}",
        f"bundle-exhibit:{photo.pk + 1000}",
    ]:
        with pytest.raises(ValueError, match="Not an exhibit image of this bundle"):
            fetch(url)


def _structure(doc) -> tuple[list, list]:
    """Every structure element under the root, with its parent, and the page objects marked content is on."""
    elements, seen = [], set()
    stack = [(doc.Root.StructTreeRoot.K, doc.Root.StructTreeRoot)]
    while stack:
        node, parent = stack.pop()
        if isinstance(node, pikepdf.Array):
            stack.extend((child, parent) for child in node)
            continue
        if not isinstance(node, pikepdf.Dictionary) or node.get("/Type") in ("/MCR", "/OBJR"):
            continue
        if "/S" not in node or node.objgen in seen:
            continue
        seen.add(node.objgen)
        elements.append((node, parent))
        if "/K" in node:
            stack.append((node.K, node))
    return elements, [page.obj for page in doc.pages]


def test_the_bundle_is_a_tagged_pdf_whose_parts_keep_their_tags(built_many):
    """A screen reader reads a bundle as it reads its certificate and MG11: one document in parts, each
    part's headings, paragraphs, tables and images tagged, the page footer an artifact it skips."""
    pdf = _pdf(built_many)
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        root = doc.Root
        assert root.MarkInfo.Marked is True and str(root.Lang) == "en-GB"
        assert root.ViewerPreferences.DisplayDocTitle is True
        assert str(doc.open_metadata()["dc:title"]).startswith("Handover bundle OP-LANTERN-1")
        document = root.StructTreeRoot.K
        assert document.S == "/Document" and document.P.objgen == root.StructTreeRoot.objgen
        parts = list(document.K)
        # the cover, the index and every rendered chunk (statements included) is one part
        assert len(parts) >= 2 + len(built_many.plan["chunks"]) - 1
        assert all(part.S == "/Part" and part.P.objgen == document.objgen for part in parts)

        elements, pages = _structure(doc)
        kinds = {str(element.S) for element, _parent in elements}
        assert {"/H1", "/P", "/Table", "/Figure"} <= kinds, kinds
        page_ids = {page.objgen for page in pages}
        for element, parent in elements:
            assert element.P.objgen == parent.objgen, f"{element.S} names another parent"
            if "/Pg" in element:
                assert element.Pg.objgen in page_ids, f"{element.S} points at a page not in the bundle"

        keys = [int(page.StructParents) for page in pages]
        assert len(set(keys)) == len(keys), "two pages share a parent-tree key"
        tree = pikepdf.NumberTree(root.StructTreeRoot.ParentTree)
        for page, key in zip(pages, keys, strict=True):
            marked = tree[key]
            assert all(item.Pg.objgen == page.objgen for item in marked if "/Pg" in item)
            assert b"/Artifact" in b"".join(
                part.read_bytes()
                for part in (page.Contents if isinstance(page.Contents, pikepdf.Array) else [page.Contents])
            ), "the page footer is not marked as an artifact"
        assert int(root.StructTreeRoot.ParentTreeNextKey) > max(keys)
