"""Token state in Redis: sessions, rotation, revocation. The only module that touches Redis.

A session is a refresh-token family, one hash `auth:sess:{sid}`: its user, the one refresh jti
that is currently valid (with its iat/exp), the previous jti and until when it may be replayed
(the grace window), the idle and absolute deadlines, the user's generation when it was created,
and what a session list shows. Each user has a set of session ids and a generation counter;
ending every session of a user (logout-all, password change, deactivation) increments the
counter, which kills every older session at once without a scan. Every time is in ms and comes
from the application's clock, so that all instances agree and tests can move the clock; key TTLs
only collect garbage.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

import redis
from django.conf import settings
from redis.exceptions import RedisError

from accounts.exceptions import StoreUnavailable

P = ParamSpec("P")
R = TypeVar("R")

_CREATE = """
local gen = redis.call('GET', KEYS[3]) or '0'
redis.call('HSET', KEYS[1], 'uid', ARGV[1], 'jti', ARGV[2], 'iat', ARGV[3], 'exp', ARGV[4],
  'abs_exp', ARGV[5], 'created', ARGV[3], 'last_used', ARGV[3], 'gen', gen,
  'ua', ARGV[6], 'ip', ARGV[7])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]) - tonumber(ARGV[3]))
redis.call('SADD', KEYS[2], ARGV[8])
redis.call('PEXPIRE', KEYS[2], ARGV[9])
if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('PEXPIRE', KEYS[3], ARGV[9]) end
return 1
"""

# A session is live when it exists, belongs to the user, is within both deadlines and was
# created in the user's current generation.
_LIVE = """
local function live(s, uid, now, gen)
  return s[1] and s[1] == uid and now < tonumber(s[2]) and now < tonumber(s[3])
    and s[4] == (gen or '0')
end
"""

_CHECK = (
    _LIVE
    + """
local s = redis.call('HMGET', KEYS[1], 'uid', 'exp', 'abs_exp', 'gen')
if live(s, ARGV[1], tonumber(ARGV[2]), redis.call('GET', KEYS[2])) then return 1 end
return 0
"""
)

_ROTATE = (
    _LIVE
    + """
local s = redis.call('HMGET', KEYS[1], 'uid', 'exp', 'abs_exp', 'gen', 'jti', 'iat',
  'prev', 'prev_until')
local now = tonumber(ARGV[3])
if not live(s, ARGV[9], now, redis.call('GET', KEYS[2])) then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[3], ARGV[8])
  return {'missing'}
end
if s[5] == ARGV[1] then
  local exp = math.min(now + tonumber(ARGV[4]), tonumber(s[3]))
  redis.call('HSET', KEYS[1], 'jti', ARGV[2], 'iat', ARGV[3], 'exp', exp, 'prev', ARGV[1],
    'prev_until', now + tonumber(ARGV[5]), 'last_used', ARGV[3], 'ua', ARGV[6], 'ip', ARGV[7])
  redis.call('PEXPIRE', KEYS[1], exp - now)
  return {'rotated', ARGV[2], now, exp}
end
-- Grace 0 is off: a loser whose clock read came before the winner's is still a reuse.
if tonumber(ARGV[5]) > 0 and s[7] == ARGV[1] and now < tonumber(s[8]) then
  return {'grace', s[5], tonumber(s[6]), tonumber(s[2])}
end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[3], ARGV[8])
return {'reused'}
"""
)

_END = """
if redis.call('HGET', KEYS[1], 'uid') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[2])
return 1
"""

_END_ALL = """
local gen = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
for _, sid in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  redis.call('DEL', ARGV[2] .. sid)
end
redis.call('DEL', KEYS[2])
return gen
"""

# Fixed-window counters. Each key comes with (limit, window ms, mode): mode "hit" counts this
# attempt and refuses past the limit; "peek" only refuses once the limit has been reached.
_THROTTLE = """
local wait = 0
for i, key in ipairs(KEYS) do
  local limit, window, mode = tonumber(ARGV[3*i-2]), tonumber(ARGV[3*i-1]), ARGV[3*i]
  local n
  if mode == 'hit' then
    n = redis.call('INCR', key)
    if n == 1 then redis.call('PEXPIRE', key, window) end
  else
    n = tonumber(redis.call('GET', key) or '0') + 1
  end
  if n > limit then wait = math.max(wait, redis.call('PTTL', key)) end
end
return wait
"""

SESSION_PREFIX = "auth:sess:"


@dataclass(frozen=True)
class Rotation:
    """What a refresh did: `rotated` or `grace` carry the session's current jti, iat and exp."""

    outcome: str  # rotated | grace | reused | missing
    jti: str = ""
    iat_ms: int = 0
    exp_ms: int = 0


@dataclass(frozen=True)
class SessionRecord:
    sid: str
    user_id: str
    created_ms: int
    last_used_ms: int
    exp_ms: int
    abs_exp_ms: int
    user_agent: str
    ip: str

    @property
    def created(self) -> datetime:
        return _datetime(self.created_ms)

    @property
    def last_used(self) -> datetime:
        return _datetime(self.last_used_ms)

    @property
    def expires(self) -> datetime:
        """When the session ends unless it is refreshed again."""
        return _datetime(min(self.exp_ms, self.abs_exp_ms))


def _datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _translate_errors(func: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except RedisError as exc:
            raise StoreUnavailable() from exc

    return wrapper


@functools.cache
def _scripts() -> dict[str, Any]:
    client = _client()
    sources = {
        "create": _CREATE, "check": _CHECK, "rotate": _ROTATE, "end": _END, "end_all": _END_ALL,
        "throttle": _THROTTLE,
    }  # fmt: skip
    return {name: client.register_script(src) for name, src in sources.items()}


@functools.cache
def _client() -> Any:
    """One client per process on TOKEN_STORE_URL; without one, fakeredis runs the same scripts."""
    url = settings.TOKEN_STORE_URL
    if url is None:
        import fakeredis

        return fakeredis.FakeRedis(server=fakeredis.FakeServer())
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=settings.TOKEN_STORE_CONNECT_TIMEOUT,
        socket_timeout=settings.TOKEN_STORE_TIMEOUT,
    )


def _session_key(sid: str) -> str:
    return SESSION_PREFIX + sid


def _user_sessions_key(uid: str) -> str:
    return f"auth:user:{uid}:sessions"


def _generation_key(uid: str) -> str:
    return f"auth:user:{uid}:gen"


@_translate_errors
def session_create(
    *,
    sid: str,
    user_id: str,
    jti: str,
    now_ms: int,
    exp_ms: int,
    abs_exp_ms: int,
    user_agent: str,
    ip: str,
    max_lifetime_ms: int,
) -> None:
    keys = [_session_key(sid), _user_sessions_key(user_id), _generation_key(user_id)]
    args = [user_id, jti, now_ms, exp_ms, abs_exp_ms, user_agent, ip, sid, max_lifetime_ms]
    _scripts()["create"](keys=keys, args=args)


@_translate_errors
def session_is_live(*, sid: str, user_id: str, now_ms: int) -> bool:
    """The hot-path check: one round trip."""
    keys = [_session_key(sid), _generation_key(user_id)]
    return bool(_scripts()["check"](keys=keys, args=[user_id, now_ms]))


@_translate_errors
def session_rotate(
    *,
    sid: str,
    user_id: str,
    presented_jti: str,
    new_jti: str,
    now_ms: int,
    refresh_lifetime_ms: int,
    grace_ms: int,
    user_agent: str,
    ip: str,
) -> Rotation:
    keys = [_session_key(sid), _generation_key(user_id), _user_sessions_key(user_id)]
    args = [
        presented_jti, new_jti, now_ms, refresh_lifetime_ms, grace_ms, user_agent, ip, sid,
        user_id,
    ]  # fmt: skip
    reply = _scripts()["rotate"](keys=keys, args=args)
    outcome = _text(reply[0])
    if outcome in {"rotated", "grace"}:
        return Rotation(outcome, _text(reply[1]), int(reply[2]), int(reply[3]))
    return Rotation(outcome)


@_translate_errors
def session_end(*, sid: str, user_id: str) -> bool:
    """End one session of this user; False when there was none."""
    keys = [_session_key(sid), _user_sessions_key(user_id)]
    return bool(_scripts()["end"](keys=keys, args=[user_id, sid]))


@_translate_errors
def sessions_end_all(*, user_id: str, max_lifetime_ms: int) -> None:
    """End every session of the user, including ones being created right now."""
    keys = [_generation_key(user_id), _user_sessions_key(user_id)]
    _scripts()["end_all"](keys=keys, args=[max_lifetime_ms, SESSION_PREFIX])


@_translate_errors
def sessions_list(*, user_id: str, now_ms: int) -> list[SessionRecord]:
    """The user's live sessions, newest first (two round trips: ids, then their records)."""
    client = _client()
    sids = sorted(_text(sid) for sid in client.smembers(_user_sessions_key(user_id)))
    pipe = client.pipeline(transaction=False)
    for sid in sids:
        pipe.hgetall(_session_key(sid))
    pipe.get(_generation_key(user_id))
    *records, gen = pipe.execute()
    current_gen = _text(gen) if gen else "0"
    live = []
    for sid, raw in zip(sids, records, strict=True):
        record = {_text(k): _text(v) for k, v in raw.items()}
        if _record_live(record, user_id, now_ms, current_gen):
            live.append(_to_session(sid, record))
    return sorted(live, key=lambda s: s.created_ms, reverse=True)


def _record_live(record: dict[str, str], user_id: str, now_ms: int, gen: str) -> bool:
    return (
        record.get("uid") == user_id
        and now_ms < int(record["exp"])
        and now_ms < int(record["abs_exp"])
        and record.get("gen") == gen
    )


def _to_session(sid: str, record: dict[str, str]) -> SessionRecord:
    return SessionRecord(
        sid=sid,
        user_id=record["uid"],
        created_ms=int(record["created"]),
        last_used_ms=int(record["last_used"]),
        exp_ms=int(record["exp"]),
        abs_exp_ms=int(record["abs_exp"]),
        user_agent=record.get("ua", ""),
        ip=record.get("ip", ""),
    )


@dataclass(frozen=True)
class Limit:
    """A counter: at most `limit` per `window_ms`; `count` False only checks it."""

    key: str
    limit: int
    window_ms: int
    count: bool = True


@_translate_errors
def throttle(limits: list[Limit]) -> int:
    """Apply the limits in one round trip; the ms to wait if any is exceeded, else 0."""
    active = [limit for limit in limits if limit.limit > 0]
    if not active:
        return 0
    keys = ["auth:throttle:" + limit.key for limit in active]
    args: list[object] = []
    for limit in active:
        args += [limit.limit, limit.window_ms, "hit" if limit.count else "peek"]
    return max(int(_scripts()["throttle"](keys=keys, args=args)), 0)


@_translate_errors
def throttle_count(limit: Limit) -> None:
    """Count one event against a limit without checking it (a failed login, say)."""
    _scripts()["throttle"](keys=["auth:throttle:" + limit.key], args=[1 << 30, limit.window_ms,
                                                                     "hit"])  # fmt: skip


@_translate_errors
def ping() -> None:
    _client().ping()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
