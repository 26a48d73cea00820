"""Rules Django does not ship: a password's maximum length, an address that is an identity."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from accounts import identity

MIXED_SCRIPTS = (
    "Enter an email address that does not mix scripts (such as Latin and Cyrillic letters)."
)


class MaximumLengthValidator:
    """Refuse passwords longer than `max_length` characters (NIST allows a cap of at least 64)."""

    def __init__(self, max_length: int = 128) -> None:
        self.max_length = max_length

    def validate(self, password: str, user: Any = None) -> None:
        if len(password) > self.max_length:
            raise ValidationError(
                f"This password is too long. It must contain at most {self.max_length} characters.",
                code="password_too_long",
            )

    def get_help_text(self) -> str:
        return f"Your password must contain at most {self.max_length} characters."


def validate_email_identity(value: str) -> None:
    """Refuse an address that is no identity of its own: a domain that is not a valid IDNA
    name, or a local part or domain label that mixes scripts (accounts/identity.py).

    An address Django's own email check refuses is left to it (one message, not two)."""
    try:
        validate_email(value)
    except ValidationError:
        return
    local, _, domain = value.rpartition("@")
    if not domain.startswith("[") and identity.domain_ascii(domain) is None:
        raise ValidationError("Enter a valid email address.", code="invalid")
    if any(identity.scripts_mixed(part) for part in (local, *domain.split("."))):
        raise ValidationError(MIXED_SCRIPTS, code="mixed_scripts")
