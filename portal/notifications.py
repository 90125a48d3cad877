"""Telling people what happened: a notice in the portal and an e-mail, the one place every app calls."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from portal.models import Notice, User

# E-mail leaves the portal's protection: it says what happened and where to look, never what the evidence,
# the tasking's persona or objective, or anyone's notes say. Callers pass only references and states.
FOOTER = (
    "You are receiving this because you have an account on the Accredited Volunteer Portal. Emails from the "
    "portal never contain evidence or case details: sign in to see them."
)


def portal_link(path: str = "") -> str:
    """The full address of a page, for links that leave the portal. Inside a request it is the address the
    person is using; in a background job, PORTAL_BASE_URL."""
    from portal.audit import current_request

    if path.startswith(("http://", "https://")):
        return path
    path = "/" + path.lstrip("/")
    request = current_request.get()
    if request is not None:
        return request.build_absolute_uri(path)
    return settings.PORTAL_BASE_URL.rstrip("/") + path


def email_on_commit(*, to: str, subject: str, text: str) -> None:
    """Send once the surrounding transaction commits, so nobody hears of a change that was rolled back. A mail
    server that is down is logged by Django (robust) and never undoes or fails the action itself."""
    transaction.on_commit(
        lambda: send_mail(subject=subject, message=text, from_email=None, recipient_list=[to]), robust=True
    )


def notify(*, user: User, subject: str, text: str, url: str = "", once: str = "") -> Notice | None:
    """Tell one person: a notice they see in the portal, and the same words by e-mail with a link to `url`
    (a path inside the portal). `once` names an event that may be reported more than once (each failing
    part of one build): only the first report reaches the person. None if nothing was sent: a deactivated
    account, or an event already reported."""
    if url and not url.startswith("/"):
        raise ValueError(f"A notice links to a path inside the portal, not {url!r}.")
    if not user.is_active:
        return None
    if once and Notice.objects.filter(user=user, once=once).exists():
        return None
    try:
        with transaction.atomic():
            notice = Notice.objects.create(user=user, subject=subject[:200], text=text, url=url, once=once)
    except IntegrityError:  # another worker reported the same event a moment earlier
        return None
    greeting = f"Dear {user.full_name}," if user.full_name else "Hello,"
    body = f"{greeting}\n\n{text}\n\nSign in to the portal to see more:\n{portal_link(url)}\n\n{FOOTER}"
    email_on_commit(to=user.email, subject=subject, text=body)
    return notice


def notices_for(user: User) -> QuerySet[Notice]:
    """A person's own notices, newest first."""
    return Notice.objects.filter(user=user).order_by("-created_at", "-id")


def unread_notice_count(user: User) -> int:
    from portal.signed_in import UNREAD_NOTICES

    if not user.is_authenticated:
        return 0
    known = getattr(user, UNREAD_NOTICES, None)  # read with the request's user (portal.signed_in)
    if known is not None:
        return known
    return Notice.objects.filter(user=user, read_at__isnull=True).count()


def notices_mark_read(*, user: User, ids: list[int]) -> int:
    """Mark the notices the person has just been shown as read; never anyone else's."""
    from portal.signed_in import forget_state

    marked = Notice.objects.filter(user=user, pk__in=ids, read_at__isnull=True).update(read_at=timezone.now())
    forget_state(user)  # the header counts what is still unread after this
    return marked
