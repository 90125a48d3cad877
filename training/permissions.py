"""Who may have a certificate's PDF: its holder, and officers or administrators of the holder's scheme."""

from __future__ import annotations

from portal import roles
from portal.models import User
from training.models import Certificate


def may_download_certificate(user: User, certificate: Certificate) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if certificate.user_id == user.pk or user.is_superuser:
        return True
    officer = roles.has_role(user, roles.OFFICER) or roles.has_role(user, roles.SCHEME_ADMIN)
    return officer and user.scheme_id is not None and user.scheme_id == certificate.user.scheme_id
