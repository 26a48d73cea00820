"""Reads of the accounts domain."""

from __future__ import annotations

import uuid

from accounts.managers import normalize_email
from accounts.models import User


def user_get_by_email(*, email: str) -> User | None:
    return User.objects.filter(email=normalize_email(email)).first()


def user_get_active(*, user_id: str) -> User | None:
    """The active user with this id, or None (also for an id that is not a UUID)."""
    try:
        pk = uuid.UUID(user_id)
    except ValueError:
        return None
    return User.objects.filter(pk=pk, is_active=True).first()
