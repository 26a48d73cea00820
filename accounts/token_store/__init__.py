"""Token state in Redis: sessions (rotation, revocation) and throttle counters.

The only package that touches Redis. Its functions take and return plain values and domain
types; every Redis failure is raised as StoreUnavailable.
"""

from accounts.token_store.clients import (
    client_token_is_live,
    client_tokens_end,
    client_tokens_live,
)
from accounts.token_store.connection import async_available, async_close, client
from accounts.token_store.sessions import (
    Rotation,
    generation_raise,
    ping,
    session_create,
    session_end,
    session_is_live,
    session_is_live_async,
    session_rotate,
    session_rotate_async,
    sessions_list,
    sessions_purge,
)
from accounts.token_store.throttle import (
    Backoff,
    Limit,
    Pair,
    Strikes,
    pair_keys,
    throttle,
    throttle_clear,
    throttle_failed,
    throttle_succeeded,
)

__all__ = [
    "Backoff",
    "Limit",
    "Pair",
    "Rotation",
    "Strikes",
    "async_available",
    "async_close",
    "client",
    "client_token_is_live",
    "client_tokens_end",
    "client_tokens_live",
    "generation_raise",
    "pair_keys",
    "ping",
    "session_create",
    "session_end",
    "session_is_live",
    "session_is_live_async",
    "session_rotate",
    "session_rotate_async",
    "sessions_list",
    "sessions_purge",
    "throttle",
    "throttle_clear",
    "throttle_failed",
    "throttle_succeeded",
]
