"""Reads: which certificates count, each module's state for a person, the officers' matrix."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from training.models import Certificate, DisposedCertificate, Module, ModuleVersion


def certificate_for_code(typed: str) -> Certificate | None:
    """The certificate a person means by what they typed: an older long code exactly, or a short code in
    any case, with or without dashes (training.codes.normalise)."""
    from training.codes import normalise

    queryset = Certificate.objects.select_related("module", "version")
    return queryset.filter(code=typed).first() or queryset.filter(code=normalise(typed)).first()


def disposed_certificate_for_code(typed: str) -> DisposedCertificate | None:
    """A certificate issued here whose record has since been disposed of (retention), by what a person typed."""
    from training.codes import normalise

    queryset = DisposedCertificate.objects.all()
    return queryset.filter(code=typed).first() or queryset.filter(code=normalise(typed)).first()


def certificate_state(certificate: Certificate, versions: list[ModuleVersion], *, now: datetime) -> str:
    """valid | expired | revoked | superseded (a newer version's re-certification date has passed)."""
    if certificate.revoked_at:
        return "revoked"
    if certificate.expires_at <= now:
        return "expired"
    today = timezone.localdate(now)
    for version in versions:
        if version.number > certificate.version.number and version.recertify_by and version.recertify_by <= today:
            return "superseded"
    return "valid"


@dataclass(frozen=True)
class ModuleState:
    module: Module
    state: str  # not_started | in_progress | passed | expires_soon | expired | recertify | revoked
    label: str
    certificate: Certificate | None
    counts: bool  # a certificate that satisfies the requirement now


# A version's content: read to show a module, never to work out whose training is current.
CONTENT_FIELDS = ("content_markdown", "content_html", "learning_outcomes")


def _modules_with_versions() -> QuerySet[Module]:
    versions = ModuleVersion.objects.defer(*CONTENT_FIELDS).order_by("-number")
    return Module.objects.prefetch_related(Prefetch("versions", queryset=versions))


def _version_content() -> list[str]:
    return [f"version__{name}" for name in CONTENT_FIELDS]


def module_states(user, *, now: datetime | None = None, modules: list[Module] | None = None) -> list[ModuleState]:
    now = now or timezone.now()
    modules = modules if modules is not None else list(_modules_with_versions())
    certificates: dict[int, list[Certificate]] = {}
    held = Certificate.objects.filter(user=user).select_related("version").defer(*_version_content())
    for certificate in held.order_by("-passed_at"):
        certificates.setdefault(certificate.module_id, []).append(certificate)
    from training.models import Attempt

    open_modules = set(
        Attempt.objects.filter(user=user, submitted_at__isnull=True).values_list("version__module_id", flat=True)
    )
    return [_state(m, certificates.get(m.pk, []), m.pk in open_modules, now) for m in modules]


def _state(module: Module, certificates: list[Certificate], in_progress: bool, now: datetime) -> ModuleState:
    versions = list(module.versions.all())
    soon = now + timedelta(days=settings.PORTAL_TRAINING_EXPIRES_SOON_DAYS)
    for certificate in certificates:
        state = certificate_state(certificate, versions, now=now)
        if state == "valid":
            until = f"{timezone.localtime(certificate.expires_at):%-d %B %Y}"
            newer = [v for v in versions if v.number > certificate.version.number and v.recertify_by]
            if newer:
                return ModuleState(
                    module, "recertify", f"Re-certify by {newer[0].recertify_by:%-d %B %Y}", certificate, True
                )
            if certificate.expires_at <= soon:
                return ModuleState(module, "expires_soon", f"Expires on {until}", certificate, True)
            return ModuleState(module, "passed", f"Passed, valid until {until}", certificate, True)
    latest = certificates[0] if certificates else None
    if latest is not None:
        state = certificate_state(latest, versions, now=now)
        label = {"expired": "Expired", "revoked": "Certificate revoked", "superseded": "Re-certification required"}
        return ModuleState(module, {"superseded": "recertify"}.get(state, state), label[state], latest, False)
    if in_progress:
        return ModuleState(module, "in_progress", "In progress", None, False)
    return ModuleState(module, "not_started", "Not started", None, False)


def training_matrix(people: list, *, now: datetime | None = None) -> tuple[list[Module], list[tuple]]:
    """(modules, [(person, [ModuleState per module])]) in a constant number of queries."""
    from training.models import Attempt

    now = now or timezone.now()
    modules = list(_modules_with_versions())
    ids = [person.pk for person in people]
    certificates: dict[tuple[int, int], list[Certificate]] = {}
    held = Certificate.objects.filter(user_id__in=ids).select_related("version").defer(*_version_content())
    for certificate in held.order_by("-passed_at"):
        certificates.setdefault((certificate.user_id, certificate.module_id), []).append(certificate)
    open_attempts = set(
        Attempt.objects.filter(user_id__in=ids, submitted_at__isnull=True).values_list("user_id", "version__module_id")
    )
    rows = [
        (
            person,
            [
                _state(m, certificates.get((person.pk, m.pk), []), (person.pk, m.pk) in open_attempts, now)
                for m in modules
            ],
        )
        for person in people
    ]
    return modules, rows
