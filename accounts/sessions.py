"""The session lifecycle: start, authenticate, refresh, log out, end one, end all; with audit.

A session's tokens are checked against PostgreSQL and Redis on every use: the user row must be
active and its `session_generation` must be the one the session was opened in (PostgreSQL, the
read me and refresh make anyway), and the session must be live in Redis. Ending every session
of a user is one UPDATE of that generation, in the same transaction as the change that calls
for it (new password, deactivation, logout-all), so no failure can leave an old session alive
for those checks. Forward auth reads no PostgreSQL: for it, the same transaction raises the
user's generation floor in Redis before it commits (a Redis failure rolls the change back,
503), and a session below the floor is dead for every check. A floor left ahead by a failed
commit is caught up by the next login (`_generation_caught_up`). Redis records are purged on
commit, as garbage collection only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, NoReturn

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction
from django.db.models import F

from accounts import metrics, request_context, selectors, token_store, tokens
from accounts.audit import Kind, audit_record
from accounts.clock import now_ms
from accounts.exceptions import (
    InvalidCredentials,
    InvalidToken,
    SessionNotFound,
    StoreUnavailable,
    TokenReused,
)
from accounts.models import User
from accounts.types import AccessClaims, Caller, Principal, Session, TokenPair

logger = logging.getLogger(__name__)

_AGENT_MAX = 256


def _ms(delta: timedelta) -> int:
    return int(delta.total_seconds() * 1000)


def _pair(
    user_id: str,
    session_id: str,
    counter: int,
    *,
    now: int,
    until: int,
    roles: Sequence[str] | None = None,
) -> TokenPair:
    return TokenPair(
        access=tokens.access_encode(user_id=user_id, session_id=session_id, roles=roles),
        refresh=tokens.refresh_encode(user_id=user_id, session_id=session_id, counter=counter),
        expires_in=int(settings.ACCESS_TOKEN_LIFETIME.total_seconds()),
        refresh_expires_in=max(0, (until - now) // 1000),
        session_id=session_id,
    )


def session_start(*, user: User, caller: Caller) -> TokenPair:
    """Open a new session for an authenticated user and return its first token pair."""
    roles = selectors.user_roles(user=user)  # before the session exists: it may need a query
    user_id, session_id, now = str(user.pk), tokens.new_session_id(), now_ms()
    absolute = now + _ms(settings.SESSION_MAX_LIFETIME)
    expires = min(now + _ms(settings.REFRESH_TOKEN_LIFETIME), absolute)
    record: dict[str, Any] = {
        "user_id": user_id,
        "session_id": session_id,
        "now_ms": now,
        "expires_ms": expires,
        "absolute_ms": absolute,
        "user_agent": caller.user_agent[:_AGENT_MAX],
        "ip": caller.ip,
    }
    floor = token_store.session_create(generation=user.session_generation, **record)
    if floor is not None:
        token_store.session_create(generation=_generation_caught_up(user, floor), **record)
    return _pair(user_id, session_id, 0, now=now, until=expires, roles=roles)


def _generation_caught_up(user: User, floor: int) -> int:
    """The user's generation brought up to the Redis floor, when the user is still as the caller
    read them (same password, still active); else InvalidCredentials.

    The floor is ahead when an end-all is in flight (its transaction holds the row: the lock
    waits for it; then a new password or a deactivation refuses this session, a logout-all lets
    it open in the new generation) or when its commit failed after the floor rose (this heals
    it: the user's generation catches up, as if that end-all had committed)."""
    with transaction.atomic():
        row = (
            User.objects.select_for_update()
            .filter(pk=user.pk, password=user.password, is_active=True)
            .only("session_generation")
            .first()
        )
        if row is None:
            raise InvalidCredentials()
        if row.session_generation < floor:
            User.objects.filter(pk=user.pk).update(session_generation=floor)
    user.session_generation = max(row.session_generation, floor)
    return user.session_generation


# The two hot operations, authenticate and refresh, come twice: for Django's sync views and,
# with the same rules and the same storage calls through asyncio clients, for the event loop
# (api/hotpath.py). Each is: decode (CPU), read the user (PostgreSQL), one Lua step (Redis),
# then a verdict that both share.


def access_authenticate(raw: str) -> Principal:
    """The caller an access token proves: signature, claims, user and session (one PostgreSQL
    read, one Redis round trip)."""
    claims = tokens.access_decode(raw)
    user = selectors.user_get_active(user_id=claims.user_id)
    live = user is not None and token_store.session_is_live(**_check_args(claims, user))
    return _principal(claims, user, live)


async def access_authenticate_async(raw: str) -> Principal:
    """access_authenticate on the event loop."""
    claims = tokens.access_decode(raw)
    user = await selectors.user_get_active_async(user_id=claims.user_id)
    live = user is not None and await token_store.session_is_live_async(**_check_args(claims, user))
    return _principal(claims, user, live)


def access_verify(raw: str) -> AccessClaims:
    """What a live access token says, for forward auth: signature, claims and session, one Redis
    round trip and no PostgreSQL (the user's generation floor in Redis stands for the row)."""
    claims = tokens.access_decode(raw)
    if not token_store.session_is_live(**_verify_args(claims)):
        raise InvalidToken()
    return claims


async def access_verify_async(raw: str) -> AccessClaims:
    """access_verify on the event loop."""
    claims = tokens.access_decode(raw)
    if not await token_store.session_is_live_async(**_verify_args(claims)):
        raise InvalidToken()
    return claims


def _verify_args(claims: AccessClaims) -> dict[str, Any]:
    return {
        "user_id": claims.user_id,
        "session_id": claims.session_id,
        "generation": None,
        "now_ms": now_ms(),
    }


def _check_args(claims: AccessClaims, user: User) -> dict[str, Any]:
    return {
        "user_id": claims.user_id,
        "session_id": claims.session_id,
        "generation": user.session_generation,
        "now_ms": now_ms(),
    }


def _principal(claims: AccessClaims, user: User | None, live: bool) -> Principal:
    if user is None or not live:
        raise InvalidToken()
    return Principal(user=user, claims=claims)


def session_refresh(*, refresh: str, caller: Caller) -> TokenPair:
    """Rotate a refresh token: of concurrent uses exactly one wins; a replay ends the session."""
    user_id, session_id, counter = tokens.refresh_decode(refresh)
    user = selectors.user_get_active_with_roles(user_id=user_id)
    if user is None:
        _end_orphan(user_id, session_id)
    args = _rotate_args(user_id, session_id, counter, user, caller)
    rotation = token_store.session_rotate(**args)
    if rotation.outcome == "reused":
        audit_record(kind=Kind.REFRESH_REUSE, user=user, session_id=session_id, caller=caller)
    return _rotated(rotation, args, user)


async def session_refresh_async(*, refresh: str, caller: Caller) -> TokenPair:
    """session_refresh on the event loop (the audit row of a reuse goes to a thread)."""
    user_id, session_id, counter = tokens.refresh_decode(refresh)
    user = await selectors.user_get_active_async(user_id=user_id, roles=True)
    if user is None:
        await sync_to_async(_end_orphan)(user_id, session_id)
    args = _rotate_args(user_id, session_id, counter, user, caller)
    rotation = await token_store.session_rotate_async(**args)
    if rotation.outcome == "reused":
        await sync_to_async(audit_record)(
            kind=Kind.REFRESH_REUSE, user=user, session_id=session_id, caller=caller
        )
    return _rotated(rotation, args, user)


def _end_orphan(user_id: str, session_id: str) -> NoReturn:
    # The account is inactive or gone: the session ends, so coming back revives nothing.
    metrics.refresh_counted("missing")
    token_store.session_end(user_id=user_id, session_id=session_id, generation=-1, now_ms=0)
    raise InvalidToken()


def _rotate_args(
    user_id: str, session_id: str, counter: int, user: User, caller: Caller
) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "session_id": session_id,
        "counter": counter,
        "generation": user.session_generation,
        "now_ms": now_ms(),
        "lifetime_ms": _ms(settings.REFRESH_TOKEN_LIFETIME),
        "grace_ms": _ms(settings.REFRESH_REUSE_GRACE),
        "user_agent": caller.user_agent[:_AGENT_MAX],
        "ip": caller.ip,
    }


def _rotated(rotation: token_store.Rotation, args: dict[str, Any], user: User) -> TokenPair:
    metrics.refresh_counted(rotation.outcome)
    request_context.user_noted(user.pk)
    if rotation.outcome == "reused":
        raise TokenReused()
    if rotation.outcome == "missing":
        raise InvalidToken()
    user_id, session_id, now = args["user_id"], args["session_id"], args["now_ms"]
    roles = selectors.user_roles(user=user)  # read with the user: the roles as they are now
    return _pair(
        user_id, session_id, rotation.counter, now=now, until=rotation.expires_ms, roles=roles
    )


def session_logout(*, refresh: str, caller: Caller) -> None:
    """End the session a refresh token belongs to; silent about tokens that name none."""
    try:
        user_id, session_id, _ = tokens.refresh_decode(refresh)
    except InvalidToken:
        return
    user = selectors.user_get_active(user_id=user_id)
    if user is not None and _end(user, session_id):
        audit_record(kind=Kind.LOGOUT, user=user, session_id=session_id, caller=caller)


def session_end(*, user: User, session_id: str, caller: Caller, actor: User | None = None) -> None:
    """End one of the user's sessions; SessionNotFound if it is not theirs or not live."""
    if not _end(user, session_id):
        raise SessionNotFound()
    audit_record(
        kind=Kind.SESSION_ENDED, user=user, session_id=session_id, caller=caller, actor=actor
    )


def _end(user: User, session_id: str) -> bool:
    return token_store.session_end(
        user_id=str(user.pk),
        session_id=session_id,
        generation=user.session_generation,
        now_ms=now_ms(),
    )


def sessions_end_all(
    *, user: User, kind: str, caller: Caller | None = None, actor: User | None = None
) -> None:
    """End every session of the user: every token issued before now stops working.

    Call it inside the transaction of the change that calls for it: the generation moves
    with that change, or not at all. It needs Redis (the floor): without it, StoreUnavailable,
    and the change rolls back.
    """
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(session_generation=F("session_generation") + 1)
        user.refresh_from_db(fields=["session_generation"])
        # Before the commit: the checks that read no PostgreSQL (forward auth) see the end at
        # once, and if Redis cannot take it nothing changes (StoreUnavailable rolls back).
        token_store.generation_raise(
            user_id=str(user.pk),
            generation=user.session_generation,
            keep_ms=_ms(settings.SESSION_MAX_LIFETIME),
        )
        audit_record(kind=kind, user=user, caller=caller, actor=actor)
    user_id = str(user.pk)
    transaction.on_commit(lambda: _purge(user_id))


def _purge(user_id: str) -> None:
    try:
        token_store.sessions_purge(user_id=user_id)
    except StoreUnavailable:
        # The sessions are dead already (their generation is gone); their records expire.
        logger.warning("token store unavailable: session records of a user left to expire")


def sessions_list(*, user: User) -> list[Session]:
    """The user's live sessions, newest first."""
    return token_store.sessions_list(
        user_id=str(user.pk), generation=user.session_generation, now_ms=now_ms()
    )
