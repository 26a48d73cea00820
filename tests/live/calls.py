"""The API over real HTTP (httpx), for tests against a running server."""

from __future__ import annotations

import uuid
from http import HTTPStatus
from typing import Any

import httpx

from tests.factories import PASSWORD
from tests.helpers import CHALLENGE, INVALID_TOKEN, STORE_UNAVAILABLE

RETRY_AFTER = "5"  # settings.RETRY_AFTER_SECONDS, as the servers run it
HTTP_TIMEOUT = 30


def unique_email(prefix: str = "live") -> str:
    """An email no other test uses: rows committed by one test must not meet another's."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


def login(http: httpx.Client, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = http.post("/api/token/", json={"email": email, "password": password})
    assert response.status_code == HTTPStatus.OK, response.text
    body: dict[str, Any] = response.json()
    return body


def signed_up(http: httpx.Client, email: str, password: str = PASSWORD) -> dict[str, Any]:
    """Register over the API, then log in: the token response body."""
    created = http.post("/api/register/", json={"email": email, "password": password})
    assert created.status_code == HTTPStatus.CREATED, created.text
    return login(http, email, password)


def me(http: httpx.Client, access: str) -> httpx.Response:
    return http.get("/api/me/", headers={"Authorization": f"Bearer {access}"})


def refresh(http: httpx.Client, token: str) -> httpx.Response:
    return http.post("/api/token/refresh/", json={"refresh": token})


def logout(http: httpx.Client, token: str) -> httpx.Response:
    return http.post("/api/logout/", json={"refresh": token})


def assert_refused(response: httpx.Response, body: dict[str, str] = INVALID_TOKEN) -> None:
    assert response.status_code == HTTPStatus.UNAUTHORIZED, response.text
    assert response.json() == body
    assert response.headers["WWW-Authenticate"] == CHALLENGE


def assert_store_down(response: httpx.Response) -> None:
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE, response.text
    assert response.json() == STORE_UNAVAILABLE
    assert response.headers["Retry-After"] == RETRY_AFTER
