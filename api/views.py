"""Plain views outside the API namespace: health and the public key set."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from accounts import keys, token_store, tokens
from accounts.exceptions import AccountsError, KeyConfigurationError
from api.errors import error_response

logger = logging.getLogger(__name__)


@require_GET
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    checks = {
        "database": _database_ok(),
        "token_store": _store_ok(),
        "signing_keys": _signer_ok(),
    }
    ok = all(checks.values())
    body = {"status": "ok" if ok else "unavailable",
            "checks": {name: "ok" if up else "down" for name, up in checks.items()}}  # fmt: skip
    response = JsonResponse(body, status=200 if ok else 503)
    if not ok:
        response["Retry-After"] = str(settings.RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except DatabaseError as exc:
        logger.warning("readiness: database down (%s)", type(exc).__name__)
        return False


def _store_ok() -> bool:
    try:
        token_store.ping()
        return True
    except AccountsError:
        logger.warning("readiness: token store down")
        return False


def _signer_ok() -> bool:
    try:
        keys.signer_check()
        return True
    except KeyConfigurationError as exc:
        logger.warning("readiness: signing keys down (%s)", exc)
        return False


@require_GET
def jwks(request: HttpRequest) -> HttpResponse:
    try:
        document = tokens.jwks()
    except AccountsError as exc:
        logger.error("jwks: %s", exc)
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
