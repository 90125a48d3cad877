"""Exhibit uploads in a real browser: hashed in a Web Worker, streamed with progress, checked by the server.

The page's script (evidence/static/evidence/js/upload.js) and worker (hash-worker.js) need
`npm run build` (it copies @noble/hashes into evidence/static/evidence/vendor/).
"""

from __future__ import annotations

import hashlib
import random
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from evidence.models import Exhibit
from tests.browser.conftest import axe_violations
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TIMEOUT_MS = 60_000


def png_bytes(size: int, seed: int = 1) -> bytes:
    """`size` bytes the server sniffs as a PNG: the signature, then deterministic noise."""
    noise = random.Random(seed).randbytes(size - len(PNG_SIGNATURE))
    return PNG_SIGNATURE + noise


def sign_in_and_open_tasking(page, live_server, volunteer, tasking) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(volunteer.user.email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/taskings/{tasking.pk}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(tasking.title)
    # Exhibits have a page of their own, one step from the tasking's overview.
    page.get_by_role("navigation", name="Pages of this tasking").get_by_role("link", name="Exhibits").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Exhibits")


def fill_details(page) -> None:
    captured = (timezone.localtime() - timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M")
    page.get_by_label("Description").fill("Chat with the suspect, both sides, from first contact.")
    page.get_by_label("Platform").fill("Platform X")
    page.get_by_label("The other party's account identifiers").fill("user_4471")
    page.get_by_label("Web address (optional)").fill("https://platform.example/chat/4471")
    page.get_by_label("Time of capture (UK time)").fill(captured)
    page.get_by_label("Capture method").fill("Platform export")


def choose_files(page, *files: tuple[str, bytes]) -> None:
    page.locator('form[data-exhibit-upload] input[type="file"]').set_input_files(
        [{"name": name, "mimeType": "application/octet-stream", "buffer": data} for name, data in files]
    )


def drop_files(page, *files: tuple[str, bytes]) -> None:
    """Drop files on the drop zone, as a drag from the desktop would."""
    transfer = page.evaluate_handle(
        """(files) => {
            const transfer = new DataTransfer();
            for (const {name, bytes} of files) {
                transfer.items.add(new File([new Uint8Array(bytes)], name));
            }
            return transfer;
        }""",
        [{"name": name, "bytes": list(data)} for name, data in files],
    )
    zone = page.locator(".app-drop-zone")
    zone.dispatch_event("dragenter", {"dataTransfer": transfer})
    expect(zone).to_have_class(re.compile("app-drop-zone--dragging"))
    zone.dispatch_event("drop", {"dataTransfer": transfer})
    expect(zone).not_to_have_class(re.compile("app-drop-zone--dragging"))


def wait_until_received(page, index: int, reference: str) -> None:
    item = page.locator(".app-upload-progress__item").nth(index)
    expect(item.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100", timeout=TIMEOUT_MS)
    expect(item).to_contain_text(f"Received as {reference}", timeout=TIMEOUT_MS)


def assert_received_with_browser_hash(reference: str, data: bytes) -> Exhibit:
    exhibit = Exhibit.objects.get(reference=reference)
    expected = hashlib.sha256(data).hexdigest()
    assert exhibit.browser_sha256 == expected  # calculated in the page's worker and sent in the header
    assert exhibit.sha256 == expected and exhibit.size == len(data)
    assert exhibit.sniffed_type == "image/png"
    assert "hash_verified" in list(exhibit.custody.values_list("action", flat=True))
    return exhibit


def test_an_exhibit_is_hashed_in_the_browser_and_streamed_with_progress(page, live_server, assigned_vera, tasking):
    sign_in_and_open_tasking(page, live_server, assigned_vera, tasking)
    assert axe_violations(page) == []
    # The script took over: the native input takes several files, in a visible drop zone.
    expect(page.get_by_label("Files", exact=True)).to_have_attribute("multiple", "")
    expect(page.locator(".app-drop-zone")).to_contain_text("drag and drop files")

    data = png_bytes(3 * 1024 * 1024)
    fill_details(page)
    choose_files(page, ("capture.png", data))
    page.get_by_role("button", name="Upload exhibit").click()

    wait_until_received(page, 0, "VD/1")
    sha256 = hashlib.sha256(data).hexdigest()
    expect(page.locator(".app-upload-progress__item").first).to_contain_text(sha256)
    expect(page.locator("[data-exhibit-upload-status]")).to_contain_text("1 exhibit received: VD/1")
    # The table of exhibits is fetched again from the server, without a reload.
    expect(page.locator("#exhibit-list .govuk-summary-card")).to_contain_text("VD/1")
    expect(page.locator("#exhibit-list .govuk-summary-card")).to_contain_text("Awaiting review")
    expect(page.get_by_label("Platform")).to_have_value("")
    assert page.locator(".govuk-error-summary").count() == 0

    assert_received_with_browser_hash("VD/1", data)
    assert axe_violations(page) == []


def test_the_content_security_policy_allows_the_script_and_the_worker(browser, live_server, assigned_vera, tasking):
    # No bypass_csp here: the portal's real policy governs the page, its module scripts and the starting of
    # the worker (worker-src falls back to script-src 'self'). The worker's own imports follow the policy
    # sent with the worker script, and static files are served without one.
    context = browser.new_context(locale="en-GB", timezone_id="Europe/London")
    try:
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
        # Injected by the browser's debugging protocol, which the policy does not govern.
        page.add_init_script(
            """window.__cspViolations = [];
            document.addEventListener("securitypolicyviolation", (event) => {
                window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
            });"""
        )
        sign_in_and_open_tasking(page, live_server, assigned_vera, tasking)
        # The module script runs after the page is parsed: wait for it (its class proves it ran).
        expect(page.locator("body")).to_have_class(re.compile(r"\bgovuk-frontend-supported\b"))

        data = png_bytes(1024 * 1024, seed=2)
        fill_details(page)
        choose_files(page, ("screen.png", data))
        page.get_by_role("button", name="Upload exhibit").click()
        wait_until_received(page, 0, "VD/1")
        assert_received_with_browser_hash("VD/1", data)

        def csp_messages() -> list[str]:
            return [line for line in console if re.search(r"Content Security Policy|Refused to", line, re.I)]

        assert csp_messages() == [], console
        assert page.evaluate("window.__cspViolations") == []
        assert [line for line in console if line.startswith(("error", "pageerror"))] == [], console

        # The watch works: an inline style attribute is refused and reported.
        page.evaluate("document.body.setAttribute('style', 'color: red')")
        page.wait_for_function("window.__cspViolations.length > 0")
        assert csp_messages() != []
    finally:
        context.close()


def test_several_dropped_files_each_get_a_reference_and_a_refused_one_is_explained(
    page, live_server, assigned_vera, tasking
):
    sign_in_and_open_tasking(page, live_server, assigned_vera, tasking)
    first, second = png_bytes(48 * 1024, seed=3), png_bytes(64 * 1024, seed=4)
    program = b"MZ\x90\x00" + b"\x00" * 4096
    fill_details(page)
    drop_files(page, ("one.png", first), ("holiday.png", program), ("two.png", second))
    assert page.get_by_label("Files", exact=True).evaluate("input => input.files.length") == 3
    expect(page.locator("[data-exhibit-upload-status]")).to_have_text("3 files chosen: one.png, holiday.png, two.png.")
    page.get_by_role("button", name="Upload exhibit").click()

    wait_until_received(page, 0, "VD/1")
    wait_until_received(page, 2, "VD/2")
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("holiday.png: This type of file cannot be accepted", timeout=TIMEOUT_MS)
    expect(summary).to_be_focused()
    expect(page.locator(".app-upload-progress__item").nth(1)).to_contain_text("cannot be accepted")
    assert page.title().startswith("Error: ")
    # The details stay for another try; the files already received are not sent again.
    expect(page.get_by_label("Platform")).to_have_value("Platform X")
    assert_received_with_browser_hash("VD/1", first)
    assert_received_with_browser_hash("VD/2", second)
    assert Exhibit.objects.count() == 2
    assert axe_violations(page) == []


def test_details_the_server_refuses_are_shown_on_the_fields(page, live_server, assigned_vera, tasking):
    sign_in_and_open_tasking(page, live_server, assigned_vera, tasking)
    fill_details(page)
    page.get_by_label("Platform").fill("")
    choose_files(page, ("one.png", png_bytes(64 * 1024, seed=5)), ("two.png", png_bytes(64 * 1024, seed=6)))
    page.get_by_role("button", name="Upload exhibit").click()

    summary = page.locator(".govuk-error-summary")
    expect(summary.get_by_role("link", name="Enter the platform")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator("#id_platform-error")).to_contain_text("Enter the platform")
    expect(page.locator(".app-upload-progress__item").nth(1)).to_contain_text("Not uploaded")
    assert not Exhibit.objects.exists()
    assert axe_violations(page) == []
    summary.get_by_role("link", name="Enter the platform").click()
    expect(page.get_by_label("Platform")).to_be_focused()


def test_without_javascript_the_form_still_posts_one_file(browser, live_server, assigned_vera, tasking):
    context = browser.new_context(java_script_enabled=False, locale="en-GB", timezone_id="Europe/London")
    try:
        page = context.new_page()
        sign_in_and_open_tasking(page, live_server, assigned_vera, tasking)
        expect(page.locator('input[type="file"]')).not_to_have_attribute("multiple", "")
        data = png_bytes(128 * 1024, seed=7)
        fill_details(page)
        choose_files(page, ("plain.png", data))
        page.get_by_role("button", name="Upload exhibit").click()
        expect(page.get_by_role("alert", name="Success")).to_contain_text("Exhibit VD/1 received")
        exhibit = Exhibit.objects.get(reference="VD/1")
        assert exhibit.sha256 == hashlib.sha256(data).hexdigest() and exhibit.browser_sha256 == ""

        # A post the portal refuses comes back without the file (browsers never keep it): she is told to
        # choose it again, beside the file input, and what she typed is kept.
        fill_details(page)
        page.get_by_label("Platform").fill("")
        choose_files(page, ("second.png", png_bytes(1024, seed=8)))
        page.get_by_role("button", name="Upload exhibit").click()
        summary = page.locator(".govuk-error-summary")
        expect(summary.get_by_role("link", name="Enter the platform")).to_be_visible()
        again = summary.get_by_role("link", name=re.compile("^Choose the file again"))
        expect(again).to_be_visible()
        expect(page.locator("#id_file-error")).to_contain_text("Choose the file again")
        expect(page.get_by_label("Description")).to_have_value("Chat with the suspect, both sides, from first contact.")
        assert page.title().startswith("Error: ")
        assert Exhibit.objects.count() == 1  # (axe needs JavaScript: test_volunteer_pages checks this page)
    finally:
        context.close()


# --- resumable: a dropped connection, and a page closed mid-upload -------------------------------------

MiB = 1024 * 1024


def _patches(page) -> list[tuple[str, str]]:
    """Every resumable-upload request the page sends, as (method, Upload-Offset)."""
    seen: list[tuple[str, str]] = []
    page.on(
        "request",
        lambda request: (
            "/uploads/" in request.url
            and request.method in {"HEAD", "PATCH", "POST"}
            and seen.append((request.method, request.headers.get("upload-offset", "")))
        ),
    )
    return seen


def test_a_dropped_connection_mid_upload_resumes_from_what_the_portal_holds(
    page, live_server, assigned_vera, tasking, settings
):
    settings.PORTAL_RESUMABLE_CHUNK_BYTES = MiB
    data = png_bytes(3 * MiB + 777, seed=7)
    sign_in_and_open_tasking(page, live_server, assigned_vera, tasking)
    seen = _patches(page)
    dropped: list[str] = []

    def drop_the_second_piece(route):
        if route.request.method == "PATCH" and route.request.headers.get("upload-offset") == str(MiB) and not dropped:
            dropped.append(route.request.url)
            route.abort("connectionreset")  # the Wi-Fi drops as the second megabyte leaves
        else:
            route.continue_()

    page.route("**/uploads/**", drop_the_second_piece)
    fill_details(page)
    choose_files(page, ("capture.png", data))
    page.get_by_role("button", name="Upload").click()
    wait_until_received(page, 0, "VD/1")
    exhibit = assert_received_with_browser_hash("VD/1", data)
    assert dropped
    patches = [offset for method, offset in seen if method == "PATCH"]
    # The piece lost with the connection is sent again from the byte the portal holds, and no other is.
    assert patches == ["0", str(MiB), str(MiB), str(2 * MiB), str(3 * MiB)], seen
    assert exhibit.custody.filter(action="uploaded").count() == 1


def test_a_page_closed_mid_upload_continues_where_it_stopped_when_the_file_is_chosen_again(
    page, live_server, assigned_vera, tasking, settings, tmp_path
):
    settings.PORTAL_RESUMABLE_CHUNK_BYTES = MiB
    data = png_bytes(3 * MiB, seed=8)
    on_disk = tmp_path / "long-chat.png"  # chosen from disk both times, as she would: same name, size and date
    on_disk.write_bytes(data)
    file_input = page.locator('form[data-exhibit-upload] input[type="file"]')
    sign_in_and_open_tasking(page, live_server, assigned_vera, tasking)
    held = []

    def stop_after_the_first_piece(route):
        if route.request.method == "PATCH" and route.request.headers.get("upload-offset") != "0":
            held.append(route.request.url)
            route.abort("internetdisconnected")  # the lid closes: nothing more leaves this laptop
        else:
            route.continue_()

    page.route("**/uploads/**", stop_after_the_first_piece)
    fill_details(page)
    file_input.set_input_files(on_disk)
    # (Route handlers run only while this thread is inside a Playwright call: wait in one, not in the database.)
    with page.expect_event("requestfailed", lambda request: request.method == "PATCH", timeout=TIMEOUT_MS):
        page.get_by_role("button", name="Upload").click()
    from evidence.models import ResumableUpload

    assert list(ResumableUpload.objects.values_list("offset", flat=True)) == [MiB]  # the first piece is in
    page.goto(page.url)  # she closes the page; later she opens it again, in the same browser
    page.unroute("**/uploads/**")

    seen = _patches(page)
    fill_details(page)
    file_input.set_input_files(on_disk)
    page.get_by_role("button", name="Upload").click()
    wait_until_received(page, 0, "VD/1")
    assert_received_with_browser_hash("VD/1", data)
    assert ("POST", "") not in seen  # not a new upload: the stored one, continued
    assert next(offset for method, offset in seen if method == "PATCH") == str(MiB), seen
    (upload,) = ResumableUpload.objects.all()  # kept, without its file, to answer a repeated request
    assert upload.exhibit.reference == "VD/1" and upload.offset == len(data)
