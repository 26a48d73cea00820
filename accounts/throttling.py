"""Limits on login and registration, per client address and per account (counted in Redis)."""

from __future__ import annotations

import hashlib
import math

from django.conf import settings

from accounts import token_store
from accounts.exceptions import Throttled
from accounts.managers import normalize_email
from accounts.token_store import Limit
from accounts.types import Caller

_MINUTE_MS = 60_000


def _account_key(email: str) -> str:
    # Hashed, so that the keys in Redis do not list the addresses people tried.
    return "acct:" + hashlib.sha256(normalize_email(email).encode()).hexdigest()[:32]


def _failures(email: str, *, count: bool) -> Limit:
    window = settings.THROTTLE_ACCOUNT_WINDOW_SECONDS * 1000
    return Limit(_account_key(email), settings.THROTTLE_ACCOUNT_FAILURES, window, count)


def _check(limits: list[Limit]) -> None:
    wait_ms = token_store.throttle(limits)
    if wait_ms:
        raise Throttled(retry_after=max(1, math.ceil(wait_ms / 1000)))


def login_attempt(*, email: str, caller: Caller) -> None:
    """Refuse (Throttled) a login from a busy address or on an account under attack."""
    per_ip = Limit(f"login:ip:{caller.ip}", settings.THROTTLE_LOGIN_PER_MINUTE, _MINUTE_MS)
    _check([per_ip, _failures(email, count=False)])


def password_attempt(*, email: str) -> None:
    """Refuse (Throttled) a password check on an account under attack."""
    _check([_failures(email, count=False)])


def login_failed(*, email: str) -> None:
    token_store.throttle_count(_failures(email, count=True))


def register_attempt(*, caller: Caller) -> None:
    per_ip = Limit(f"register:ip:{caller.ip}", settings.THROTTLE_REGISTER_PER_MINUTE, _MINUTE_MS)
    _check([per_ip])
