"""The disclosure officer's schedules of unused material (CPIA 1996, Code of Practice paras 6 and 7): what each
lists, and the signature that certifies it complete, given by an explicit act after re-authentication.
A signature covers the items as they stood when it was given: a schedule changed afterwards is unsigned
until the disclosure officer signs it again."""

from __future__ import annotations

import hashlib
import json

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from evidence.models import ScheduleSignature, Tasking, UnusedMaterial
from portal.audit import audit_record
from portal.models import User

SCHEDULES = (UnusedMaterial.Schedule.MG6C, UnusedMaterial.Schedule.MG6D)
TITLES = {
    UnusedMaterial.Schedule.MG6C: "MG6C — non-sensitive unused material",
    UnusedMaterial.Schedule.MG6D: "MG6D — sensitive unused material",
}
CERTIFICATE = {
    UnusedMaterial.Schedule.MG6C: "I certify that, to the best of my knowledge and belief, all relevant material "
    "which has been retained and made available to me and which is not sensitive is listed on this schedule.",
    UnusedMaterial.Schedule.MG6D: "I certify that, to the best of my knowledge and belief, all relevant material "
    "which has been retained and made available to me and which is sensitive is listed on this schedule.",
}


def schedule_items(tasking: Tasking, schedule: str) -> list[UnusedMaterial]:
    return list(tasking.unused_material.filter(schedule=schedule).select_related("exhibit", "by").order_by("at", "pk"))


def schedule_digest(items: list[UnusedMaterial]) -> str:
    """SHA-256 over the schedule's items as listed (id, description, reason, exhibit): what a signature
    covers."""
    rows = [[item.pk, item.description, item.reason, item.exhibit.reference if item.exhibit else ""] for item in items]
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


def schedule_signature(tasking: Tasking, schedule: str) -> ScheduleSignature | None:
    """The signature that covers the schedule as it stands now; None if it was never signed or has changed
    since."""
    latest = ScheduleSignature.objects.filter(tasking=tasking, schedule=schedule).order_by("-signed_at", "-pk").first()
    if latest is None or latest.digest != schedule_digest(schedule_items(tasking, schedule)):
        return None
    return latest


def schedules_unsigned(tasking: Tasking) -> list[str]:
    """Each schedule not signed as it stands, with what to do: for bundle_missing."""
    missing = []
    for schedule in SCHEDULES:
        if schedule_signature(tasking, schedule) is None:
            changed = ScheduleSignature.objects.filter(tasking=tasking, schedule=schedule).exists()
            missing.append(
                f"The {schedule} schedule has changed since the disclosure officer signed it: they must sign it "
                "again (Disclosure schedules, on the tasking's page)."
                if changed
                else f"The {schedule} schedule has not been signed by the disclosure officer: sign it under "
                "Disclosure schedules on the tasking's page."
            )
    return missing


def schedule_sign(*, tasking: Tasking, schedule: str, by: User, digest: str) -> ScheduleSignature:
    """Sign the schedule as the disclosure officer saw it: `digest` is of the items shown when they chose to
    sign, so an item added meanwhile is not signed for unseen."""
    from evidence.policy import may_sign_schedules

    if not may_sign_schedules(by, tasking):
        raise PermissionDenied("Only a supervising officer of the tasking's scheme signs its disclosure schedules.")
    if schedule not in SCHEDULES:
        raise ValidationError("There is no such schedule.")
    with transaction.atomic():
        Tasking.objects.select_for_update(no_key=True).filter(pk=tasking.pk).order_by("pk").first()
        items = schedule_items(tasking, schedule)
        current = schedule_digest(items)
        if digest != current:
            raise ValidationError(
                f"The {schedule} schedule changed while you were reading it. Read it again before you sign."
            )
        signature = ScheduleSignature.objects.create(
            tasking=tasking,
            schedule=schedule,
            items=[item.pk for item in items],
            digest=current,
            signed_by=by,
            signed_by_name=by.get_full_name() or by.email,
        )
        audit_record(
            action="evidence.schedule_sign",
            actor=by,
            obj=tasking,
            detail={"schedule": schedule, "items": signature.items, "digest": current},
        )
    return signature
