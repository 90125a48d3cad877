"""Model fields of the ground floor."""

from __future__ import annotations

from typing import Any

from django.db import models

from portal import crypto


class EncryptedTextField(models.TextField):
    """Text stored as a Fernet token: the raw column never holds plaintext.

    Not searchable or orderable by content, by design. Read access is still the policy's job:
    encryption protects backups, replicas and database access, not the application's own screens.
    """

    description = "Encrypted text"

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None:
            return None
        return crypto.encrypt(str(value))

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None:
            return None
        return crypto.decrypt(value)

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name not in {"isnull", "exact"}:
            return None  # comparing ciphertexts means nothing
        return super().get_lookup(lookup_name)
