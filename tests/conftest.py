"""Fixtures: the real PostgreSQL and Redis, a clean token store per test, and API clients."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.test import Client

from tests.factories import PASSWORD, UserFactory


@pytest.fixture(autouse=True)
def token_store():
    """The test Redis database, emptied before and after every test."""
    from accounts.token_store import client as store_client

    client = store_client()
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture
def argon2(settings):
    """The production hasher list, for tests whose subject is hashing."""
    from config import settings as production

    settings.PASSWORD_HASHERS = production.PASSWORD_HASHERS


@pytest.fixture
def api(client: Client) -> Client:
    return client


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def login(api, password):
    """Log a user in over the API; returns the token response body."""

    def _login(user, *, agent: str = "pytest") -> dict:
        response = api.post(
            "/api/token/",
            {"email": user.email, "password": password},
            content_type="application/json",
            HTTP_USER_AGENT=agent,
        )
        assert response.status_code == HTTPStatus.OK, response.content
        return response.json()

    return _login


@pytest.fixture
def bearer():
    def _bearer(access: str) -> dict:
        return {"HTTP_AUTHORIZATION": f"Bearer {access}"}

    return _bearer


@pytest.fixture
def live_env(transactional_db) -> dict[str, str]:
    """Environment for a server process that shares the test database and Redis."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    return {
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
    }


@pytest.fixture
def live_server_url(live_env):
    """The service under uvicorn, on the test database and Redis."""
    from tests.servers import uvicorn_server

    with uvicorn_server(live_env) as base:
        yield base


@pytest.fixture
def service_account(db):
    """Create an API client (service account); returns the client and its secret (shown once)."""
    from accounts import clients

    def _create(
        *, scope: str = "read:invoices introspect", audience: str = "billing-api", name="billing"
    ):
        return clients.client_create(name=name, scope=scope, audience=audience)

    return _create


# --- real mail: an SMTP server and the worker, for the whole run ------------------------------


@pytest.fixture(scope="session")
def smtp_server():
    """An SMTP server (aiosmtpd) on a free loopback port, keeping every mail it receives."""
    from tests.mailer import SmtpServer

    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mail_worker(django_db_setup, smtp_server):
    """The real worker, `manage.py db_worker`, on the test database, sending to `smtp_server`
    (retries after 1 s, 2 s, ...)."""
    from django.conf import settings
    from django.db import connection

    from tests.mailer import Worker

    db = connection.settings_dict
    env = {
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_server.port),
        "EMAIL_TIMEOUT": "2",
        "MAIL_RETRY_BASE_SECONDS": "1",
        "FRONTEND_URL": "https://app.example.test",
    }
    started = Worker(env)
    yield started
    started.close()


@pytest.fixture
def inbox(transactional_db, smtp_server, mail_worker):
    """The mails the worker delivers during this test (committed rows: transactional_db)."""
    mail_worker.ensure()
    smtp_server.inbox.clear()
    return smtp_server.inbox
