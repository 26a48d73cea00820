"""The token store's Redis connection and its Lua scripts; Redis errors become StoreUnavailable.

The connection has its own setting (TOKEN_STORE_URL, else REDIS_URL): it is never the Django
cache, so `cache.clear()` cannot log anybody out. With no URL it is an in-process fakeredis (the
embedded default), which runs the same Lua scripts.
"""

from __future__ import annotations

import asyncio
import functools
import time
import weakref
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django_redis.pool import get_connection_factory
from redis import asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from accounts import metrics
from accounts.exceptions import StoreUnavailable

P = ParamSpec("P")
R = TypeVar("R")

_LUA = Path(__file__).resolve().parent / "lua"
_USES_LIVE = {"check", "rotate", "end"}
_EMBEDDED_URL = "redis://embedded:6379/0"


def translate_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Run `func`, turning any Redis failure into StoreUnavailable (fail closed), and time it
    (the auth_redis_duration_seconds histogram, labelled with the function's name)."""
    observe = metrics.redis_timer(func.__name__)

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        start = time.perf_counter()
        try:
            return func(*args, **kwargs)
        except RedisError as exc:
            raise StoreUnavailable() from exc
        finally:
            observe(time.perf_counter() - start)

    return wrapper


@functools.cache
def client() -> Any:
    """The process's Redis client for token state (a pooled connection, made once)."""
    options: dict[str, Any] = {
        "SOCKET_CONNECT_TIMEOUT": settings.TOKEN_STORE_CONNECT_TIMEOUT,
        "SOCKET_TIMEOUT": settings.TOKEN_STORE_TIMEOUT,
    }
    url = settings.TOKEN_STORE_URL
    if url is None:
        options["CONNECTION_POOL_KWARGS"] = {"connection_class": _embedded_connection()}
        url = _EMBEDDED_URL
    return get_connection_factory(options=options).connect(url)


def _embedded_connection() -> type:
    try:
        import fakeredis
    except ImportError:  # the production image ships no fake Redis
        raise ImproperlyConfigured(
            "no token store: set TOKEN_STORE_URL or REDIS_URL (the in-process store of the "
            "embedded default needs the development dependencies: uv sync)"
        ) from None
    return fakeredis.FakeRedisConnection


@functools.cache
def _source(name: str) -> str:
    source = (_LUA / f"{name}.lua").read_text()
    if name in _USES_LIVE:
        source = (_LUA / "live.lua").read_text() + source
    return source


@functools.cache
def script(name: str) -> Any:
    """A Lua script of lua/ registered with the client (EVALSHA, loaded on first use)."""
    return client().register_script(_source(name))


# The asyncio client of the hot path (api/hotpath.py): the same server, scripts and time-outs,
# with no thread hop. A client belongs to the event loop that made it.
_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
    weakref.WeakKeyDictionary()
)


def async_available() -> bool:
    """Whether there is a Redis server to reach from the event loop (not the embedded store)."""
    return settings.TOKEN_STORE_URL is not None


def async_script(name: str) -> Any:
    """The Lua script `name` registered with this event loop's asyncio client."""
    loop = asyncio.get_running_loop()
    scripts = _async_clients.get(loop)
    if scripts is None:
        redis = aioredis.Redis.from_url(
            str(settings.TOKEN_STORE_URL),
            socket_connect_timeout=settings.TOKEN_STORE_CONNECT_TIMEOUT,
            socket_timeout=settings.TOKEN_STORE_TIMEOUT,
            # Never resend: a rotation that ran before its answer was lost would run twice and
            # read as reuse (the sync client, django-redis's, does not resend either). The
            # client retries after its 503, inside the grace window.
            retry=Retry(NoBackoff(), 0),
        )
        scripts = _async_clients[loop] = {"": redis}
    if name not in scripts:
        scripts[name] = scripts[""].register_script(_source(name))
    return scripts[name]


async def async_close() -> None:
    """Close this event loop's asyncio client (ASGI lifespan shutdown, tests)."""
    scripts = _async_clients.pop(asyncio.get_running_loop(), None)
    if scripts is not None:
        await scripts[""].aclose()


def translate_errors_async(
    func: Callable[P, Awaitable[R]],
) -> Callable[P, Awaitable[R]]:
    """translate_errors for coroutines (the same errors, the same histogram)."""
    observe = metrics.redis_timer(func.__name__.removesuffix("_async"))

    @functools.wraps(func)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        start = time.perf_counter()
        try:
            return await func(*args, **kwargs)
        except RedisError as exc:
            raise StoreUnavailable() from exc
        finally:
            observe(time.perf_counter() - start)

    return wrapper


@receiver(setting_changed)
def _reconnect(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("TOKEN_STORE"):
        client.cache_clear()
        script.cache_clear()
        _async_clients.clear()


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
