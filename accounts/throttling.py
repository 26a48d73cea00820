"""Limits on login, registration and API clients' authentication, per client address, per
(account, client) and per account (counted in Redis; the rules are in README.md, Throttling).

A client is its address (`Caller.ip`): API clients carry no device cookie. Names in Redis are
keyed hashes (HMAC with SECRET_KEY), never an email or an address in clear: an unkeyed hash of
an IPv4 address is undone by trying all 2^32 of them.
"""

from __future__ import annotations

import hashlib
import hmac
import math

from django.conf import settings

from accounts import selectors, token_store
from accounts.audit import Kind, audit_record
from accounts.clock import now_ms
from accounts.exceptions import Throttled
from accounts.managers import normalize_email
from accounts.token_store import Backoff, Limit, Pair
from accounts.types import Caller

_MINUTE_MS = 60_000
_SECOND_MS = 1000
_HOUR_MS = 3_600_000
_DAY_MS = 86_400_000


def _digest(value: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32]


def _account_name(email: str) -> str:
    return "acct:" + _digest(normalize_email(email))


def _pair(email: str, caller: Caller) -> Pair:
    return Pair(account=_account_name(email), client=_digest(caller.ip))


def _rules() -> Backoff:
    return Backoff(
        free=settings.THROTTLE_PAIR_FREE_FAILURES,
        base_ms=settings.THROTTLE_BACKOFF_BASE_SECONDS * _SECOND_MS,
        cap_ms=settings.THROTTLE_BACKOFF_MAX_SECONDS * _SECOND_MS,
        threshold=settings.THROTTLE_ACCOUNT_FAILURES,
        window_ms=settings.THROTTLE_ACCOUNT_WINDOW_SECONDS * _SECOND_MS,
        hard_cap=settings.THROTTLE_ACCOUNT_MAX_FAILURES,
        memory_ms=settings.THROTTLE_KNOWN_CLIENT_DAYS * _DAY_MS,
    )


def _per_address(action: str, caller: Caller, limit: int) -> Limit:
    return Limit(f"{action}:ip:{_digest(caller.ip)}", limit, _MINUTE_MS)


def _check(limits: list[Limit], pair: Pair | None = None) -> None:
    wait_ms = token_store.throttle(limits, now_ms=now_ms(), pair=pair, rules=_rules())
    if wait_ms:
        raise Throttled(retry_after=max(1, math.ceil(wait_ms / _SECOND_MS)))


def login_attempt(*, email: str, caller: Caller) -> None:
    """Refuse (Throttled) a login from a busy address, or from a client that must wait."""
    per_ip = _per_address("login", caller, settings.THROTTLE_LOGIN_PER_MINUTE)
    _check([per_ip], _pair(email, caller))


def password_attempt(*, email: str, caller: Caller) -> None:
    """Refuse (Throttled) a password check from a client that must wait."""
    _check([], _pair(email, caller))


def login_failed(*, email: str, caller: Caller) -> None:
    """Count a wrong password of this client on this account; audit a lock it sets off."""
    rules = _rules()
    strikes = token_store.throttle_failed(_pair(email, caller), rules, now_ms=now_ms())
    if strikes.locked:
        window = rules.window_ms // _SECOND_MS
        _audit(Kind.ACCOUNT_LOCKED, email, caller, f"{rules.threshold} failures in {window} s")
    if strikes.capped:
        _audit(Kind.ACCOUNT_LOCKED, email, caller, f"{rules.hard_cap} consecutive failures")


def login_succeeded(*, email: str, caller: Caller) -> None:
    """Forget this client's failures on the account and remember it as known."""
    token_store.throttle_succeeded(_pair(email, caller), _rules(), now_ms=now_ms())


def account_unlock(*, email: str, caller: Caller | None = None) -> bool:
    """Clear every failure counted on the account (an admin's act, audited); any were there."""
    cleared = token_store.throttle_clear(_account_name(email))
    detail = "failures cleared" if cleared else "no failures counted"
    _audit(Kind.ACCOUNT_UNLOCKED, email, caller or Caller(), detail)
    return cleared


def _client_limits(client_id: str, caller: Caller, *, count: bool) -> list[Limit]:
    limit = settings.THROTTLE_CLIENT_FAILURES_PER_MINUTE
    return [
        Limit(f"client:ip:{_digest(caller.ip)}", limit, _MINUTE_MS, count),
        Limit(f"client:id:{_digest(client_id)}", limit, _MINUTE_MS, count),
    ]


def client_attempt(*, client_id: str, caller: Caller) -> None:
    """Refuse (Throttled) client authentication from an address, or for a client id, that
    failed too often this minute; successes are never counted (resource servers introspect
    often)."""
    _check(_client_limits(client_id, caller, count=False))


def client_failed(*, client_id: str, caller: Caller) -> None:
    """Count a failed client authentication, for its address and its client id."""
    token_store.throttle(_client_limits(client_id, caller, count=True), now_ms=now_ms())


def register_attempt(*, caller: Caller) -> None:
    _check([_per_address("register", caller, settings.THROTTLE_REGISTER_PER_MINUTE)])


def mail_attempt(*, flow: str, email: str, caller: Caller, per_client: bool = True) -> None:
    """Refuse (Throttled) a request that mails `email` once too often for this flow, per
    address (whether or not it has an account) and per client address: no inbox can be
    bombed through us."""
    limits = [
        Limit(
            f"mail:{flow}:{_account_name(email)}",
            settings.THROTTLE_MAIL_PER_ADDRESS_PER_HOUR,
            _HOUR_MS,
        )
    ]
    if per_client:
        limit = settings.THROTTLE_MAIL_PER_CLIENT_PER_HOUR
        limits.append(Limit(f"mail:{flow}:ip:{_digest(caller.ip)}", limit, _HOUR_MS))
    _check(limits)


def mail_allowed(*, flow: str, email: str, caller: Caller) -> bool:
    """Whether one more mail of this flow may go to `email` now (counted as sent); for answers
    that must not change with the limit (a 429 there would be an oracle of its own)."""
    try:
        mail_attempt(flow=flow, email=email, caller=caller, per_client=False)
    except Throttled:
        return False
    return True


def confirm_attempt(*, caller: Caller) -> None:
    """Refuse (Throttled) a busy client's attempt at a mailed token or code."""
    _check([_per_address("confirm", caller, settings.THROTTLE_CONFIRM_PER_MINUTE)])


def _audit(kind: str, email: str, caller: Caller, detail: str) -> None:
    user = selectors.user_get_by_email(email=email)
    audit_record(kind=kind, user=user, email=normalize_email(email), caller=caller, detail=detail)
