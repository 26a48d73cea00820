"""Fixtures of the live tests: servers started once per module on the test database and Redis.

A module-scoped server needs the test database to exist before it starts (`django_db_setup`);
each test then uses `transactional_db`, so what it writes is committed (the server sees it) and
flushed after it (the next test does not). The autouse `token_store` fixture empties the test
Redis database between tests as everywhere else.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.live.calls import HTTP_TIMEOUT
from tests.live.consumers import KeyedService
from tests.servers import uvicorn_server


def database_url() -> str:
    from django.conf import settings

    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture(scope="module")
def server_env(django_db_setup) -> dict[str, str]:
    """Environment for a server process that shares the test database and Redis."""
    from django.conf import settings

    return {"DATABASE_URL": database_url(), "REDIS_URL": settings.REDIS_URL}


@pytest.fixture(scope="module")
def server(server_env) -> Iterator[str]:
    """The service under uvicorn (one worker), started once per module; its base URL."""
    with uvicorn_server(server_env) as base:
        yield base


@pytest.fixture
def http(server, transactional_db) -> Iterator[httpx.Client]:
    """An HTTP client of the module's server; the test's rows are committed, then flushed."""
    with httpx.Client(base_url=server, timeout=HTTP_TIMEOUT) as client:
        yield client


@pytest.fixture(scope="module")
def keyed(server_env, tmp_path_factory) -> KeyedService:
    """A service as consumers are configured with it: its URL is its issuer, its own key set."""
    return KeyedService(tmp_path_factory.mktemp("keyed"), server_env)


@pytest.fixture(scope="module")
def keyed_server(keyed) -> Iterator[str]:
    """That service, started once per module; its base URL (= JWT_ISSUER)."""
    with keyed.start() as base:
        yield base


@pytest.fixture
def keyed_http(keyed_server, transactional_db) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=keyed_server, timeout=HTTP_TIMEOUT) as client:
        yield client


@pytest.fixture
def rotating(server_env, tmp_path, transactional_db) -> KeyedService:
    """A service of the test's own, whose key the test rotates out (it restarts the service)."""
    return KeyedService(tmp_path, server_env)
