"""The one error shape, `{"detail", "code"}`, for responses built outside Ninja too."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import JsonResponse

BEARER_CHALLENGE = 'Bearer error="invalid_token"'
# RFC 6749 5.2: a failed client authentication is a 401 with the Basic challenge.
BASIC_CHALLENGE = 'Basic realm="auth-service"'
# Codes that mean "the bearer or refresh token is no good" (RFC 6750's invalid_token).
INVALID_TOKEN_CODES = {"invalid_token", "token_reused"}
SERVICE_UNAVAILABLE = 503


def error_body(detail: str, code: str, extras: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"detail": detail, "code": code, **(extras or {})}


def error_headers(status: int, code: str, retry_after: int | None = None) -> dict[str, str]:
    headers = {}
    if code in INVALID_TOKEN_CODES:
        headers["WWW-Authenticate"] = BEARER_CHALLENGE
    elif code == "invalid_client":
        headers["WWW-Authenticate"] = BASIC_CHALLENGE
    if retry_after is None and status == SERVICE_UNAVAILABLE:
        retry_after = settings.RETRY_AFTER_SECONDS
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return headers


def error_response(status: int, detail: str, code: str) -> JsonResponse:
    response = JsonResponse(error_body(detail, code), status=status)
    for name, value in error_headers(status, code).items():
        response[name] = value
    return response
