"""GET /health/live and /health/ready when both dependencies answer (down: test_failures)."""

from __future__ import annotations

from http import HTTPStatus

import pytest


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


def test_health_endpoints_are_get_only(api):
    assert api.post("/health/live").status_code == HTTPStatus.METHOD_NOT_ALLOWED
