"""The admin must show one scheme's staff nothing of another scheme, its covert operation names least of all."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.conf import settings as django_settings
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import models, transaction
from django.test import Client, override_settings
from django.urls import NoReverseMatch, URLPattern, reverse
from django.utils import timezone
from lxml import etree
from lxml import html as lxml_html

from portal import roles
from tests.conftest import enrol_totp, invite_and_apply, make_person, mfa_login, module_data, pass_module
from tests.integration.bundle_helpers import CHAT, PNG, Received, sign_schedules

OTHER, OWN = "Zephyrine", "Harbourown"  # every readable value of scheme A carries OTHER; of scheme B, OWN
SEARCH = OTHER[1:-1]  # matches scheme A's rows; unlike OTHER, the page may repeat it as typed


# --- two schemes, built through the services --------------------------------------------------------------


@dataclass
class SchemeWorld:
    scheme: object
    officer: object
    welfare: object
    administrator: object
    volunteer: object  # the Volunteer profile
    tasking: object
    authorisation: object
    bundle: object
    emails: list[str] = field(default_factory=list)


def _store(upload, stored_name):
    default_storage.save(stored_name, ContentFile(upload.content))


def build_scheme(marker: str, town: str, *, court, version, folder: Path) -> SchemeWorld:
    """One scheme with something of every kind, each readable value carrying `marker`."""
    from evidence import services as evidence
    from evidence.bundles import bundle_build, bundle_request
    from evidence.models import Authorisation, Tasking
    from evidence.statements import statement_save_draft, statement_sign
    from portal.jobs import job_create, job_fail
    from portal.models import Scheme
    from training.services import attempts_reset
    from volunteers import services as volunteers
    from volunteers.models import SchemeVolunteerSettings, VettingCheck

    low, now = marker.lower(), timezone.now()
    scheme = Scheme.objects.create(name=f"{town} {marker} Partnership", code=f"{town[:3].lower()}-{low}")
    SchemeVolunteerSettings.objects.create(scheme=scheme)  # no service writes these: the admin form does

    def person(first: str, role: roles.Role):
        email = f"{first.lower()}.{low}@{town.lower()}.example"
        return make_person(email, role, scheme, full_name=f"{first} {marker}")

    officer = person("Owen", roles.OFFICER)
    welfare = person("Wendy", roles.WELFARE)
    administrator = person("Ada", roles.SCHEME_ADMIN)

    volunteer = invite_and_apply(scheme, officer, f"vera.{low}@{town.lower()}.example", f"Vera {marker}")
    record = volunteers.vetting_start(volunteer=volunteer, level="MV", by=officer)
    for kind in VettingCheck.Kind.values:
        volunteers.vetting_record_check(
            record=record, kind=kind, result="satisfactory", notes=f"{marker} passport and bank statement", by=officer
        )
    volunteers.vetting_decide(record=record, outcome="cleared", reasons=f"{marker} panel content", by=officer)
    volunteers.screening_record(
        person=volunteer.user,
        kind="pre_deployment",
        screened_on=timezone.localdate(),
        provider=f"{marker} Occupational Health",
        outcome="fit",
        restrictions="",
        clinical_notes=f"{marker} coping well",
        by=welfare,
    )
    volunteer.refresh_from_db()
    volunteer = volunteers.volunteer_transition(
        volunteer=volunteer, to="accredited", by=officer, reason=f"{marker}: all checks complete."
    )
    pass_module(volunteer.user, version)
    attempts_reset(user=volunteer.user, module=version.module, by=officer, reason=f"{marker} talked it through")
    invited, _ = volunteers.invitation_create(
        scheme=scheme, email=f"ivy.{low}@{town.lower()}.example", full_name=f"Ivy {marker}", by=officer
    )

    # A covert operation: no service creates authorisations or taskings (the admin form writes them).
    authorisation = Authorisation.objects.create(
        scheme=scheme,
        kind="chis",
        reference=f"AUTH-{marker.upper()}-7",
        authorising_officer=f"Supt {marker} Grant",
        authorising_rank="Superintendent",
        granted_at=now - timedelta(days=1),
        expires_at=now + timedelta(days=300),
        recorded_by=officer,
    )
    tasking = Tasking.objects.create(
        scheme=scheme,
        reference=f"OP-{marker.upper()}-7",
        title=f"{marker} nightjar watch",
        objective=f"Identify adults grooming children in the {marker} rooms.",
        urn="42AB1234526",
        permitted_conduct=f"{marker}: respond only; never initiate sexual talk or propose meeting.",
        platforms=f"{marker} Chat",
        persona=f"'{marker} Mia', 13, from Leeds",
        persona_handles=f"{low}_mia",
        window_start=now - timedelta(hours=1),
        window_end=now + timedelta(hours=48),
        authorisation=authorisation,
        handler=officer,
        controller=officer,
        status="active",
        created_by=officer,
    )
    user = volunteer.user
    evidence.tasking_assign(tasking=tasking, volunteer=user, by=officer)

    def exhibit(name: str, content: bytes, mime: str):
        return evidence.exhibit_submit(
            user=user,
            tasking=tasking,
            upload=Received(folder, f"{low}-{name}", content),
            sniffed_type=mime,
            description=f"{marker} {name} from the chat",
            platform=f"{marker} Chat",
            other_party=f"{low}_dave77",
            url="",
            captured_at=timezone.now(),
            capture_method=f"{marker} export",
            store=_store,
        )

    png, chat = exhibit("shot.png", PNG, "image/png"), exhibit("chat.txt", CHAT, "text/plain")
    spare = exhibit("spare.txt", CHAT * 2, "text/plain")
    statement = statement_save_draft(
        tasking=tasking, author=user, body=f"I, Vera {marker}, produce these.", exhibit_ids=[png.pk, chat.pk]
    )
    statement_sign(statement=statement, by=user)
    for accepted in (png, chat):
        evidence.exhibit_review(exhibit=accepted, decision="accepted", reason="", by=officer)
    evidence.exhibit_review(
        exhibit=spare,
        decision="unused",
        schedule="MG6C",
        reason="",
        unused_description=f"{marker} chat not relied on",
        by=officer,
    )
    evidence.note_add(tasking=tasking, author=user, text=f"{marker}: the other party asked for a photograph.")
    evidence.safeguarding_raise(tasking=tasking, by=user, note=f"{marker}: a real child may be at risk.")
    sign_schedules(tasking, officer)
    bundle = bundle_build(bundle_request(tasking=tasking, by=officer))
    evidence.bundle_share(bundle=bundle, recipient=court, until=now + timedelta(days=30), by=officer)
    # Retention: the case's outcome, a legal hold on the tasking, and the scheme's own (longer) periods.
    from retention.models import SchemeRetention
    from retention.services import hold_place, outcome_record

    outcome_record(
        tasking=tasking, by=officer, outcome="charged", decided_on=timezone.localdate(), note=f"{marker} charge"
    )
    hold_place(
        target=tasking,
        kind="civil_claim",
        reason=f"{marker} claim against the force",
        review_on=timezone.localdate() + timedelta(days=30),
        by=officer,
    )
    SchemeRetention.objects.create(scheme=scheme, vetting_years=10)
    job = job_create(kind="portal.ping", payload={"echo": marker}, by=officer)
    job_fail(job_id=job.pk, error=f"{marker} worker went away")

    # Welfare and vetting after the evidence: each of these closes the volunteer's gate.
    volunteers.exposure_record(
        person=user,
        minutes=django_settings.PORTAL_EXPOSURE_THRESHOLD_MINUTES,
        source=f"{marker} exhibit review",
        by=welfare,
    )
    volunteers.stand_down_place(person=user, detail=f"{marker} bereavement", by=welfare)
    volunteers.adverse_information_report(volunteer=volunteer, summary=f"{marker} relative arrested", by=officer)
    volunteers.integrity_review_record(volunteer=volunteer, notes=f"{marker} annual review", by=officer)

    return SchemeWorld(
        scheme=scheme,
        officer=officer,
        welfare=welfare,
        administrator=administrator,
        volunteer=volunteer,
        tasking=tasking,
        authorisation=authorisation,
        bundle=bundle,
        emails=[officer.email, welfare.email, administrator.email, user.email, invited.email],
    )


def download(user, secret: str, *bundles) -> None:
    """Download bundles as a person does, so the real view writes the BundleAccess rows."""
    client = Client()
    mfa_login(client, user, secret)
    for bundle in bundles:
        response = client.get(f"/bundles/{bundle.pk}/download/")
        assert response.status_code == 200, response.content[:300]
        b"".join(response.streaming_content)  # read to the end, as the test client then closes it


@dataclass
class World:
    other: SchemeWorld  # scheme A: what must never show
    own: SchemeWorld  # scheme B: the viewers' scheme
    secrets: dict[int, str]

    @property
    def forbidden(self) -> list[str]:
        return [OTHER, self.other.tasking.reference, self.other.authorisation.reference, *self.other.emails]


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    """Both schemes, built once for the module inside a transaction that is rolled back at its end."""
    folder = tmp_path_factory.mktemp("cross-scheme")
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
        from training.services import module_publish
        from volunteers.services import conduct_publish

        call_command("create_signing_key", "--force")
        conduct_publish(title="Volunteer code of conduct", text="Never initiate sexual talk.", by=None)
        version = module_publish(data=module_data("safety-basics"))
        court = make_person("carla@court.example", roles.COURT, None, full_name="Carla Court")
        other = build_scheme(OTHER, "Lantern", court=court, version=version, folder=folder)
        own = build_scheme(OWN, "Harbour", court=court, version=version, folder=folder)
        people = [own.officer, own.welfare, own.administrator, other.officer, court]
        secrets = {person.pk: enrol_totp(person) for person in people}
        download(other.officer, secrets[other.officer.pk], other.bundle)
        download(court, secrets[court.pk], other.bundle, own.bundle)
        yield World(other=other, own=own, secrets=secrets)
        transaction.set_rollback(True)


# --- which rows belong to which scheme, for any model ----------------------------------------------------


def scheme_paths(model, depth: int = 3) -> list[str]:
    """Every lookup, through at most `depth` foreign keys, from `model` to the id of a scheme."""
    from portal.models import Scheme

    if model is Scheme:
        return ["pk"]
    paths = []

    def visit(current, prefix: str, remaining: int) -> None:
        for candidate in current._meta.get_fields():
            if not candidate.concrete:
                continue
            if not candidate.is_relation:
                if candidate.name == "scheme_id":  # a scheme kept by value (the audit log)
                    paths.append(prefix + "scheme_id")
                continue
            if not (candidate.many_to_one or candidate.one_to_one):
                continue
            if candidate.related_model is Scheme:
                paths.append(f"{prefix}{candidate.name}_id")
            elif remaining > 1:
                visit(candidate.related_model, f"{prefix}{candidate.name}__", remaining - 1)

    visit(model, "", depth)
    return paths


def reaching(model, scheme) -> models.Q | None:
    paths = scheme_paths(model)
    if not paths:
        return None
    query = models.Q()
    for path in paths:
        query |= models.Q(**{path: scheme.pk})
    return query


def row_of(model, scheme):
    """A row of `model` that belongs to `scheme` by any path; None for models no scheme owns."""
    query = reaching(model, scheme)
    return None if query is None else model._default_manager.filter(query).order_by("pk").first()


def own_row(model, world: World):
    """A row the viewers may legitimately open: their scheme's, else one that belongs to no scheme."""
    rows = model._default_manager.order_by("pk")
    other = reaching(model, world.other.scheme)
    if other is None:
        return rows.first()
    rows = rows.exclude(other)
    return rows.filter(reaching(model, world.own.scheme)).first() or rows.first()


def relations(model) -> list:
    """The model's own relational fields: foreign keys, one-to-ones and many-to-manys (not reverse ones)."""
    return [
        f for f in model._meta.get_fields() if f.is_relation and not f.auto_created and (f.concrete or f.many_to_many)
    ]


# --- walking the admin as one person ------------------------------------------------------------------------


@dataclass
class Page:
    status: int
    text: str


@dataclass
class Walk:
    viewer: str
    client: Client
    forbidden: list[str]
    seen: dict[str, int] = field(default_factory=dict)  # URL -> status
    leaks: list[tuple[str, str, int, str]] = field(default_factory=list)  # (viewer, request, status, excerpt)
    errors: list[str] = field(default_factory=list)
    showed_own: set[str] = field(default_factory=set)

    def get(self, url: str) -> Page:
        if url in self.seen:
            return Page(self.seen[url], "")
        response = self.client.get(url)
        page = self.check(f"GET {url}", response)
        self.seen[url] = page.status
        location = response.get("Location", "")
        if page.status in (301, 302) and location.startswith("/admin/"):
            # A message ("... does not exist") is shown on the page redirected to: read it there.
            self.check(f"GET {url} -> {location}", self.client.get(location))
        return page

    def post(self, url: str, data: dict) -> None:
        label = f"POST {url} {urlencode(data)}"
        if label not in self.seen:
            self.seen[label] = self.check(label, self.client.post(url, data, follow=True)).status

    def check(self, label: str, response) -> Page:
        body = b"".join(response.streaming_content) if response.streaming else response.content
        text = body.decode(errors="replace") + "\n" + response.get("Location", "")
        lowered = text.lower()
        leaked = next((token for token in self.forbidden if token.lower() in lowered), None)
        if leaked:
            self.leaks.append((self.viewer, label, response.status_code, excerpt(text, leaked)))
        if response.status_code >= 500:
            self.errors.append(f"{self.viewer}: {label} answered {response.status_code}")
        if OWN.lower() in lowered:
            self.showed_own.add(label.split(" ", 1)[1])
        return Page(response.status_code, text)


def excerpt(text: str, token: str) -> str:
    """What surrounds `token`: the words a person reads when it is in the page's text, else the markup."""
    for source in (re.sub(r"<[^>]*>", " ", text), text):
        at = source.lower().find(token.lower())
        if at >= 0:
            return re.sub(r"\s+", " ", source[max(0, at - 120) : at + len(token) + 50]).strip()
    return ""


def query_links(body: str) -> list[str]:
    """The page's links that only change its query: filters, facets, sorting, date drill-downs."""
    if not body.strip():
        return []
    try:
        document = lxml_html.fromstring(body)
    except (ValueError, etree.ParserError):
        return []
    return sorted({href for href in document.xpath("//a/@href") if href.startswith("?")})


def list_actions(body: str) -> list[str]:
    if not body.strip():
        return []
    document = lxml_html.fromstring(body)
    return [value for value in document.xpath("//select[@name='action']/option/@value") if value]


def admin_url(name: str, **kwargs) -> str | None:
    try:
        return reverse(f"admin:{name}", kwargs=kwargs or None)
    except NoReverseMatch:
        return None


def pattern_urls(model_admin, pk) -> list[str]:
    """Every named URL the ModelAdmin serves (its own extra views included), for the object `pk`."""
    urls = []
    for pattern in model_admin.get_urls():
        if not isinstance(pattern, URLPattern) or not pattern.name:
            continue
        route = pattern.pattern
        names = list(getattr(route, "converters", {}) or route.regex.groupindex)
        if names and pk is None:
            continue
        url = admin_url(pattern.name, **dict.fromkeys(names, pk))
        if url:
            urls.append(url)
    return urls


def walk_lists(walk: Walk, model, world: World, *, thorough: bool) -> None:
    """The changelist, its facets and a filter on each of scheme A's related rows; when thorough, also
    every link on it, a search, and the same filters spelt with pk.

    A changelist refused with 403 refuses every query too (permission is checked before the query is
    read), so its variants are not asked for."""
    opts = model._meta
    changelist = admin_url(f"{opts.app_label}_{opts.model_name}_changelist")
    first = walk.get(changelist)
    if first.status == 403:
        return
    walk.get(f"{changelist}?_facets=True")
    lookups = ["id__exact"]
    if thorough:
        lookups.append("pk__exact")
        walk.get(f"{changelist}?{urlencode({'q': SEARCH})}")
        for link in query_links(first.text):
            walk.get(changelist + link)
    for relation in relations(model):
        theirs = row_of(relation.related_model, world.other.scheme)
        for lookup in lookups if theirs is not None else []:
            walk.get(f"{changelist}?{relation.name}__{lookup}={theirs.pk}")


def walk_forms(walk: Walk, model, model_admin, world: World) -> None:
    """The add form (plain and given scheme A's rows), autocomplete and raw-id pop-ups for every relation,
    every view the ModelAdmin serves for one row of the viewer's own and one of scheme A, and its actions."""
    opts = model._meta
    add = admin_url(f"{opts.app_label}_{opts.model_name}_add")
    adding = add is not None and walk.get(add).status != 403
    for relation in relations(model):
        related = relation.related_model
        theirs = row_of(related, world.other.scheme)
        if adding and theirs is not None:
            walk.get(f"{add}?{relation.name}={theirs.pk}")
        if related not in admin.site._registry:
            continue  # autocomplete and pop-ups answer only for registered models
        for term in ("", SEARCH):
            query = {"app_label": opts.app_label, "model_name": opts.model_name, "field_name": relation.name}
            walk.get(f"{admin_url('autocomplete')}?{urlencode({**query, 'term': term})}")
        target = related._meta
        popup = admin_url(f"{target.app_label}_{target.model_name}_changelist")
        to_field = target.pk.attname if relation.many_to_many else relation.target_field.attname
        walk.get(f"{popup}?{urlencode({'_popup': 1, '_to_field': to_field})}")
    mine, theirs = own_row(model, world), row_of(model, world.other.scheme)
    for row in (mine, theirs):
        for url in pattern_urls(model_admin, None if row is None else row.pk):
            walk.get(url)
    if theirs is None:
        return
    content_type = ContentType.objects.get_for_model(model)
    walk.get(admin_url("view_on_site", content_type_id=content_type.pk, object_id=theirs.pk))
    changelist = admin_url(f"{opts.app_label}_{opts.model_name}_changelist")
    if walk.seen.get(changelist) != 403:
        # Every action, applied to scheme A's row: it must act on nothing and say nothing of it.
        for action in list_actions(walk.check(f"GET {changelist}", walk.client.get(changelist)).text):
            walk.post(changelist, {"action": action, "index": 0, "_selected_action": theirs.pk})


def walk_admin(walk: Walk, world: World, *, lists_only: bool) -> None:
    walk.get(admin_url("index"))
    registry = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)
    for app_label in sorted({model._meta.app_label for model, _ in registry}):
        walk.get(admin_url("app_list", app_label=app_label))
    for model, model_admin in registry:
        walk_lists(walk, model, world, thorough=not lists_only)
        if not lists_only:
            walk_forms(walk, model, model_admin, world)


def viewers(world: World) -> list[tuple[str, object]]:
    own = world.own
    return [
        ("scheme B's supervising officer", own.officer),
        ("scheme B's welfare officer", own.welfare),
        ("scheme B's scheme administrator", own.administrator),
    ]


# Pages on which each viewer must see their own scheme's rows, so the walk cannot pass by seeing nothing.
MUST_SHOW_OWN = {
    "scheme B's supervising officer": ["/admin/evidence/exhibit/", "/admin/evidence/unusedmaterial/"],
    "scheme B's welfare officer": ["/admin/volunteers/screeningrecord/", "/admin/volunteers/standdown/"],
    "scheme B's scheme administrator": ["/admin/portal/user/", "/admin/evidence/tasking/"],
}


def walk_everyone(world: World, *, lists_only: bool) -> list[Walk]:
    walks = []
    for label, person in viewers(world):
        client = Client(raise_request_exception=False)
        mfa_login(client, person, world.secrets[person.pk])
        walk = Walk(viewer=label, client=client, forbidden=world.forbidden)
        walk_admin(walk, world, lists_only=lists_only)
        walks.append(walk)
    return walks


def report(walks: list[Walk]) -> str:
    """One line per page and leaked excerpt, naming a viewer and a request; the others are counted."""
    grouped: dict[tuple[str, str], list[tuple[str, str, int]]] = defaultdict(list)
    for walk in walks:
        for viewer, request, status, shown in walk.leaks:
            path = request.split(" ", 2)[1].split("?", 1)[0]
            grouped[(path, shown)].append((viewer, request, status))
    total = sum(len(hits) for hits in grouped.values())
    lines = [f"{total} admin responses showed scheme A to scheme B's staff ({len(grouped)} distinct):"]
    for (path, shown), hits in sorted(grouped.items()):
        viewer, request, status = hits[0]
        others = ""
        if len(hits) > 1:
            who = ", ".join(sorted({hit[0] for hit in hits}))
            more = len(hits) - 1
            others = f" (and {more} more request{'s' if more > 1 else ''} to {path}; seen by {who})"
        lines.append(f"- {viewer}: {request} -> {status}{others}\n    ...{shown}...")
    return "\n".join(lines)


def assert_nothing_crossed(walks: list[Walk]) -> None:
    for walk in walks:
        assert walk.seen, f"{walk.viewer} walked no page"
        for page in MUST_SHOW_OWN[walk.viewer]:
            assert page in walk.showed_own, f"{walk.viewer} did not see their own scheme's rows on {page}"
    assert not any(walk.leaks for walk in walks), report(walks)
    errors = [error for walk in walks for error in walk.errors]
    assert not errors, "Admin pages failed, so what they would show went unchecked:\n" + "\n".join(errors)


# --- the tests ------------------------------------------------------------------------------------------------


def test_no_admin_page_form_or_lookup_shows_staff_of_one_scheme_anything_of_another(world, db):
    assert_nothing_crossed(walk_everyone(world, lists_only=False))


def test_admin_lists_and_their_filters_show_nothing_of_another_scheme_with_debug_on(world, db, settings):
    settings.DEBUG = True
    assert_nothing_crossed(walk_everyone(world, lists_only=True))
