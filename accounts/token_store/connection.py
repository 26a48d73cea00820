"""The token store's Redis connection and its Lua scripts; Redis errors become StoreUnavailable.

The connection has its own setting (TOKEN_STORE_URL, else REDIS_URL): it is never the Django
cache, so `cache.clear()` cannot log anybody out. With no URL it is an in-process fakeredis (the
embedded default), which runs the same Lua scripts.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django_redis.pool import get_connection_factory
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
def script(name: str) -> Any:
    """A Lua script of lua/ registered with the client (EVALSHA, loaded on first use)."""
    source = (_LUA / f"{name}.lua").read_text()
    if name in _USES_LIVE:
        source = (_LUA / "live.lua").read_text() + source
    return client().register_script(source)


@receiver(setting_changed)
def _reconnect(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("TOKEN_STORE"):
        client.cache_clear()
        script.cache_clear()


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
