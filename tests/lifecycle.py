"""Helpers for the session-lifecycle tests: the API calls and checks they repeat."""

from __future__ import annotations

from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import jwt
from django.test import Client

INVALID_TOKEN = {"detail": "Token is invalid or expired.", "code": "invalid_token"}
TOKEN_REUSED = {
    "detail": "Refresh token was already used; the session has been ended.",
    "code": "token_reused",
}
SESSION_NOT_FOUND = {"detail": "Session not found.", "code": "not_found"}
# A fixed instant for tests that freeze the clock (far from the real one on purpose).
T0 = datetime(2031, 3, 1, 12, 0, 0, tzinfo=UTC)


def post_json(api: Client, path: str, body: Any, **extra: Any) -> Any:
    return api.post(path, body, content_type="application/json", **extra)


def refresh(api: Client, token: str, **extra: Any) -> Any:
    return post_json(api, "/api/token/refresh/", {"refresh": token}, **extra)


def logout(api: Client, token: str) -> Any:
    return post_json(api, "/api/logout/", {"refresh": token})


def me(api: Client, access: str) -> Any:
    return api.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {access}")


def auth(access: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {access}"}


def claims(token: str) -> dict[str, Any]:
    """A token's payload, read without checking anything (for comparing jti, sid, exp)."""
    return jwt.decode(token, options={"verify_signature": False})


def sid_of(pair: dict[str, Any]) -> str:
    return str(claims(pair["access"])["sid"])


def assert_unauthorized(response: Any, body: dict[str, str] = INVALID_TOKEN) -> None:
    assert response.status_code == HTTPStatus.UNAUTHORIZED, response.content
    assert response.json() == body
    assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def assert_dead(api: Client, pair: dict[str, Any]) -> None:
    """Both tokens of a pair are refused: the access token by /me, the refresh by refresh."""
    assert_unauthorized(me(api, pair["access"]))
    assert_unauthorized(refresh(api, pair["refresh"]))


def assert_alive(api: Client, pair: dict[str, Any]) -> dict[str, Any]:
    """The access token works and the refresh token rotates; returns the successor pair."""
    assert me(api, pair["access"]).status_code == HTTPStatus.OK
    rotated = refresh(api, pair["refresh"])
    assert rotated.status_code == HTTPStatus.OK, rotated.content
    successor: dict[str, Any] = rotated.json()
    assert me(api, successor["access"]).status_code == HTTPStatus.OK
    return successor
