"""The security audit log: who did what, from where. Never a token or a password."""

from __future__ import annotations

import ipaddress
from datetime import timedelta

from django.utils import timezone

from accounts.context import Client
from accounts.models import AuditEvent, User

Kind = AuditEvent.Kind


def audit_record(
    *,
    kind: str,
    user: User | None = None,
    email: str = "",
    session_id: str = "",
    client: Client | None = None,
    detail: str = "",
) -> AuditEvent:
    """Write one audit row."""
    client = client or Client()
    return AuditEvent.objects.create(
        kind=kind,
        user=user,
        email=(email or (user.email if user else ""))[:254],
        session_id=session_id,
        ip=_ip_or_none(client.ip),
        user_agent=client.user_agent[:256],
        detail=detail[:256],
    )


def audit_prune(*, older_than: timedelta) -> int:
    """Delete rows older than the retention; returns how many."""
    deleted, _ = AuditEvent.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted


def _ip_or_none(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None
