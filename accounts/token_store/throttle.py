"""Throttle state in Redis: fixed-window counters (`auth:{t:<name>}`, a slot each) and one
account's failed logins (`auth:{t:acct:<hash>}` and its pairs' known markers, one hash tag)."""

from __future__ import annotations

from dataclasses import dataclass

from accounts.token_store.connection import client, script, translate_errors


@dataclass(frozen=True)
class Limit:
    """A counter: at most `limit` per `window_ms`; `count` False only checks it."""

    name: str
    limit: int
    window_ms: int
    count: bool = True


@dataclass(frozen=True)
class Backoff:
    """The rules on failed logins (lua/throttle_account.lua says how they combine)."""

    free: int  # failures per (account, client) before each further attempt waits
    base_ms: int  # the first wait, doubled at each further failure; 0: no back-off
    cap_ms: int  # the longest wait
    threshold: int  # failures per account within `window_ms` past which unknown clients wait
    window_ms: int
    hard_cap: int  # consecutive failures per account past which unknown clients are refused
    memory_ms: int  # how long a client stays known after a success, and the counters kept


@dataclass(frozen=True)
class Pair:
    """An account and a client, by their hashed names (`acct:<hex>`, `<hex>`)."""

    account: str
    client: str


@dataclass(frozen=True)
class Strikes:
    """What a failure set off: the account's window threshold, or its hard cap, reached."""

    locked: bool
    capped: bool


def _key(name: str) -> str:
    return f"auth:{{t:{name}}}"


def pair_keys(pair: Pair) -> list[str]:
    """The account's state and the pair's known marker: one hash tag, so one slot."""
    state = _key(pair.account)
    return [state, f"{state}:known:{pair.client}"]


def _args(mode: str, pair: Pair, rules: Backoff, now_ms: int) -> list[object]:
    return [
        mode,
        now_ms,
        pair.client,
        rules.free,
        rules.base_ms,
        rules.cap_ms,
        rules.threshold,
        rules.window_ms,
        rules.hard_cap,
        rules.memory_ms,
    ]


@translate_errors
def throttle(
    limits: list[Limit], *, now_ms: int, pair: Pair | None = None, rules: Backoff | None = None
) -> int:
    """Apply the limits, and the pair's back-off, in one round trip; the ms to wait, or 0."""
    active = [limit for limit in limits if limit.limit > 0]
    if not active and pair is None:
        return 0
    pipe = client().pipeline(transaction=False)
    for limit in active:
        mode = "hit" if limit.count else "peek"
        args = [limit.limit, limit.window_ms, mode, now_ms]
        script("throttle")(keys=[_key(limit.name)], args=args, client=pipe)
    if pair is not None and rules is not None:
        args = _args("check", pair, rules, now_ms)
        script("throttle_account")(keys=pair_keys(pair), args=args, client=pipe)
    return max((int(wait) for wait in pipe.execute()), default=0)


@translate_errors
def throttle_failed(pair: Pair, rules: Backoff, *, now_ms: int) -> Strikes:
    """Count a failed login of the pair; what it set off."""
    keys, args = pair_keys(pair), _args("fail", pair, rules, now_ms)
    locked, capped = script("throttle_account")(keys=keys, args=args)
    return Strikes(locked=bool(int(locked)), capped=bool(int(capped)))


@translate_errors
def throttle_succeeded(pair: Pair, rules: Backoff, *, now_ms: int) -> None:
    """A login of the pair succeeded: its failures are forgotten, and the client is known."""
    script("throttle_account")(keys=pair_keys(pair), args=_args("ok", pair, rules, now_ms))


@translate_errors
def throttle_clear(account: str) -> bool:
    """Forget every failure on the account (known clients stay known); whether there were any."""
    return bool(client().delete(_key(account)))
