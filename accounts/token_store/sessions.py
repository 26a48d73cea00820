"""Sessions in Redis: one hash per session, a set of session ids per user.

Keys carry the user's hash tag, `auth:{u:<uid>}:...`, so every call touches one hash slot and
the store can move to Redis Cluster. Times are ms from the application's clock; a session is
live while it is within both deadlines and its generation is the user's current one (passed in
by the caller, who read it from PostgreSQL).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from accounts.token_store.connection import (
    async_script,
    client,
    script,
    text,
    translate_errors,
    translate_errors_async,
)
from accounts.types import Session


@dataclass(frozen=True)
class Rotation:
    """What a refresh did: `rotated` or `grace` carry the current counter and idle deadline."""

    outcome: str  # rotated | grace | reused | missing
    counter: int = 0
    expires_ms: int = 0


def _session_key(user_id: str, session_id: str) -> str:
    return f"auth:{{u:{user_id}}}:s:{session_id}"


def _sessions_key(user_id: str) -> str:
    return f"auth:{{u:{user_id}}}:sessions"


def _floor_key(user_id: str) -> str:
    return f"auth:{{u:{user_id}}}:gen"


@translate_errors
def session_create(
    *,
    user_id: str,
    session_id: str,
    generation: int,
    now_ms: int,
    expires_ms: int,
    absolute_ms: int,
    user_agent: str,
    ip: str,
) -> int | None:
    """Open a session; None, or the user's generation floor when `generation` is below it (then
    nothing was created)."""
    keys = [_session_key(user_id, session_id), _sessions_key(user_id), _floor_key(user_id)]
    args = [user_id, session_id, now_ms, expires_ms, absolute_ms, generation, user_agent, ip]
    floor = int(script("create")(keys=keys, args=args))
    return None if floor < 0 else floor


@translate_errors
def generation_raise(*, user_id: str, generation: int, keep_ms: int) -> None:
    """Raise the user's generation floor: every session opened in an older generation is dead,
    for the checks that read no PostgreSQL (forward auth) too. Never lowered."""
    script("raise")(keys=[_floor_key(user_id)], args=[generation, keep_ms])


@translate_errors
def session_is_live(*, user_id: str, session_id: str, generation: int | None, now_ms: int) -> bool:
    """The hot-path check: one round trip. `generation` None: the caller read no PostgreSQL
    (forward auth), and the user's generation floor alone decides."""
    keys, args = _check(user_id, session_id, generation, now_ms)
    return bool(script("check")(keys=keys, args=args))


@translate_errors_async
async def session_is_live_async(
    *, user_id: str, session_id: str, generation: int | None, now_ms: int
) -> bool:
    """session_is_live on the event loop (the asyncio client, no thread hop)."""
    keys, args = _check(user_id, session_id, generation, now_ms)
    return bool(await async_script("check")(keys=keys, args=args))


def _check(
    user_id: str, session_id: str, generation: int | None, now_ms: int
) -> tuple[list[str], list[Any]]:
    keys = [_session_key(user_id, session_id), _floor_key(user_id)]
    return keys, [user_id, now_ms, "" if generation is None else generation]


@translate_errors
def session_rotate(
    *,
    user_id: str,
    session_id: str,
    counter: int,
    generation: int,
    now_ms: int,
    lifetime_ms: int,
    grace_ms: int,
    user_agent: str,
    ip: str,
) -> Rotation:
    keys = [_session_key(user_id, session_id), _sessions_key(user_id), _floor_key(user_id)]
    args = [user_id, session_id, counter, now_ms, lifetime_ms, grace_ms, generation, user_agent, ip]
    return _rotation(script("rotate")(keys=keys, args=args))


@translate_errors_async
async def session_rotate_async(
    *,
    user_id: str,
    session_id: str,
    counter: int,
    generation: int,
    now_ms: int,
    lifetime_ms: int,
    grace_ms: int,
    user_agent: str,
    ip: str,
) -> Rotation:
    """session_rotate on the event loop (the asyncio client, no thread hop)."""
    keys = [_session_key(user_id, session_id), _sessions_key(user_id), _floor_key(user_id)]
    args = [user_id, session_id, counter, now_ms, lifetime_ms, grace_ms, generation, user_agent, ip]
    return _rotation(await async_script("rotate")(keys=keys, args=args))


def _rotation(reply: list[Any]) -> Rotation:
    outcome = text(reply[0])
    if outcome in {"rotated", "grace"}:
        return Rotation(outcome, int(reply[1]), int(reply[2]))
    return Rotation(outcome)


@translate_errors
def session_end(*, user_id: str, session_id: str, generation: int, now_ms: int) -> bool:
    """End one session of this user; False when it was not a live one."""
    keys = [_session_key(user_id, session_id), _sessions_key(user_id)]
    return bool(script("end")(keys=keys, args=[user_id, session_id, now_ms, generation]))


@translate_errors
def sessions_purge(*, user_id: str) -> None:
    """Delete the records of every session of the user (garbage: they are dead already)."""
    store = client()
    ids = [text(sid) for sid in store.smembers(_sessions_key(user_id))]
    store.delete(*[_session_key(user_id, sid) for sid in ids], _sessions_key(user_id))


@translate_errors
def sessions_list(*, user_id: str, generation: int, now_ms: int) -> list[Session]:
    """The user's live sessions, newest first (two round trips: ids, then their records)."""
    store = client()
    ids = sorted(text(sid) for sid in store.smembers(_sessions_key(user_id)))
    pipe = store.pipeline(transaction=False)
    for sid in ids:
        pipe.hgetall(_session_key(user_id, sid))
    live = []
    for sid, raw in zip(ids, pipe.execute(), strict=True):
        record = {text(k): text(v) for k, v in raw.items()}
        if _is_live(record, user_id, now_ms, generation):
            live.append(_session(sid, record))
    return sorted(live, key=lambda s: s.created_ms, reverse=True)


def _is_live(record: dict[str, str], user_id: str, now_ms: int, generation: int) -> bool:
    return (
        record.get("uid") == user_id
        and now_ms < int(record["exp"])
        and now_ms < int(record["abs_exp"])
        and record.get("gen") == str(generation)
    )


def _session(sid: str, record: dict[str, str]) -> Session:
    return Session(
        session_id=sid,
        created_ms=int(record["created"]),
        last_used_ms=int(record["last_used"]),
        expires_ms=min(int(record["exp"]), int(record["abs_exp"])),
        user_agent=record.get("ua", ""),
        ip=record.get("ip", ""),
    )


@translate_errors
def ping() -> None:
    client().ping()
