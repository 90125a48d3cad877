"""Asking for a bundle: what must be settled first, one build at a time, and its state as the build goes."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from evidence.disclosure import schedules_unsigned
from evidence.models import Exhibit, HandoverBundle, Statement, Tasking
from portal.audit import audit_record
from portal.display import when
from portal.models import Job, User
from portal.notifications import notify


class BundleRefused(ValidationError):
    """A bundle cannot be requested yet; `.missing` lists what must be done first."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__(missing)
        self.missing = missing


def bundle_missing(tasking: Tasking) -> list[str]:
    """Everything that must be settled before the evidence can leave (CPIA: all relevant material scheduled)."""
    missing = []
    if not tasking.urn:
        missing.append(
            "The tasking has no URN (the case's Unique Reference Number): add it under Case on the tasking's page."
        )
    for exhibit in tasking.exhibits.filter(review_state=Exhibit.Review.AWAITING).order_by("reference"):
        missing.append(f"Exhibit {exhibit.reference} is awaiting review.")
    for exhibit in tasking.exhibits.filter(review_state=Exhibit.Review.REJECTED, unused__isnull=True):
        missing.append(f"Exhibit {exhibit.reference} was rejected but is not scheduled as unused material (MG6C/MG6D).")
    for statement in tasking.statements.filter(state=Statement.State.DRAFT).select_related("author"):
        missing.append(f"A statement by {statement.author.get_full_name()} is not signed.")
    if not tasking.statements.filter(state=Statement.State.SIGNED).exists():
        missing.append("No signed witness statement (MG11) produces the exhibits.")
    for exhibit in tasking.exhibits.filter(disposed_at__isnull=False).order_by("reference"):
        # Its content is gone (two-person disposal under a retention rule): a bundle cannot carry or verify it.
        # Describing disposed exhibits in a bundle instead is the next step.
        missing.append(
            f"Exhibit {exhibit.reference} was disposed of on {when(exhibit.disposed_at)}: its content is gone, so "
            "no new bundle can be built for this tasking."
        )
    missing += _named_protected_witnesses(tasking)
    missing += schedules_unsigned(tasking)
    return missing


def _named_protected_witnesses(tasking: Tasking) -> list[str]:
    """A statement signed under a witness's own name before they were identity-protected would print that
    name in the served bundle: it must not go."""
    from volunteers.services import witness_names

    signed = list(tasking.statements.filter(state=Statement.State.SIGNED).order_by("signed_at", "pk"))
    pseudonyms = witness_names({s.author_id for s in signed})
    return [
        f"A statement by {pseudonyms[s.author_id]} signed {timezone.localtime(s.signed_at):%-d %B %Y} names the "
        "witness, who is now identity-protected: it cannot be served. Ask the witness for a further statement "
        "under the pseudonym, or lift the protection."
        for s in signed
        if s.author_id in pseudonyms and s.signed_as != pseudonyms[s.author_id]
    ]


def bundle_request(*, tasking: Tasking, by: User) -> HandoverBundle:
    """Version n+1, built by a Celery job queued on commit. A request while one is building returns it."""
    from evidence.policy import may_request_bundle
    from portal.jobs import job_create

    if not may_request_bundle(by, tasking):
        raise PermissionDenied("Only a supervising officer of the tasking's scheme may request its bundle.")
    with transaction.atomic():
        # One request at a time per tasking; NO KEY so rows that merely refer to the tasking are not held up.
        Tasking.objects.select_for_update(no_key=True).filter(pk=tasking.pk).order_by("pk").first()
        pending = tasking.bundles.filter(state__in=[HandoverBundle.State.QUEUED, HandoverBundle.State.BUILDING])
        if pending.exists():
            return pending.first()
        missing = bundle_missing(tasking)
        if missing:
            raise BundleRefused(missing)
        last = tasking.bundles.order_by("-version").first()
        bundle = HandoverBundle.objects.create(
            tasking=tasking, version=(last.version + 1) if last else 1, requested_by=by
        )
        job_create(kind="evidence.bundle_build", obj=bundle, by=by)
        audit_record(action="evidence.bundle_request", actor=by, obj=tasking, detail={"bundle": bundle.pk})
    return bundle


def bundle_start(bundle: HandoverBundle) -> dict:
    """Mark the bundle building and fix its plan; returns the plan. Refused for a bundle whose files were withdrawn
    (an exhibit it was to hold was disposed of): it is never built."""
    from evidence.bundles.plan import bundle_plan

    withdrawn = HandoverBundle.objects.filter(pk=bundle.pk, files_withdrawn_at__isnull=False).first()
    if withdrawn is not None:
        raise RuntimeError(withdrawn.error or "The bundle's files were withdrawn: an exhibit it holds was disposed of.")
    HandoverBundle.objects.filter(pk=bundle.pk).exclude(state=HandoverBundle.State.READY).update(
        state=HandoverBundle.State.BUILDING, error=""
    )
    return bundle_plan(bundle)


def bundle_fail(bundle: HandoverBundle, reason: str) -> None:
    # A bundle withdrawn (an exhibit it was to hold was disposed of) is failed already, and keeps saying why.
    HandoverBundle.objects.filter(pk=bundle.pk, files_withdrawn_at__isnull=True).exclude(
        state=HandoverBundle.State.READY
    ).update(state=HandoverBundle.State.FAILED, error=reason[:2000])
    if HandoverBundle.objects.filter(pk=bundle.pk, state=HandoverBundle.State.FAILED).exists():
        # Each failing part of a build reports; the officer hears once per build (a retry is a new build).
        notify(
            user=bundle.requested_by,
            subject=f"Bundle not built: {bundle.tasking.reference} version {bundle.version}",
            text=f"The bundle you asked for ({bundle.tasking.reference}, version {bundle.version}) could not be "
            "built. Open it to see what went wrong, then try again.",
            url=reverse("bundle_status", args=[bundle.pk]),
            once=f"evidence.bundle_failed:{bundle.pk}:{getattr(bundle_job(bundle), 'enqueued_at', '')}",
        )


def bundle_retry(bundle: HandoverBundle, *, by: User) -> bool:
    """Send a failed build again; the chunks already rendered are kept. False if it had not failed, or if its
    files were withdrawn (an exhibit it holds was disposed of: it is never built)."""
    from portal.jobs import job_retry

    if HandoverBundle.objects.filter(pk=bundle.pk, files_withdrawn_at__isnull=False).exists():
        return False
    job = bundle_job(bundle)
    if job is None or job.state != Job.State.FAILED:
        return False
    with transaction.atomic():
        HandoverBundle.objects.filter(pk=bundle.pk, state=HandoverBundle.State.FAILED).update(
            state=HandoverBundle.State.QUEUED, error=""
        )
        job_retry(job=job, by=by)
    return True


def bundle_job(bundle: HandoverBundle) -> Job | None:
    return Job.objects.filter(kind="evidence.bundle_build", object_id=str(bundle.pk)).order_by("-id").first()


def newer_version(bundle: HandoverBundle) -> HandoverBundle | None:
    """The latest finished version of the same tasking's bundle, if it is newer than `bundle`."""
    return (
        bundle.tasking.bundles.filter(version__gt=bundle.version, state=HandoverBundle.State.READY)
        .order_by("-version")
        .first()
    )
