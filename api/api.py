"""The NinjaAPI: routers, and every error mapped to a status and the common shape, once."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from ninja.errors import AuthenticationError, HttpError, ValidationError

from accounts import exceptions as domain
from accounts import metrics
from api.errors import error_body, error_headers
from api.openapi import LinkedNinjaAPI
from api.routers import email, me, oauth, password, recovery, sessions, tokens, verify

logger = logging.getLogger(__name__)

api = LinkedNinjaAPI(
    title="auth-service",
    version="1.0.0",
    description="Users, logins and signed JWTs. Verify tokens with /.well-known/jwks.json.",
    urls_namespace="api",
    # API_DOCS_ENABLED=false: no Swagger UI and no schema served (clients keep their copy).
    docs_url="/docs" if settings.API_DOCS_ENABLED else None,
    openapi_url="/openapi.json" if settings.API_DOCS_ENABLED else None,
)
for module in (tokens, me, sessions, password, recovery, email, verify, oauth):
    api.add_router("/", module.router)

# Every domain error class, and so every subclass, has its status here; a class with none is a
# bug, answered 500 (a test checks there is none).
STATUS: dict[type[domain.AccountsError], HTTPStatus] = {
    domain.InvalidInput: HTTPStatus.BAD_REQUEST,
    domain.WrongPassword: HTTPStatus.BAD_REQUEST,
    domain.OAuthError: HTTPStatus.BAD_REQUEST,
    domain.InvalidOAuthRequest: HTTPStatus.BAD_REQUEST,
    domain.UnsupportedGrantType: HTTPStatus.BAD_REQUEST,
    domain.InvalidScope: HTTPStatus.BAD_REQUEST,
    domain.InvalidClient: HTTPStatus.UNAUTHORIZED,
    domain.InsufficientScope: HTTPStatus.FORBIDDEN,
    domain.InvalidCode: HTTPStatus.BAD_REQUEST,
    domain.InvalidCredentials: HTTPStatus.UNAUTHORIZED,
    domain.EmailNotVerified: HTTPStatus.FORBIDDEN,
    domain.AlreadyVerified: HTTPStatus.CONFLICT,
    domain.InvalidToken: HTTPStatus.UNAUTHORIZED,
    domain.SessionNotFound: HTTPStatus.NOT_FOUND,
    domain.EmailTaken: HTTPStatus.CONFLICT,
    domain.Throttled: HTTPStatus.TOO_MANY_REQUESTS,
    domain.Unavailable: HTTPStatus.SERVICE_UNAVAILABLE,
}
_HTTP_CODES = {
    HTTPStatus.BAD_REQUEST: "bad_request",
    HTTPStatus.UNAUTHORIZED: "not_authenticated",
    HTTPStatus.FORBIDDEN: "forbidden",
    HTTPStatus.NOT_FOUND: "not_found",
    HTTPStatus.METHOD_NOT_ALLOWED: "method_not_allowed",
    HTTPStatus.TOO_MANY_REQUESTS: "throttled",
}


def status_of(error: type[domain.AccountsError]) -> HTTPStatus | None:
    """The status a domain error class is answered with, or None if it has none."""
    return next((STATUS[cls] for cls in error.__mro__ if cls in STATUS), None)


def _respond(
    request: HttpRequest, status: int, body: dict[str, Any], retry_after: int | None = None
) -> HttpResponse:
    response = api.create_response(request, body, status=status)
    for name, value in error_headers(status, body["code"], retry_after).items():
        response[name] = value
    return response


def domain_error_answer(
    exc: domain.AccountsError,
) -> tuple[HTTPStatus, dict[str, Any], dict[str, str]] | None:
    """Status, body and headers of a domain error (None: it has no status, a bug); for Ninja's
    handler below and the hot path (api/hotpath.py) alike."""
    status = status_of(type(exc))
    if status is None:
        return None
    if exc.logged:
        logger.error("%s: %s", exc.code, exc)
    if isinstance(exc, domain.Unavailable):
        metrics.unavailable_counted(exc.dependency)
    body = error_body(exc.detail, exc.code, exc.extras())
    return status, body, error_headers(status, exc.code, exc.retry_after)


@api.exception_handler(domain.AccountsError)
def domain_error(request: HttpRequest, exc: domain.AccountsError) -> HttpResponse:
    answer = domain_error_answer(exc)
    if answer is None:
        return unexpected(request, exc)
    status, body, headers = answer
    response = api.create_response(request, body, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


@api.exception_handler(ValidationError)
def invalid_request(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [_field_error(error) for error in exc.errors]
    extras: dict[str, Any] = {"errors": errors}
    if request.path_info.startswith(oauth.PREFIX):
        # RFC 6749 5.2's fields too, for OAuth clients.
        extras |= {"error": "invalid_request", "error_description": "Invalid request."}
    body = error_body("Invalid request.", "invalid_request", extras)
    return _respond(request, HTTPStatus.BAD_REQUEST, body)


def _field_error(error: dict[str, Any]) -> dict[str, str]:
    loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "payload")]
    message = str(error.get("msg", "Invalid value."))
    if error.get("type") == "extra_forbidden":
        message = "Unknown field."
    return {"field": ".".join(loc) or "body", "message": message}


@api.exception_handler(AuthenticationError)
def not_authenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    body = error_body(domain.InvalidToken.default_message, domain.InvalidToken.code)
    return _respond(request, HTTPStatus.UNAUTHORIZED, body)


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = _HTTP_CODES.get(HTTPStatus(exc.status_code), "error")
    return _respond(request, exc.status_code, error_body(str(exc), code))


@api.exception_handler(RequestDataTooBig)
def too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    body = error_body("Request body too large.", "payload_too_large")
    return _respond(request, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, body)


@api.exception_handler(OperationalError)
@api.exception_handler(InterfaceError)
def database_down(request: HttpRequest, exc: DatabaseError) -> HttpResponse:
    logger.error("database unavailable: %s", type(exc).__name__)
    metrics.unavailable_counted("database")
    body = error_body("Service temporarily unavailable; retry shortly.", "database_unavailable")
    return _respond(request, HTTPStatus.SERVICE_UNAVAILABLE, body)


@api.exception_handler(Exception)
def unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("unhandled error on %s %s", request.method, request.path)
    body = error_body("Internal server error.", "internal_error")
    return _respond(request, HTTPStatus.INTERNAL_SERVER_ERROR, body)
