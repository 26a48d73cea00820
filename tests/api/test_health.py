"""GET /health/live and /health/ready: up, and ready 503 when the token store is down."""

from __future__ import annotations

import socket
from http import HTTPStatus

import pytest


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_live_answers_ok_without_touching_any_dependency(api):
    # No django_db mark: a database query here would fail the test.
    response = api.get("/health/live")

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_ready_answers_ok_when_postgresql_and_redis_answer(api):
    response = api.get("/health/ready")

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "token_store": "ok", "signing_keys": "ok"},
    }
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_ready_is_503_when_the_token_store_is_down(api, settings, closed_port):
    settings.TOKEN_STORE_URL = f"redis://127.0.0.1:{closed_port}/0"

    response = api.get("/health/ready")

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "token_store": "down", "signing_keys": "ok"},
    }
    assert response["Retry-After"] == str(settings.RETRY_AFTER_SECONDS)
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/health/live", "/health/ready"])
def test_health_endpoints_are_get_only(api, path):
    assert api.post(path).status_code == HTTPStatus.METHOD_NOT_ALLOWED
