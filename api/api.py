"""The NinjaAPI: routers, and every error mapped to a status and the common shape, once."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from accounts import exceptions as domain
from api.errors import error_body, error_headers
from api.routers import me, sessions, tokens

logger = logging.getLogger(__name__)

api = NinjaAPI(
    title="auth-service",
    version="1.0.0",
    description="Users, logins and signed JWTs. Verify tokens with /.well-known/jwks.json.",
    urls_namespace="api",
)
api.add_router("/", tokens.router)
api.add_router("/", me.router)
api.add_router("/", sessions.router)

_STATUS: dict[type[domain.AccountsError], int] = {
    domain.InvalidInput: 400,
    domain.WrongPassword: 400,
    domain.InvalidCredentials: 401,
    domain.InvalidToken: 401,
    domain.SessionNotFound: 404,
    domain.EmailTaken: 409,
    domain.Throttled: 429,
    domain.StoreUnavailable: 503,
    domain.KeyConfigurationError: 503,
}
_HTTP_CODES = {400: "bad_request", 401: "not_authenticated", 403: "forbidden",
               404: "not_found", 405: "method_not_allowed", 429: "throttled"}  # fmt: skip


def _respond(request: HttpRequest, status: int, body: dict[str, Any]) -> HttpResponse:
    response = api.create_response(request, body, status=status)
    for name, value in error_headers(status).items():
        response[name] = value
    return response


def _status_of(exc: domain.AccountsError) -> int:
    for cls in type(exc).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return 400


@api.exception_handler(domain.AccountsError)
def domain_error(request: HttpRequest, exc: domain.AccountsError) -> HttpResponse:
    errors = exc.errors if isinstance(exc, domain.InvalidInput) else None
    if isinstance(exc, domain.KeyConfigurationError):
        logger.error("signing keys: %s", exc)
        exc = domain.KeyConfigurationError("Token signing is unavailable.")
    response = _respond(request, _status_of(exc), error_body(str(exc), exc.code, errors))
    if isinstance(exc, domain.Throttled):
        response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(ValidationError)
def invalid_request(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [_field_error(error) for error in exc.errors]
    return _respond(request, 400, error_body("Invalid request.", "invalid_request", errors))


def _field_error(error: dict[str, Any]) -> dict[str, str]:
    loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "payload")]
    message = str(error.get("msg", "Invalid value."))
    if error.get("type") == "extra_forbidden":
        message = "Unknown field."
    return {"field": ".".join(loc) or "body", "message": message}


@api.exception_handler(AuthenticationError)
def not_authenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    body = error_body(domain.InvalidToken.default_message, domain.InvalidToken.code)
    return _respond(request, 401, body)


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = _HTTP_CODES.get(exc.status_code, "error")
    return _respond(request, exc.status_code, error_body(str(exc), code))


@api.exception_handler(RequestDataTooBig)
def too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return _respond(request, 413, error_body("Request body too large.", "payload_too_large"))


@api.exception_handler(OperationalError)
@api.exception_handler(InterfaceError)
def database_down(request: HttpRequest, exc: DatabaseError) -> HttpResponse:
    logger.error("database unavailable: %s", type(exc).__name__)
    body = error_body("Service temporarily unavailable; retry shortly.", "database_unavailable")
    return _respond(request, 503, body)


@api.exception_handler(Exception)
def unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("unhandled error on %s %s", request.method, request.path)
    return _respond(request, 500, error_body("Internal server error.", "internal_error"))
