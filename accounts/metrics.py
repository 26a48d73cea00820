"""The service's Prometheus metrics, and the functions the code that knows an event calls.

Every label value comes from a fixed set written here (an outcome, a reason, a dependency, a
route template): never from user input, so no email, id or path can become a series. A value
outside its set is counted as "other". Updates are in-memory (or, under several workers, a
write to the worker's memory-mapped file in PROMETHEUS_MULTIPROC_DIR): microseconds, no I/O
wait, no thread. config/observability.py serves them at /metrics.
"""

from __future__ import annotations

import asyncio
import threading
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

# Seconds: from a Redis round trip (~0.2 ms) to a request stuck behind a time-out.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)

LOGIN_OUTCOMES = ("ok", "failed", "throttled")
REFRESH_OUTCOMES = ("rotated", "grace", "reused", "missing")
TOKEN_KINDS = ("access", "refresh")
DEPENDENCIES = ("token_store", "database", "hasher", "signing_keys")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER = "other"

HTTP_REQUESTS = Counter(
    "auth_http_requests",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "auth_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by route template and method.",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)
LOGINS = Counter("auth_logins", "Login attempts by outcome (ok, failed, throttled).", ["outcome"])
REFRESHES = Counter(
    "auth_refreshes",
    "Refresh-token uses by outcome (rotated, grace, reused, missing).",
    ["outcome"],
)
SESSION_ENDS = Counter(
    "auth_session_ends",
    "Session endings by reason; one event for an end-all (logout_all, password_changed, ...).",
    ["reason"],
)
AUDIT_EVENTS = Counter("auth_audit_events", "Audit log rows written, by kind.", ["kind"])
TOKENS_ISSUED = Counter("auth_tokens_issued", "Tokens issued, by kind.", ["kind"])
UNAVAILABLE = Counter(
    "auth_unavailable_responses",
    "Requests answered 503 because a dependency failed, by dependency.",
    ["dependency"],
)
HASHING_WAITING = Gauge(
    "auth_hashing_waiting",
    "Requests waiting for a password-hashing slot (the hashing pool's queue).",
    multiprocess_mode="livesum",
)
HASHING_IN_USE = Gauge(
    "auth_hashing_in_use", "Password-hashing slots in use.", multiprocess_mode="livesum"
)
HASHING_WAIT = Histogram(
    "auth_hashing_wait_seconds",
    "Time a request waited for a password-hashing slot.",
    buckets=LATENCY_BUCKETS,
)
REDIS_DURATION = Histogram(
    "auth_redis_duration_seconds",
    "Token-store (Redis) calls: round-trip time, by operation.",
    ["operation"],
    buckets=LATENCY_BUCKETS,
)
DB_DURATION = Histogram(
    "auth_db_query_duration_seconds",
    "PostgreSQL statements: round-trip time.",
    buckets=LATENCY_BUCKETS,
)


def _children(metric: Counter, values: tuple[str, ...]) -> dict[str, Counter]:
    # Made up front: each series exists (at 0) from the start, so rate() and alerts see it.
    return {value: metric.labels(value) for value in (*values, OTHER)}


_LOGINS = _children(LOGINS, LOGIN_OUTCOMES)
_REFRESHES = _children(REFRESHES, REFRESH_OUTCOMES)
_TOKENS = _children(TOKENS_ISSUED, TOKEN_KINDS)
_UNAVAILABLE = _children(UNAVAILABLE, DEPENDENCIES)
_SESSION_ENDS: dict[str, Counter] = {}
_AUDIT: dict[str, Counter] = {}
_HTTP: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}


def login_counted(outcome: str) -> None:
    """One login attempt: ok, failed or throttled."""
    _count(_LOGINS.get(outcome, _LOGINS[OTHER]))


def refresh_counted(outcome: str) -> None:
    """One refresh-token use: rotated, grace, reused or missing (token_store.Rotation.outcome)."""
    _count(_REFRESHES.get(outcome, _REFRESHES[OTHER]))


def token_issued(kind: str) -> None:
    """One token minted: access or refresh."""
    _count(_TOKENS.get(kind, _TOKENS[OTHER]))


def unavailable_counted(dependency: str) -> None:
    """One 503 caused by a dependency: token_store, database, hasher or signing_keys."""
    _count(_UNAVAILABLE.get(dependency, _UNAVAILABLE[OTHER]))


def kinds_registered(*, audit: tuple[str, ...], session_ends: tuple[str, ...]) -> None:
    """The audit kinds and session-end reasons that exist (accounts/audit.py names them)."""
    _AUDIT.update((kind, AUDIT_EVENTS.labels(kind)) for kind in (*audit, OTHER))
    _SESSION_ENDS.update((reason, SESSION_ENDS.labels(reason)) for reason in (*session_ends, OTHER))


def audit_counted(kind: str, session_end: str | None) -> None:
    """One audit row of `kind`; `session_end` is the reason when it ended sessions."""
    _count(_AUDIT.get(kind, _AUDIT[OTHER]))
    if session_end is not None:
        _count(_SESSION_ENDS.get(session_end, _SESSION_ENDS[OTHER]))


def redis_timer(operation: str) -> Callable[[float], None]:
    """The `observe(seconds)` of one token-store operation (a name from the code)."""
    child = REDIS_DURATION.labels(operation)
    return lambda seconds: _observe(child, seconds)


def db_observed(seconds: float) -> None:
    _observe(DB_DURATION, seconds)


def http_observed(route: str, method: str, status: int, seconds: float) -> None:
    """One answered request. `route` is a template or a fixed class, never a raw path."""
    key = (route, method, status)
    children = _HTTP.get(key)
    if children is None:
        label = method if method in METHODS else OTHER
        children = (
            HTTP_REQUESTS.labels(route, label, str(status)),
            HTTP_DURATION.labels(route, label),
        )
        # Bounded: routes come from the URL conf, methods and statuses from short lists.
        if method in METHODS:
            _HTTP[key] = children
    _count(children[0])
    _observe(children[1], seconds)


# --- batching on the event loop ---------------------------------------------------------------
# Under several workers every update is a write to the worker's memory-mapped file under a lock,
# about 2.5 us each and seven for a `me`, a tenth of its CPU. So on the event loop's thread, once
# batching() runs there (api/hotpath.py starts it with the worker), updates are added up in the
# process and written once a second, before /metrics is read, and when the worker stops; a
# scrape sees another worker's updates at most FLUSH_SECONDS late. Updates from other threads
# (sync views, commands, tests) are written at once, as before.

FLUSH_SECONDS = 1.0


class _Pending:
    def __init__(self) -> None:
        self.counts: defaultdict[Any, float] = defaultdict(float)
        # A histogram child -> [the sum, the count of each bucket].
        self.observed: dict[Any, list[Any]] = {}


_pending = _Pending()
_batching_thread: int | None = None


def _count(child: Any, amount: float = 1.0) -> None:
    if threading.get_ident() == _batching_thread:
        _pending.counts[child] += amount
    else:
        child.inc(amount)


def _observe(child: Any, seconds: float) -> None:
    if threading.get_ident() != _batching_thread:
        child.observe(seconds)
        return
    entry = _pending.observed.get(child)
    if entry is None:
        entry = _pending.observed[child] = [0.0, [0] * len(child._upper_bounds)]
    entry[0] += seconds
    # The bucket observe() picks: the first upper bound the value does not exceed.
    entry[1][bisect_left(child._upper_bounds, seconds)] += 1


def flush() -> None:
    """Write the updates added up on the event loop (prometheus-client's own histogram fields:
    tests/config/test_metrics_batching.py checks the result against observe())."""
    global _pending
    pending, _pending = _pending, _Pending()
    for child, amount in pending.counts.items():
        child.inc(amount)
    for child, (total, buckets) in pending.observed.items():
        child._sum.inc(total)
        for index, count in enumerate(buckets):
            if count:
                child._buckets[index].inc(count)


async def batching() -> None:
    """Batch this event loop's updates until cancelled (the worker's lifetime), then flush."""
    global _batching_thread
    _batching_thread = threading.get_ident()
    try:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            flush()
    finally:
        _batching_thread = None
        flush()
