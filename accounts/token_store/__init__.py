"""Token state in Redis: sessions (rotation, revocation) and throttle counters.

The only package that touches Redis. Its functions take and return plain values and domain
types; every Redis failure is raised as StoreUnavailable.
"""

from accounts.token_store.connection import client
from accounts.token_store.sessions import (
    Rotation,
    ping,
    session_create,
    session_end,
    session_is_live,
    session_rotate,
    sessions_list,
    sessions_purge,
)
from accounts.token_store.throttle import Limit, throttle, throttle_count

__all__ = [
    "Limit",
    "Rotation",
    "client",
    "ping",
    "session_create",
    "session_end",
    "session_is_live",
    "session_rotate",
    "sessions_list",
    "sessions_purge",
    "throttle",
    "throttle_count",
]
