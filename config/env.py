"""The one place that reads the environment: every setting of the service comes through here."""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Callable
from typing import Any, TypeVar

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

N = TypeVar("N", int, float)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def get(name: str, default: str = "") -> str:
    """A variable's value, stripped, or the default when unset or empty."""
    value = os.environ.get(name, "").strip()
    return value or default


def get_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be one of true/false/1/0, not {raw!r}")


def get_int(name: str, default: int, *, minimum: int = 0) -> int:
    value = _parsed(name, default, int, "an integer")
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


def get_float(name: str, default: float) -> float:
    """A positive number (seconds, say), or the default when unset."""
    value = _parsed(name, default, float, "a number")
    if not value > 0:
        raise ImproperlyConfigured(f"{name} must be more than 0, not {value:g}")
    return value


def _parsed(name: str, default: N, parse: Callable[[str], N], kind: str) -> N:
    raw = get(name)
    if not raw:
        return default
    try:
        return parse(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be {kind}, not {raw!r}") from None


def get_networks(name: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Comma-separated addresses or CIDR networks (an address is a network of one)."""
    try:
        return [ipaddress.ip_network(item, strict=False) for item in get_list(name)]
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must list addresses or networks: {exc}") from None


def get_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = get(name)
    if not raw:
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


# RFC 6749 3.3: a scope token is printable ASCII but space, a double quote and a backslash.
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


def get_scope_map(name: str) -> dict[str, tuple[str, ...]]:
    """A JSON object from group names to lists of scope tokens (empty when unset)."""
    raw = get(name)
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a JSON object: {exc}") from None
    problem = f'{name} must map group names to lists of scopes, like {{"staff": ["users:read"]}}'
    if not isinstance(value, dict):
        raise ImproperlyConfigured(problem)
    mapping: dict[str, tuple[str, ...]] = {}
    for group, scopes in value.items():
        if not isinstance(scopes, list) or not all(
            isinstance(scope, str) and _SCOPE_TOKEN.fullmatch(scope) for scope in scopes
        ):
            raise ImproperlyConfigured(f"{problem}; a scope has no space, quote or backslash")
        mapping[group] = tuple(scopes)
    return mapping


def database(sqlite_path: str) -> tuple[dict[str, Any], bool]:
    """DATABASE_URL, else the brief's DB_* variables, else an embedded SQLite file."""
    url = get("DATABASE_URL")
    if not url and get("DB_HOST"):
        url = _brief_database_url()
    if not url:
        return {"ENGINE": "config.sqlite", "NAME": sqlite_path}, True
    try:
        config = dict(dj_database_url.parse(url))
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}") from None
    if config.get("ENGINE") == "django.db.backends.postgresql":
        timeout = get_int("DB_CONNECT_TIMEOUT", 3, minimum=1)
        # The wait for a pooled connection is bounded too (psycopg_pool's default is 30 s), so
        # that with PostgreSQL down a request answers 503 within seconds instead of hanging.
        pool_max = get_int("DB_POOL_MAX_SIZE", 10, minimum=1)
        config["OPTIONS"] = {
            "pool": {"min_size": 1, "max_size": pool_max, "timeout": timeout},
            "connect_timeout": timeout,
        }
    return config, False


def _brief_database_url() -> str:
    from urllib.parse import quote

    user = quote(get("DB_USER", "postgres"), safe="")
    password = get("DB_PASS")
    auth = f"{user}:{quote(password, safe='')}" if password else user
    return f"postgres://{auth}@{get('DB_HOST')}:{get('DB_PORT', '5432')}/{get('DB_NAME', 'auth')}"


def redis_url() -> str | None:
    """REDIS_URL, else the brief's REDIS_HOST/REDIS_PORT, else None (the in-process store)."""
    url = get("REDIS_URL")
    if url:
        return url
    host = get("REDIS_HOST")
    if host:
        return f"redis://{host}:{get('REDIS_PORT', '6379')}/{get('REDIS_DB', '0')}"
    return None
