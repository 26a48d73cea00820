"""Plain views outside the API namespace: health, the public key set and the discovery
document."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from accounts import health, tokens
from accounts.exceptions import AccountsError
from api import discovery
from api.errors import error_response

logger = logging.getLogger(__name__)


@require_GET
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    checks = health.readiness()
    ok = all(checks.values())
    body = {
        "status": "ok" if ok else "unavailable",
        "checks": {name: "ok" if up else "down" for name, up in checks.items()},
    }
    response = JsonResponse(body, status=200 if ok else 503)
    if not ok:
        response["Retry-After"] = str(settings.RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def jwks(request: HttpRequest) -> HttpResponse:
    return _cacheable("jwks", tokens.jwks)


@require_GET
def authorization_server_metadata(request: HttpRequest) -> HttpResponse:
    """RFC 8414's document, at both well-known paths; cached like the JWKS."""
    return _cacheable("discovery", lambda: discovery.metadata(discovery.base_url(request)))


def _cacheable(name: str, build: Callable[[], dict[str, Any]]) -> HttpResponse:
    """A public document built from the key set, cacheable; 503 when the key set is broken."""
    try:
        document = build()
    except AccountsError as exc:
        logger.error("%s: %s", name, exc)
        return error_response(503, "Key set unavailable.", "key_configuration")
    response = JsonResponse(document)
    response["Cache-Control"] = f"public, max-age={settings.JWKS_MAX_AGE}"
    return response


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_response(404, "Not found.", "not_found")


def server_error(request: HttpRequest) -> JsonResponse:
    return error_response(500, "Internal server error.", "internal_error")


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_response(400, "Bad request.", "bad_request")
