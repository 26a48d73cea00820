"""The one error shape, `{"detail", "code"}`, for responses built outside Ninja too."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import JsonResponse

BEARER_CHALLENGE = 'Bearer error="invalid_token"'


def error_body(
    detail: str, code: str, errors: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"detail": detail, "code": code}
    if errors is not None:
        body["errors"] = errors
    return body


def error_headers(status: int) -> dict[str, str]:
    if status == 401:
        return {"WWW-Authenticate": BEARER_CHALLENGE}
    if status == 503:
        return {"Retry-After": str(settings.RETRY_AFTER_SECONDS)}
    return {}


def error_response(status: int, detail: str, code: str) -> JsonResponse:
    response = JsonResponse(error_body(detail, code), status=status)
    for name, value in error_headers(status).items():
        response[name] = value
    return response
