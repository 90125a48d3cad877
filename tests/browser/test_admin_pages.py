"""Every admin page a supervising officer, a welfare officer and a scheme administrator can reach — the home
page, and each registered ModelAdmin's list, add form and record page — passes axe-core at WCAG 2.2 AA and
never scrolls sideways, at 1280 and at 320 CSS px.

One scheme with something of every kind is built through the services (as the cross-scheme walk builds it);
each person signs in once and walks the admin registry, so a new ModelAdmin is checked without a new test.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.contrib import admin
from django.urls import NoReverseMatch, reverse

from tests.browser.conftest import AXE
from tests.conftest import PASSWORD, enrol_totp, make_person, module_data, require, totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (1280, 320)


@dataclass
class Finding:
    who: str
    path: str
    width: int
    problems: list = field(default_factory=list)


@pytest.fixture
def scheme(settings, tmp_path):
    """Harbour, with a volunteer vetted, screened, trained and tasked, her exhibits reviewed, a note, an alert,
    a signed MG11, a bundle built and shared, a failed job, and welfare and vetting records about her."""
    from django.core.management import call_command

    from portal import roles
    from tests.integration.test_admin_cross_scheme import build_scheme
    from training.services import module_publish
    from volunteers.services import conduct_publish

    settings.PORTAL_SIGNING_KEY_PATH = str(tmp_path / "key.pem")
    settings.PORTAL_SIGNING_CERT_PATH = str(tmp_path / "cert.pem")
    call_command("create_signing_key", "--force")
    conduct_publish(title="Volunteer code of conduct", text="Never initiate sexual talk.", by=None)
    version = module_publish(data=module_data("safety-basics"))
    court = make_person("carla@court.example", roles.COURT, None, full_name="Carla Court")
    world = build_scheme("Harbourown", "Harbour", court=court, version=version, folder=tmp_path)
    world.match = _deconfliction_match(world)
    # A disposal proposal awaiting approval, as the disposal writes it, so its decision page is walked too.
    from django.utils import timezone

    from evidence.models import Exhibit
    from retention.models import DisposalProposal

    DisposalProposal.objects.create(
        exhibit=Exhibit.objects.filter(tasking=world.tasking).order_by("pk").first(),
        reason="Past its date.",
        rule="case_nfa",
        earliest=timezone.localdate(),
        proposed_by=world.officer,
    )
    # And one for a person's vetting records, so the people's review list and its decision page are walked.
    from retention.models import PersonDisposalProposal

    PersonDisposalProposal.objects.create(
        scheme=world.scheme,
        person=world.volunteer.user,
        kind="vetting",
        reason="Past its date.",
        rule="vetting_after_leaving",
        earliest=timezone.localdate(),
        proposed_by=world.officer,
    )
    return world


def _deconfliction_match(world):
    """A second tasking of the scheme engaging someone another scheme's tasking engages: its page and the
    match's page show the match to the scheme's officers."""
    from evidence.deconfliction.identifiers import identify
    from evidence.deconfliction.services import identifiers_record
    from portal import roles
    from portal.models import Scheme
    from tests.conftest import make_tasking

    elsewhere = Scheme.objects.create(name="Elsewhere Partnership", code="elsewhere")
    otto = make_person("otto@elsewhere.example", roles.OFFICER, elsewhere, full_name="Otto Elsewhere")
    ours = make_tasking(world.scheme, world.officer, reference="OP-MATCHED")
    for tasking, by in ((ours, world.officer), (make_tasking(elsewhere, otto, reference="OP-ELSEWHERE"), otto)):
        identifiers_record(tasking=tasking, identifiers=[identify("kestrel_9", "Kik")], source="officer", by=by)
    return ours.deconfliction_matches.get()


def _sign_in(page, base_url: str, user) -> None:
    secret = enrol_totp(user)
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.locator("input[name=code]").fill(totp_code(secret))
    page.locator("button[type=submit]").first.click()
    page.wait_for_load_state()


def _url(name: str, *args) -> str | None:
    try:
        return reverse(f"admin:{name}", args=args or None)
    except NoReverseMatch:
        return None


def admin_paths(world) -> list[str]:
    """The home page, then each registered ModelAdmin's list, add form and first record of the scheme, and
    the pages of our own that hang off them (exhibit review, share a bundle)."""
    from evidence.models import Exhibit
    from retention.models import DisposalProposal, LegalHold, PersonDisposalProposal
    from tests.integration.test_admin_cross_scheme import reaching

    paths = [reverse("admin:index")]
    for model, _ in sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label):
        opts = model._meta
        prefix = f"{opts.app_label}_{opts.model_name}"
        paths += [_url(f"{prefix}_changelist"), _url(f"{prefix}_add")]
        rows = model._default_manager.order_by("pk")
        mine = reaching(model, world.scheme)
        row = (rows.filter(mine) if mine is not None else rows).first()
        if row is not None:
            paths.append(_url(f"{prefix}_change", row.pk))
    exhibit = Exhibit.objects.filter(tasking=world.tasking).order_by("pk").first()
    proposals = list(
        DisposalProposal.objects.filter(exhibit__tasking__scheme=world.scheme, state="proposed").values_list(
            "pk", flat=True
        )
    )
    paths += [
        _url("evidence_exhibit_review", exhibit.pk),
        _url("evidence_bundleshare_add") + f"?bundle={world.bundle.pk}",
        _url("volunteers_volunteer_status", world.volunteer.pk),
        _url("volunteers_volunteer_identity", world.volunteer.pk),
        _url("evidence_tasking_schedule", world.tasking.pk, "MG6C"),
        _url("evidence_tasking_schedule", world.tasking.pk, "MG6D"),
        _url("training_matrix"),
        _url("evidence_tasking_change", world.match.tasking_id),
        _url("evidence_tasking_deconfliction", world.match.tasking_id, world.match.pk),
        _url("evidence_tasking_deconfliction_set"),
        # Retention: the case's outcome, a legal hold placed on a tasking, an exhibit and a person, and lifted.
        _url("evidence_tasking_outcome", world.tasking.pk),
        _url("retention_legalhold_place", "tasking", world.tasking.pk),
        _url("retention_legalhold_place", "exhibit", exhibit.pk),
        _url("retention_legalhold_place", "person", world.volunteer.user_id),
        _url("retention_legalhold_lift", LegalHold.objects.filter(scheme=world.scheme).order_by("pk").first().pk),
        # Disposal: the review list, proposing an exhibit's disposal, and deciding a proposal awaiting approval.
        _url("retention_disposal_review"),
        _url("retention_disposal_propose", exhibit.pk),
        *[_url("retention_disposal_decide", pk) for pk in proposals[:1]],
        # People's records: their review list, proposing the disposal of a kind, and deciding a proposal.
        _url("retention_disposal_review_people"),
        _url("retention_person_disposal_propose", world.volunteer.user_id, "training"),
        *[
            _url("retention_person_disposal_decide", pk)
            for pk in PersonDisposalProposal.objects.filter(scheme=world.scheme).values_list("pk", flat=True)[:1]
        ],
    ]
    return [path for path in dict.fromkeys(paths) if path]


def axe_problems(page) -> list[str]:
    """axe-core's WCAG 2.0-2.2 A and AA rules, as tests/browser/conftest.py runs them, asking for violations
    only (the passes are most of axe's time); axe is loaded into every page by the context (add_init_script)."""
    violations = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations'], runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}})).violations"""
    )
    return [f"{v['id']}: {v['help']} {[n['target'] for n in v['nodes']][:5]}" for v in violations]


# The page's own content, without what differs by session (CSRF tokens) or by person (messages and the
# safeguarding banner, which each person's pages carry alike): a page whose content another person's walk has
# already checked, at every width, is not checked again. Each person's first page is checked whole.
CONTENT = """() => {
    const main = (document.querySelector('#content-start') || document.body).cloneNode(true);
    main.querySelectorAll('.portal-alerts, .messagelist').forEach((element) => element.remove());
    return main.outerHTML.replace(/name="csrfmiddlewaretoken" value="[^"]*"/g, '').replace(/\\s+/g, ' ');
}"""


def walk(page, base_url: str, who: str, paths: list[str], checked: set[str]) -> tuple[list[Finding], int]:
    """Open each page the person may open (others answer 403 or 404 and are skipped) at every width."""
    findings, opened = [], 0
    for number, path in enumerate(paths):
        page.set_viewport_size({"width": WIDTHS[0], "height": 900})
        response = page.goto(base_url + path)
        if response is not None and response.status >= 500:
            findings.append(Finding(who, path, WIDTHS[0], [f"answered {response.status}, so went unchecked"]))
            continue
        if response is None or response.status != 200 or "/accounts/" in page.url:
            continue
        opened += 1
        content = page.evaluate(CONTENT)
        if content in checked and number > 0:  # each person's first page is checked whole: header, sidebar
            continue
        checked.add(content)
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            finding = Finding(who, path, width)
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            if overflow > 0:
                finding.problems.append(f"scrolls sideways by {overflow} px")
            finding.problems += axe_problems(page)
            if finding.problems:
                findings.append(finding)
    return findings, opened


def test_every_admin_page_passes_axe_and_fits_at_1280_and_320_px_for_each_admin_role(page, live_server, scheme):
    require(AXE.exists(), "axe-core is not installed: run npm ci")
    paths = admin_paths(scheme)
    findings, opened, checked = [], {}, set()
    people = [
        ("supervising officer", scheme.officer),
        ("welfare officer", scheme.welfare),
        ("scheme administrator", scheme.administrator),
    ]
    for who, person in people:
        context = page.context.browser.new_context(bypass_csp=True, locale="en-GB", timezone_id="Europe/London")
        context.add_init_script(path=str(AXE))
        own_page = context.new_page()
        _sign_in(own_page, live_server.url, person)
        found, opened[who] = walk(own_page, live_server.url, who, paths, checked)
        findings += found
        context.close()
    # Each person really walked their part of the admin (not a wall of refusals).
    assert opened["supervising officer"] >= 40 and opened["scheme administrator"] >= 40, opened
    assert opened["welfare officer"] >= 8, opened
    report = "\n".join(f"- {f.who}, {f.path} at {f.width} px: " + "; ".join(f.problems) for f in findings)
    assert not findings, f"{len(findings)} admin pages fail axe or scroll sideways:\n{report}"


def test_the_platform_administrator_s_own_admin_pages_pass_axe_and_fit(page, live_server, settings, tmp_path):
    """What only the platform's superusers open: police forces, partner installations and a set's import."""
    from pathlib import Path

    from django.core.management import call_command

    from evidence.deconfliction.partners import partner_add
    from portal.models import Force

    require(AXE.exists(), "axe-core is not installed: run npm ci")
    settings.PORTAL_SIGNING_KEY_PATH = str(tmp_path / "key.pem")
    settings.PORTAL_SIGNING_CERT_PATH = str(tmp_path / "cert.pem")
    call_command("create_signing_key", "--force")
    root = make_person("root@platform.example", None)
    force = Force.objects.create(name="Northshire Police")
    partner = partner_add(
        name="Harbour installation", certificate=Path(settings.PORTAL_SIGNING_CERT_PATH).read_text(), by=root
    )
    paths = [
        _url("portal_force_changelist"),
        _url("portal_force_add"),
        _url("portal_force_change", force.pk),
        _url("evidence_partnerinstallation_changelist"),
        _url("evidence_partnerinstallation_add"),
        _url("evidence_partnerinstallation_change", partner.pk),
        _url("evidence_partnerinstallation_import", partner.pk),
        _url("portal_user_add"),
    ]
    context = page.context.browser.new_context(bypass_csp=True, locale="en-GB", timezone_id="Europe/London")
    context.add_init_script(path=str(AXE))
    own_page = context.new_page()
    _sign_in(own_page, live_server.url, root)
    findings, opened = walk(own_page, live_server.url, "platform superuser", paths, set())
    context.close()
    assert opened == len(paths), opened
    report = "\n".join(f"- {f.path} at {f.width} px: " + "; ".join(f.problems) for f in findings)
    assert not findings, f"{len(findings)} pages fail axe or scroll sideways:\n{report}"
