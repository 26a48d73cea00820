"""The security audit log: who did what, from where. Never a token or a password."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from accounts import metrics, request_context
from accounts.models import AuditEvent, User
from accounts.types import Caller

Kind = AuditEvent.Kind
# The kinds that end sessions, and the reason the metrics give for each.
SESSION_END_REASONS: dict[str, str] = {
    Kind.LOGOUT: "logout",
    Kind.SESSION_ENDED: "revoked",
    Kind.LOGOUT_ALL: "logout_all",
    Kind.PASSWORD_CHANGED: "password_changed",
    Kind.USER_DEACTIVATED: "deactivated",
    Kind.USER_DELETED: "deleted",
    Kind.REFRESH_REUSE: "reuse",
}
metrics.kinds_registered(audit=tuple(Kind.values), session_ends=tuple(SESSION_END_REASONS.values()))


def audit_record(
    *,
    kind: str,
    user: User | None = None,
    email: str = "",
    session_id: str = "",
    caller: Caller | None = None,
    detail: str = "",
    actor: User | None = None,
    client_id: str = "",
) -> AuditEvent:
    """Write one audit row (with the id of the request in progress), and count it."""
    caller = caller or Caller()
    if user is not None:
        request_context.user_noted(user.pk)
    metrics.audit_counted(kind, SESSION_END_REASONS.get(kind))
    return AuditEvent.objects.create(
        kind=kind,
        user=user,
        email=(email or (user.email if user else ""))[:254],
        actor=actor,
        actor_email=actor.email[:254] if actor else "",
        session_id=session_id,
        client_id=client_id,
        ip=_ip_or_none(caller.ip),
        user_agent=caller.user_agent[:256],
        detail=detail[:256],
        request_id=request_context.request_id(),
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
