"""The security audit log: who did what, from where. Never a token or a password."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from accounts.models import AuditEvent, User
from accounts.types import Caller

Kind = AuditEvent.Kind


def audit_record(
    *,
    kind: str,
    user: User | None = None,
    email: str = "",
    session_id: str = "",
    caller: Caller | None = None,
    detail: str = "",
    actor: User | None = None,
) -> AuditEvent:
    """Write one audit row."""
    caller = caller or Caller()
    return AuditEvent.objects.create(
        kind=kind,
        user=user,
        email=(email or (user.email if user else ""))[:254],
        actor=actor,
        actor_email=actor.email[:254] if actor else "",
        session_id=session_id,
        ip=_ip_or_none(caller.ip),
        user_agent=caller.user_agent[:256],
        detail=detail[:256],
    )


def audit_pseudonymise(*, user: User) -> int:
    """Replace the user's address in their audit rows by a keyed pseudonym (the same one in
    every row, so the trail still reads as one person's); returns how many rows."""
    digest = hmac.new(settings.SECRET_KEY.encode(), user.email.encode(), hashlib.sha256)
    pseudonym = f"deleted-{digest.hexdigest()[:24]}"
    rows = AuditEvent.objects.filter(Q(user=user) | Q(email=user.email))
    return rows.update(email=pseudonym)


def audit_prune(*, older_than: timedelta) -> int:
    """Delete rows older than the retention; returns how many."""
    deleted, _ = AuditEvent.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted


def _ip_or_none(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None
