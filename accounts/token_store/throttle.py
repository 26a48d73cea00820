"""Fixed-window counters in Redis: one key each, its own hash slot (`auth:{t:<name>}`)."""

from __future__ import annotations

from dataclasses import dataclass

from accounts.token_store.connection import client, script, translate_errors

_NO_LIMIT = 1 << 30


@dataclass(frozen=True)
class Limit:
    """A counter: at most `limit` per `window_ms`; `count` False only checks it."""

    name: str
    limit: int
    window_ms: int
    count: bool = True


def _key(name: str) -> str:
    return f"auth:{{t:{name}}}"


@translate_errors
def throttle(limits: list[Limit]) -> int:
    """Apply the limits in one round trip; the ms to wait if any is exceeded, else 0."""
    active = [limit for limit in limits if limit.limit > 0]
    if not active:
        return 0
    pipe = client().pipeline(transaction=False)
    for limit in active:
        mode = "hit" if limit.count else "peek"
        script("throttle")(
            keys=[_key(limit.name)], args=[limit.limit, limit.window_ms, mode], client=pipe
        )
    return max(int(wait) for wait in pipe.execute())


@translate_errors
def throttle_count(limit: Limit) -> None:
    """Count one event against a limit without checking it (a failed login, say)."""
    script("throttle")(keys=[_key(limit.name)], args=[_NO_LIMIT, limit.window_ms, "hit"])
