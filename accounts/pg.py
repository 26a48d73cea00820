"""An asyncio PostgreSQL pool for the reads of the hot path (api/hotpath.py), on the event loop.

Django's ORM and its connections are sync: reaching them from the event loop costs a thread
hop each way, more CPU than the read itself. The hot path's one read (the user row) goes
through this pool instead, with the connection parameters Django uses (same database, same
adapters, so the same Python values) and the same bounded waits (DB_CONNECT_TIMEOUT). Writes,
transactions and everything else stay with Django.

A pool belongs to the event loop that made it (one per uvicorn worker; tests may run several
loops).
"""

from __future__ import annotations

import asyncio
import time
import weakref
from typing import Any

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from accounts import metrics
from accounts.exceptions import DatabaseUnavailable
from config import tracing

_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncConnectionPool] = (
    weakref.WeakKeyDictionary()
)
_opening: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def available() -> bool:
    """Whether the default database is PostgreSQL (the embedded SQLite has no async driver)."""
    return connections[DEFAULT_DB_ALIAS].vendor == "postgresql"


def _options() -> tuple[dict[str, Any], dict[str, Any]]:
    """psycopg's connect arguments and the pool's, as Django's backend would use them."""
    wrapper = connections[DEFAULT_DB_ALIAS]
    params = wrapper.get_connection_params()
    params.pop("cursor_factory", None)  # Django's sync cursor class
    params["autocommit"] = True
    # The hot path runs one statement, always the same: prepared on first use, it skips the
    # server's parse and plan on every request. DB_PREPARED_STATEMENTS=false for a
    # pooler in transaction mode that cannot keep them (PgBouncer before 1.21).
    params["prepare_threshold"] = 0 if settings.DB_PREPARED_STATEMENTS else None
    pool = dict(wrapper.settings_dict.get("OPTIONS", {}).get("pool") or {})
    return params, {"timeout": pool.get("timeout", 3), "max_size": pool.get("max_size", 4)}


async def pool() -> AsyncConnectionPool:
    """This event loop's pool, opened on first use."""
    loop = asyncio.get_running_loop()
    existing = _pools.get(loop)
    if existing is not None:
        return existing
    lock = _opening.setdefault(loop, asyncio.Lock())
    async with lock:
        if loop not in _pools:
            params, options = _options()
            made: AsyncConnectionPool = AsyncConnectionPool(
                kwargs=params,
                connection_class=psycopg.AsyncConnection,
                min_size=1,
                max_size=options["max_size"],
                timeout=options["timeout"],
                open=False,
            )
            # Not waiting for min_size: a database that is down fails the request (503), it
            # does not hang it.
            await made.open(wait=False)
            _pools[loop] = made
    return _pools[loop]


async def fetch_one(sql: str, params: list[Any]) -> tuple[Any, ...] | None:
    """The first row of a read, or None; DatabaseUnavailable when PostgreSQL does not answer.

    Timed and traced like the statements Django runs (accounts/apps.py's execute wrapper)."""
    start = time.perf_counter()
    try:
        if tracing.active is None:
            return await _fetch_one(sql, params)
        with tracing.sql_span(tracing.active, sql):
            return await _fetch_one(sql, params)
    finally:
        metrics.db_observed(time.perf_counter() - start)


async def _fetch_one(sql: str, params: list[Any]) -> tuple[Any, ...] | None:
    try:
        async with (await pool()).connection() as conn, conn.cursor() as cursor:
            await cursor.execute(sql, params)
            return await cursor.fetchone()
    except (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout) as exc:
        raise DatabaseUnavailable(f"database unavailable: {type(exc).__name__}") from exc


async def close() -> None:
    """Close this event loop's pool (tests that end their loop)."""
    made = _pools.pop(asyncio.get_running_loop(), None)
    if made is not None:
        await made.close()
