"""The whole scheme, end to end, in a real browser on a laptop (1280 px) and on a phone (320 px), against the
live portal on PostgreSQL with Redis as the broker and a real Celery worker building the bundle.

Ada, Lantern's scheme administrator, invites Owen (supervising officer) and Wendy (welfare officer), who set up
MFA from the e-mailed link. Owen invites Vera, who applies and accepts the code of conduct; Owen records her
vetting; Wendy records her screening; Vera passes the curriculum; Owen accredits her, records an authorisation,
creates a tasking and assigns her (she is told). She finds it from her dashboard, uploads two exhibits (hashed in
the browser, with progress), adds a note, checks and signs her MG11. Owen reviews the exhibits with their
preview, schedules one as unused material, requests the bundle, watches the worker build it and shares it with
Carla, a court user, who is told, downloads it and verifies it.

Every page each of them sees passes axe-core (WCAG 2.2 AA) and does not scroll sideways; each step fails naming
its pages. Each page's screenshot is saved as NN-step-page-WIDTH.png in the folder the run prints
(PORTAL_JOURNEY_SCREENSHOTS, or one under the test's tmp_path).
"""

from __future__ import annotations

import hashlib
import io
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.journey_helpers import (
    Journey,
    accept_staff_invitation,
    answer_correctly,
    choose_option,
    link_in_latest_mail,
    mails_to,
    open_admin_list,
    open_header_link,
    screenshot_folder,
    sign_in,
)
from tests.conftest import PASSWORD, enrol_totp, wait_for

pytestmark = [
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
]

STAFF_PASSWORD = "a-long-and-unusual-passphrase"
VOLUNTEER_PASSWORD = "another-long-unusual-passphrase"
OPERATION = "OP-KESTREL-7"
# What only the portal may hold: none of it may appear in any e-mail.
PERSONA = "Mia, 13, from Leeds"
OBJECTIVE = "Identify adults who groom children in the chat rooms of Platform X."
CHAT = (
    b"[19:01] dave_77: hi mia\n[19:02] mia_x: hello\n[19:03] dave_77: how old are you\n"
    b"[19:04] mia_x: 13\n[19:06] dave_77: are your parents home\n"
)
NOTE = "19:02 contact made by dave_77 in the Platform X lobby; exported the chat at 19:20."
STATEMENT = (
    "I am an accredited volunteer of the Lantern Partnership. At 19:01 the account dave_77 wrote to the persona. "
    "I exported the whole conversation at 19:20 and produce it as exhibit VD/1."
)


def png_image() -> bytes:
    """A real screenshot-like PNG the review page can show."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (480, 320), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 480, 40), fill=(40, 60, 120))
    draw.text((12, 12), "Platform X: dave_77's profile", fill="white")
    for row in range(6):
        draw.text((12, 60 + row * 36), f"Post {row + 1}: holiday photos", fill="black")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def platform(settings, tmp_path):
    """Set up in Python because the portal has no screen for it: the scheme and its first administrator, the
    platform superuser (court accounts belong to no scheme, so only a superuser can invite one in the admin;
    the superuser also publishes the platform's code of conduct there), both with an authenticator already
    set up as the first accounts would be; the curriculum (its management command) and the bundle signing
    key (its management command). Everything else happens in the browser."""
    from django.core.management import call_command

    from portal import roles
    from portal.models import Scheme
    from tests.conftest import make_person

    settings.PORTAL_SIGNING_KEY_PATH = str(tmp_path / "signing-key.pem")
    settings.PORTAL_SIGNING_CERT_PATH = str(tmp_path / "signing-cert.pem")
    call_command("create_signing_key", "--force")
    call_command("seed_curriculum")
    lantern = Scheme.objects.create(name="Lantern Partnership", code="lantern")
    ada = make_person("ada@lantern.example", roles.SCHEME_ADMIN, lantern, full_name="Ada Administrator")
    root = make_person("root@platform.example", None)
    return {"scheme": lantern, "ada": (ada, enrol_totp(ada)), "root": (root, enrol_totp(root))}


@pytest.fixture
def worker(platform, throwaway_redis, use_broker, start_worker, settings, live_server):
    """A real Celery worker on a Redis of its own, sharing the test's database, files and signing key; its
    e-mail goes to its log (the console backend), which is where the test reads it."""
    throwaway_redis.start()
    use_broker(throwaway_redis.url)
    return start_worker(
        throwaway_redis.url,
        PORTAL_PRIVATE_STORAGE=settings.STORAGES["default"]["OPTIONS"]["location"],
        PORTAL_SIGNING_KEY_PATH=settings.PORTAL_SIGNING_KEY_PATH,
        PORTAL_SIGNING_CERT_PATH=settings.PORTAL_SIGNING_CERT_PATH,
        PORTAL_BASE_URL=live_server.url,
    )


def no_evidence_in(messages) -> None:
    for message in messages:
        for secret in (PERSONA, OBJECTIVE, NOTE, "dave_77", "how old are you", "I exported"):
            assert secret not in message.body and secret not in message.subject, (message.subject, secret)


@pytest.mark.parametrize("width", [1280, 320])
def test_the_whole_scheme_from_invitation_to_a_verified_court_bundle(
    browser, live_server, platform, worker, width, tmp_path, request
):
    from evidence.models import Exhibit, HandoverBundle
    from training.models import Module

    base = live_server.url
    journey = Journey(browser, base, width, screenshot_folder(tmp_path, width, request.config))
    ada_user, ada_secret = platform["ada"]
    root_user, root_secret = platform["root"]

    # --- Ada invites Owen and Wendy; each sets up MFA from the e-mailed link --------------------------------
    with journey.step("administrator invites staff"):
        ada = journey.window()
        sign_in(ada, base, ada_user.email, PASSWORD, ada_secret)
        journey.look(ada, "admin home")
        for email, name, role in (
            ("owen@lantern.example", "Owen Officer", "Supervising officer"),
            ("wendy@lantern.example", "Wendy Welfare", "Welfare officer"),
        ):
            open_admin_list(ada, base, "user")
            journey.look(ada, "users")
            ada.get_by_role("link", name=re.compile("^Add user")).click()
            journey.look(ada, f"add {role}")
            ada.get_by_label("E-mail address").fill(email)
            ada.get_by_label("Full name").fill(name)
            ada.get_by_label(role, exact=True).check()
            ada.locator("input[name=_save]").click()
            expect(ada.locator("body")).to_contain_text(f"Added {name}. We have emailed {email} a link")
            journey.look(ada, f"{role} invited")

    with journey.step("officer sets up his account"):
        owen = journey.window()
        accept_staff_invitation(
            journey, owen, link_in_latest_mail("owen@lantern.example", r"/staff-invitations/\S+/"), STAFF_PASSWORD
        )
        owen.wait_for_url(f"{base}/admin/")
        journey.look(owen, "officer admin")

    with journey.step("welfare officer sets up her account"):
        wendy = journey.window()
        accept_staff_invitation(
            journey, wendy, link_in_latest_mail("wendy@lantern.example", r"/staff-invitations/\S+/"), STAFF_PASSWORD
        )
        journey.look(wendy, "landing page")

    # --- The platform superuser creates Carla's court account in the admin; she sets up MFA -------------------
    with journey.step("court user is invited"):
        root = journey.window()
        sign_in(root, base, root_user.email, PASSWORD, root_secret)
        root.goto(f"{base}/admin/portal/user/add/")
        journey.look(root, "add court user")
        root.get_by_label("E-mail address").fill("carla@court.example")
        root.get_by_label("Full name").fill("Carla Clerk")
        root.get_by_label("Court / CPS recipient", exact=True).check()
        root.get_by_label("Receives bundles as").select_option(label="Court")  # the served bundle only, ever
        root.locator("input[name=_save]").click()
        expect(root.locator("body")).to_contain_text("Added Carla Clerk")
        journey.look(root, "court user invited")
        carla = journey.window()
        accept_staff_invitation(
            journey, carla, link_in_latest_mail("carla@court.example", r"/staff-invitations/\S+/"), STAFF_PASSWORD
        )
        journey.look(carla, "court landing page")
        # The code of conduct volunteers accept is the platform's: the superuser publishes it.
        from volunteers import conduct_text

        root.goto(f"{base}/admin/volunteers/codeofconduct/add/")
        journey.look(root, "publish code of conduct")
        root.get_by_label("Title").fill(conduct_text.TITLE)
        root.get_by_label("Text").fill(conduct_text.TEXT)
        root.locator("input[name=_save]").click()
        journey.look(root, "code of conduct published")

    # --- Owen invites Vera; she applies and accepts the code of conduct ---------------------------------------
    with journey.step("officer invites a volunteer"):
        open_admin_list(owen, base, "invitation")
        journey.look(owen, "invitations")
        owen.get_by_role("link", name=re.compile("^Add invitation")).click()
        journey.look(owen, "new invitation")
        owen.get_by_label("E-mail address").fill("vera@example.org")
        owen.get_by_label("Full name").fill("Vera Daniels")
        owen.locator("input[name=_save]").click()
        journey.look(owen, "invitation sent")

    with journey.step("volunteer applies"):
        vera = journey.window()
        vera.goto(link_in_latest_mail("vera@example.org", r"/invitations/\S+/"))
        expect(vera.get_by_role("heading", level=1)).to_contain_text("Apply to join Lantern Partnership")
        journey.look(vera, "application form")
        vera.get_by_label("Full name").fill("Vera Daniels")
        born = vera.get_by_role("group", name="Date of birth")
        born.get_by_label("Day").fill("27")
        born.get_by_label("Month").fill("3")
        born.get_by_label("Year").fill("1990")
        vera.get_by_label("Phone number").fill("07700 900123")
        vera.get_by_label("Current address").fill("1 High Street, Anytown, AN1 1AA")
        since = vera.get_by_role("group", name="Lived there since")
        since.get_by_label("Day").fill("1")
        since.get_by_label("Month").fill("1")
        since.get_by_label("Year").fill("2015")
        vera.get_by_label("Create a password").fill(VOLUNTEER_PASSWORD)
        vera.get_by_label("Confirm your password").fill(VOLUNTEER_PASSWORD)
        vera.get_by_label("I have read the code of conduct").check()
        vera.get_by_role("button", name="Submit application").click()
        vera.wait_for_url(f"{base}/")
        expect(vera.get_by_role("heading", level=1)).to_have_text("Your dashboard")
        expect(vera.locator("main")).to_contain_text("You cannot be deployed yet")
        journey.look(vera, "dashboard after applying")

    # --- Owen records her vetting -----------------------------------------------------------------------------
    with journey.step("officer records vetting"):
        from volunteers.models import VettingCheck

        open_admin_list(owen, base, "vettingrecord")
        journey.look(owen, "vetting records")
        owen.get_by_role("link", name=re.compile("^Add vetting record")).click()
        journey.look(owen, "new vetting record")
        choose_option(owen.get_by_label("Volunteer"), "Vera Daniels")
        owen.get_by_label("Vetting level").select_option("MV")
        kinds = VettingCheck.Kind.choices
        for index, (_, label) in enumerate(kinds):
            if index:
                owen.get_by_role("button", name=re.compile("Add another")).click()
            owen.locator(f"#id_checks-{index}-kind").select_option(label=label)
            owen.locator(f"#id_checks-{index}-result").select_option(label="Satisfactory")
            owen.locator(f"#id_checks-{index}-notes").fill("Seen and satisfactory.")
        owen.get_by_label("Outcome").select_option(label="Cleared")
        owen.locator("input[name=_save]").click()
        expect(owen.locator(".messagelist")).to_contain_text("was added successfully")
        journey.look(owen, "vetting recorded")

    # --- Wendy records her screening ----------------------------------------------------------------------------
    with journey.step("welfare officer records screening"):
        wendy.goto(f"{base}/")
        open_header_link(wendy, "Welfare")
        journey.look(wendy, "welfare console")
        wendy.get_by_label("Name or e-mail").fill("Vera")
        wendy.get_by_role("button", name="Apply").click()
        wendy.get_by_role("link", name="Vera Daniels").click()
        journey.look(wendy, "person")
        wendy.get_by_role("button", name="Record a screening").click()
        journey.look(wendy, "screening form")
        wendy.get_by_label("Pre-deployment").check()
        today = timezone.localdate()
        screened = wendy.get_by_role("group", name="Date of screening")
        screened.get_by_label("Day").fill(str(today.day))
        screened.get_by_label("Month").fill(str(today.month))
        screened.get_by_label("Year").fill(str(today.year))
        wendy.get_by_label("Provider").fill("Occupational Health Ltd")
        wendy.get_by_label("Fit", exact=True).check()
        wendy.get_by_label("Clinical notes").fill("Resilient; good support at home.")
        wendy.get_by_role("button", name="Save screening").click()
        expect(wendy.get_by_role("alert", name="Success")).to_be_visible()
        journey.look(wendy, "screening saved")

    # --- Vera passes the curriculum --------------------------------------------------------------------------------
    with journey.step("volunteer passes the curriculum"):
        vera.goto(f"{base}/")
        open_header_link(vera, "Training")
        journey.look(vera, "training")
        for number, module in enumerate(Module.objects.filter(mandatory=True).order_by("order")):
            version = module.versions.order_by("-number").first()
            vera.get_by_role("link", name=module.title, exact=True).click()
            journey.look(vera, f"module {module.slug}")  # each module's own content
            vera.get_by_role("button", name="Start the assessment").click()
            vera.wait_for_url("**/training/attempts/*/")
            if number == 0:  # the assessment and result pages are one template whatever the module
                journey.look(vera, f"assessment {module.slug}")
            answer_correctly(vera, version)
            vera.get_by_role("button", name="Submit answers").click()
            vera.wait_for_url("**/result/")
            expect(vera.get_by_role("heading", level=1)).to_contain_text("You passed")
            if number == 0:
                journey.look(vera, f"passed {module.slug}")
            open_header_link(vera, "Training")
        expect(vera.locator(".govuk-task-list")).not_to_contain_text("Not started")
        journey.look(vera, "training all passed")

    # --- Owen accredits her, records the authorisation, creates the tasking and assigns her -------------------
    with journey.step("officer accredits the volunteer"):
        open_admin_list(owen, base, "volunteer")
        journey.look(owen, "volunteers")
        owen.get_by_role("link", name="Vera Daniels").click()
        journey.look(owen, "volunteer")
        owen.get_by_role("link", name="Change status (with a reason)").click()
        journey.look(owen, "change status")
        owen.get_by_label("New status").select_option(label="Accredited")
        owen.get_by_label("Reason").fill("Vetted, screened fit and trained.")
        owen.get_by_role("button", name="Change status").click()
        expect(owen.locator(".messagelist")).to_contain_text("Status changed.")
        expect(owen.locator("body")).to_contain_text("Deployable.")
        journey.look(owen, "accredited")

    with journey.step("officer records an authorisation and a tasking"):
        now = timezone.localtime()
        open_admin_list(owen, base, "authorisation")
        journey.look(owen, "authorisations")
        owen.get_by_role("link", name=re.compile("^Add authorisation")).click()
        journey.look(owen, "new authorisation")
        choose_option(owen.get_by_label("Type"), "CHIS")
        owen.get_by_label("Reference").fill("CHIS-2027-0142")
        owen.get_by_label("Authorising officer:", exact=True).fill("Sarah Grant")
        owen.get_by_label("Authorising officer's rank").fill("Superintendent")
        granted = now - timedelta(hours=2)
        owen.locator("#id_granted_at_0").fill(granted.strftime("%d/%m/%Y"))
        owen.locator("#id_granted_at_1").fill(granted.strftime("%H:%M:%S"))
        owen.locator("input[name=_save]").click()
        expect(owen.locator(".messagelist")).to_contain_text("was added successfully")
        journey.look(owen, "authorisation recorded")

        open_admin_list(owen, base, "tasking")
        journey.look(owen, "taskings")
        owen.get_by_role("link", name=re.compile("^Add tasking")).click()
        journey.look(owen, "new tasking")
        owen.get_by_label("Operation reference").fill(OPERATION)
        owen.get_by_label("Title:", exact=True).fill("Chat room monitoring")
        owen.get_by_label("Objective").fill(OBJECTIVE)
        owen.get_by_label("Permitted conduct").fill("Respond only; never initiate sexual talk or propose a meeting.")
        owen.get_by_label("Platforms").fill("Platform X")
        owen.get_by_label("Persona:", exact=True).fill(PERSONA)
        start, end = now - timedelta(hours=1), now + timedelta(days=14)
        owen.locator("#id_window_start_0").fill(start.strftime("%d/%m/%Y"))
        owen.locator("#id_window_start_1").fill(start.strftime("%H:%M:%S"))
        owen.locator("#id_window_end_0").fill(end.strftime("%d/%m/%Y"))
        owen.locator("#id_window_end_1").fill(end.strftime("%H:%M:%S"))
        choose_option(owen.get_by_label("Authorisation"), "CHIS-2027-0142")
        owen.get_by_label("Handler").select_option(label="Owen Officer")
        owen.get_by_label("Controller").select_option(label="Owen Officer")
        owen.get_by_label("URN").fill("42 ab 12345 26")  # as people type it: kept as 42AB1234526
        owen.get_by_label("Officer in the case").fill("DC 4521 Owen Officer")
        mail.outbox.clear()
        owen.get_by_label("Assign volunteers").select_option(label="Vera Daniels")
        owen.locator("input[name=_save]").click()
        expect(owen.locator(".messagelist")).to_contain_text("was added successfully")
        journey.look(owen, "tasking created")
        # Activate it from the list, with the action officers use.
        owen.locator("tr", has_text=OPERATION).locator("input[name=_selected_action]").check()
        owen.locator("select[name=action]").select_option(label="Activate the selected taskings")
        owen.get_by_role("button", name="Go").click()
        expect(owen.locator(".messagelist")).to_contain_text(f"{OPERATION} is now active.")
        journey.look(owen, "tasking active")

    # She is told: an e-mail (with nothing of the evidence or the operation in it) and a notice.
    (assigned,) = mails_to("vera@example.org")
    assert OPERATION in assigned.subject
    no_evidence_in([assigned])

    with journey.step("volunteer finds her tasking"):
        vera.goto(f"{base}/")
        expect(vera.locator("main")).to_contain_text("You can be deployed")
        expect(vera.locator("main")).to_contain_text("You have 1 unread notice")
        journey.look(vera, "dashboard deployable")
        open_header_link(vera, "Notices")
        expect(vera.locator("main")).to_contain_text(f"You have a new tasking: {OPERATION}")
        journey.look(vera, "notices")
        vera.goto(f"{base}/")
        vera.get_by_role("link", name=f"{OPERATION}: Chat room monitoring").click()
        expect(vera.get_by_role("heading", level=1)).to_have_text("Chat room monitoring")
        journey.look(vera, "tasking")

    with journey.step("volunteer uploads exhibits"):
        vera.get_by_role("navigation", name="Pages of this tasking").get_by_role("link", name="Exhibits").click()
        expect(vera.get_by_role("heading", level=1)).to_have_text("Exhibits")
        journey.look(vera, "exhibits")
        captured = (timezone.localtime() - timedelta(minutes=30)).strftime("%Y-%m-%d %H:%M")
        vera.get_by_label("Description").fill("Chat with dave_77 and a screenshot of his profile.")
        vera.get_by_label("Platform").fill("Platform X")
        vera.get_by_label("The other party's account identifiers").fill("dave_77")
        vera.get_by_label("Time of capture (UK time)").fill(captured)
        vera.get_by_label("Capture method").fill("Platform export and screenshot")
        picture = png_image()
        vera.locator('form[data-exhibit-upload] input[type="file"]').set_input_files(
            [
                {"name": "chat.txt", "mimeType": "text/plain", "buffer": CHAT},
                {"name": "profile.png", "mimeType": "image/png", "buffer": picture},
            ]
        )
        vera.get_by_role("button", name="Upload exhibit").click()
        items = vera.locator(".app-upload-progress__item")
        for index, (reference, data) in enumerate((("VD/1", CHAT), ("VD/2", picture))):
            expect(items.nth(index).get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
            expect(items.nth(index)).to_contain_text(f"Received as {reference}")
            expect(items.nth(index)).to_contain_text(hashlib.sha256(data).hexdigest())
            exhibit = Exhibit.objects.get(reference=reference)
            assert exhibit.browser_sha256 == exhibit.sha256 == hashlib.sha256(data).hexdigest()
        expect(vera.locator("#exhibit-list")).to_contain_text("VD/2")
        journey.look(vera, "exhibits received")

    with journey.step("volunteer adds a note"):
        vera.get_by_role("navigation", name="Pages of this tasking").get_by_role("link", name="Notes").click()
        journey.look(vera, "notes")
        vera.get_by_label("Note", exact=True).fill(NOTE)
        vera.get_by_role("button", name="Add note").click()
        expect(vera.locator("main")).to_contain_text(NOTE)
        journey.look(vera, "note added")

    with journey.step("volunteer checks and signs her statement"):
        vera.get_by_role("navigation", name="Pages of this tasking").get_by_role("link", name="Statements").click()
        journey.look(vera, "statements")
        vera.get_by_role("button", name="Write a witness statement (MG11)").click()
        journey.look(vera, "new statement")
        vera.get_by_label("Statement", exact=True).fill(STATEMENT)
        vera.get_by_label(re.compile("^VD/1")).check()
        vera.get_by_role("button", name="Save and check before signing").click()
        expect(vera.get_by_role("heading", level=1)).to_have_text("Check your statement before you sign it")
        journey.look(vera, "check statement")
        vera.get_by_role("button", name="Sign the statement").click()
        if "/accounts/reauthenticate/" in vera.url:
            journey.look(vera, "confirm it is you")
            vera.get_by_label("Password", exact=True).fill(VOLUNTEER_PASSWORD)
            vera.get_by_role("button", name="Continue").click()
        expect(vera.get_by_role("heading", level=1)).to_have_text("Signed statement")
        journey.look(vera, "statement signed")

    # --- Owen reviews with the preview, schedules unused material, requests the bundle and shares it ----------
    with journey.step("officer reviews the exhibits"):
        open_admin_list(owen, base, "tasking")
        owen.get_by_role("link", name=OPERATION).click()
        # Her note and statement read as she wrote them (paragraphs, not HTML tags).
        content = owen.locator("#content-main")
        expect(content).to_contain_text(NOTE)
        content.get_by_text("Read the statement").click()
        expect(content).to_contain_text(STATEMENT[:60])
        assert "<p>" not in content.inner_text()
        journey.look(owen, "tasking with evidence")
        owen.get_by_role("link", name="Review VD/1").click()
        expect(owen.frame_locator("iframe.portal-preview__text").locator("body")).to_contain_text("how old are you")
        journey.look(owen, "review VD/1 with preview")
        owen.get_by_label("Accept").check()
        owen.get_by_role("button", name="Record the review").click()
        expect(owen.locator(".messagelist")).to_contain_text("VD/1: accepted.")
        journey.look(owen, "VD/1 accepted")

        open_admin_list(owen, base, "tasking")
        owen.get_by_role("link", name=OPERATION).click()
        owen.get_by_role("link", name="Review VD/2").click()
        preview = owen.get_by_role("img", name="Exhibit VD/2")
        expect(preview).to_be_visible()
        assert preview.evaluate("image => image.decode().then(() => image.naturalWidth)") == 480  # drawn, not broken
        journey.look(owen, "review VD/2 with preview")
        owen.get_by_label("Mark as unused material").check()
        choose_option(owen.get_by_label("Schedule (for unused material)"), "MG6C")
        owen.locator("#review-decision").get_by_label("Reason").fill(
            "The profile screenshot is not relied on; the chat is the evidence."
        )
        owen.get_by_role("button", name="Record the review").click()
        expect(owen.locator(".messagelist")).to_contain_text("VD/2: ")
        journey.look(owen, "VD/2 scheduled unused")
        open_admin_list(owen, base, "unusedmaterial")
        expect(owen.locator("#result_list")).to_contain_text("VD/2")
        expect(owen.locator("#result_list")).to_contain_text("MG6C")
        journey.look(owen, "unused material schedule")

    with journey.step("disclosure officer signs the schedules"):
        for schedule in ("MG6C", "MG6D"):
            open_admin_list(owen, base, "tasking")
            owen.get_by_role("link", name=OPERATION).click()
            owen.get_by_role("link", name=re.compile(f"^{schedule} — ")).click()
            journey.look(owen, f"{schedule} schedule")
            owen.get_by_role("button", name=f"Sign the {schedule} as disclosure officer").click()
            if "reauthenticate" in owen.url:
                journey.look(owen, "officer confirms it is them")
                owen.get_by_label("Password", exact=True).fill(PASSWORD)
                owen.get_by_role("button", name="Continue").click()
            expect(owen.locator(".messagelist")).to_contain_text(f"You signed the {schedule} schedule")
        expect(owen.locator("#disclosure-schedules")).not_to_contain_text("not signed")
        journey.look(owen, "schedules signed")

    with journey.step("officer requests the bundle and watches it build"):
        open_admin_list(owen, base, "tasking")
        owen.get_by_role("link", name=OPERATION).click()
        owen.get_by_role("button", name="Request handover bundle").click()
        owen.wait_for_url(re.compile(r".*/bundles/\d+/$"))
        journey.look(owen, "bundle building")
        download = owen.get_by_role("link", name=re.compile("^Download the (signed PDF|bundle package)"))
        expect(download).to_be_visible(timeout=180_000)
        assert HandoverBundle.objects.get().state == "ready"
        expect(owen.get_by_role("progressbar", name="Bundle progress")).to_have_js_property("value", 100)
        expect(owen.get_by_text("refresh this page")).to_be_hidden()  # the page kept itself up to date
        journey.look(owen, "bundle ready")
        # The officer hears that it is ready: a notice, and an e-mail the worker sent (its console log).
        assert wait_for(lambda: "Bundle ready: " + OPERATION in worker.output(), timeout=30), worker.output()
        ready_mail = worker.log.read_text(errors="replace")
        for secret in (PERSONA, OBJECTIVE, NOTE, "dave_77"):
            assert secret not in ready_mail, secret
        owen.goto(f"{base}/notices/")
        expect(owen.locator("main")).to_contain_text(f"Bundle ready: {OPERATION}")
        journey.look(owen, "officer notices")

    with journey.step("officer shares the bundle"):
        owen.get_by_role("link", name=re.compile(f"^Open.*Bundle ready: {OPERATION}")).click()
        expect(owen.get_by_role("heading", level=1)).to_have_text(OPERATION)
        journey.look(owen, "bundle from the notice")
        owen.get_by_role("link", name="Share with a court or CPS recipient").click()
        journey.look(owen, "share form")
        owen.get_by_label("Court or CPS recipient").select_option(label="Carla Clerk")
        # Carla receives bundles for a court: the sensitive part is refused on the form, the choice kept.
        owen.get_by_label("CPS prosecutor: the served bundle and the sensitive part").check()
        owen.locator("input[name=_save]").click()
        expect(owen.locator("#content-main")).to_contain_text("The sensitive part goes to a CPS prosecutor only")
        journey.look(owen, "sensitive part refused")
        owen.get_by_label("Court or defence: the served bundle only").check()
        mail.outbox.clear()
        owen.locator("input[name=_save]").click()
        expect(owen.locator(".messagelist")).to_contain_text("Shared ")
        journey.look(owen, "bundle shared")
    (shared,) = mails_to("carla@court.example")
    assert OPERATION in shared.subject
    no_evidence_in([shared])

    # --- Carla downloads it from her inbox and verifies it --------------------------------------------------------
    with journey.step("court user downloads and verifies the bundle"):
        carla.goto(f"{base}/")
        open_header_link(carla, "Notices")
        expect(carla.locator("main")).to_contain_text("A handover bundle has been shared with you")
        journey.look(carla, "court notices")
        open_header_link(carla, "Bundles shared with you")
        expect(carla.get_by_role("heading", level=1)).to_have_text("Bundles shared with you")
        journey.look(carla, "inbox")
        with carla.expect_download() as downloading:
            carla.get_by_role("link", name=re.compile(f"^Download .* for {OPERATION}")).click()
        received = downloading.value
        path = tmp_path / received.suggested_filename
        received.save_as(path)
        open_header_link(carla, "Verify a bundle")
        journey.look(carla, "verify a bundle")
        carla.get_by_label(re.compile("^Upload the bundle")).set_input_files(str(path))
        carla.get_by_role("button", name="Verify").click()
        result = carla.locator("#verification-result")
        expect(result.get_by_role("heading", name="This bundle passed every check")).to_be_visible()
        expect(result).to_contain_text("Exhibit VD/1: unchanged")
        journey.look(carla, "verified")
