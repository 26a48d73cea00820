"""Middleware that costs no thread hop on the API's path.

Under ASGI, Django runs each `MiddlewareMixin` middleware's `process_request` and
`process_response` through `sync_to_async`: two event-loop/thread switches per middleware per
request, most of a request's cost. Here:

- `Inline*` run middlewares that only compute (headers, redirects; no I/O, nothing
  thread-bound) straight on the event loop;
- `AdminOnly*` run the ones only the admin needs (sessions, CSRF, auth, messages) under
  `/admin/` alone, as Django would; every other request skips them without a switch;
- `StaticFiles` serves WhiteNoise's files under STATIC_URL and nothing else;
- `RequestGuardMiddleware` answers the API's own edge cases in the common error shape.

Under WSGI (and Django's test client) each behaves as the middleware it wraps.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.middleware.csrf import CsrfViewMiddleware
from django.middleware.security import SecurityMiddleware
from django.utils.deprecation import MiddlewareMixin
from whitenoise.middleware import WhiteNoiseMiddleware

from api.caller import caller_ip
from api.errors import error_response

_ADMIN = "/admin/"
_BODY_METHODS = {"POST", "PUT", "PATCH"}
_MOVED = 301
_NOT_ALLOWED = 405


class _Inline(MiddlewareMixin):
    """A MiddlewareMixin whose hooks run on the event loop: for hooks that only compute."""

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.process_request(request) if hasattr(self, "process_request") else None
        response = response or await self.get_response(request)  # type: ignore[misc]
        if hasattr(self, "process_response"):
            response = self.process_response(request, response)
        return response


class InlineSecurityMiddleware(_Inline, SecurityMiddleware):
    """Django's security headers, and a Content-Security-Policy on every response."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        response = super().process_response(request, response)
        if settings.CONTENT_SECURITY_POLICY and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = settings.CONTENT_SECURITY_POLICY
        return response


class InlineCommonMiddleware(_Inline, CommonMiddleware):
    pass


class InlineXFrameOptionsMiddleware(_Inline, XFrameOptionsMiddleware):
    pass


class _AdminOnly(MiddlewareMixin):
    """A MiddlewareMixin that runs under /admin/ only; other requests pass straight through."""

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode or request.path_info.startswith(_ADMIN):
            return super().__call__(request)
        return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        if request.path_info.startswith(_ADMIN):
            return await super().__acall__(request)
        return await self.get_response(request)  # type: ignore[misc]


class AdminOnlySessionMiddleware(_AdminOnly, SessionMiddleware):
    pass


class AdminOnlyAuthenticationMiddleware(_AdminOnly, AuthenticationMiddleware):
    pass


class AdminOnlyMessageMiddleware(_AdminOnly, MessageMiddleware):
    pass


class AdminOnlyCsrfViewMiddleware(_AdminOnly, CsrfViewMiddleware):
    def __init__(self, get_response: Any) -> None:
        super().__init__(get_response)
        if self.async_mode:
            # Django adapts process_view to the handler's mode; a coroutine needs no switch.
            self.process_view = self._async_process_view  # type: ignore[method-assign,assignment]

    async def _async_process_view(
        self, request: HttpRequest, view: Any, args: Any, kwargs: Any
    ) -> HttpResponse | None:
        if not request.path_info.startswith(_ADMIN):
            return None
        check = sync_to_async(CsrfViewMiddleware.process_view)
        return await check(self, request, view, args, kwargs)


class StaticFiles(_Inline, WhiteNoiseMiddleware):
    """WhiteNoise's files; looking a file up is a dict read, serving one opens it."""

    def __init__(self, get_response: Any) -> None:
        super().__init__(get_response)  # MiddlewareMixin's, which calls WhiteNoise's bare
        self.get_response = get_response

    def process_request(self, request: HttpRequest) -> HttpResponseBase | None:
        static_file = self.files.get(request.path_info)
        return None if static_file is None else self.serve(static_file, request)

    def __call__(self, request: HttpRequest) -> Any:
        return MiddlewareMixin.__call__(self, request)


def _admin_allowed(request: HttpRequest) -> bool:
    networks = settings.ADMIN_ALLOWED_NETWORKS
    if not networks:
        return True
    try:
        address = ipaddress.ip_address(caller_ip(request))
    except ValueError:
        return False
    return any(address in network for network in networks)


class RequestGuardMiddleware(_Inline):
    """Refuse API bodies that are not JSON, and answer 405s and slash-less POSTs in the common
    shape (APPEND_SLASH would redirect them, and the client would drop its body)."""

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        if request.path_info.startswith(_ADMIN) and not _admin_allowed(request):
            # Outside ADMIN_ALLOWED_NETWORKS the admin does not exist.
            return error_response(404, "Not found.", "not_found")
        if not request.path_info.startswith("/api/") or request.method not in _BODY_METHODS:
            return None
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return error_response(400, "Invalid Content-Length.", "bad_request")
        if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            return error_response(413, "Request body too large.", "payload_too_large")
        # A chunked body has no Content-Length, but is a body all the same.
        has_body = length or "HTTP_TRANSFER_ENCODING" in request.META
        # The OAuth endpoints take form bodies, as RFC 6749 and 7009 say; the rest is JSON only.
        expected = (
            "application/x-www-form-urlencoded"
            if request.path_info.startswith("/api/oauth/")
            else "application/json"
        )
        if has_body and (request.content_type or "") != expected:
            return error_response(415, f"Send the body as {expected}.", "unsupported_media_type")
        return None

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if not request.path_info.startswith("/api/"):
            return response
        if response.status_code == _NOT_ALLOWED and not response.get("Content-Type", "").startswith(
            "application/json"
        ):
            reshaped = error_response(405, "Method not allowed.", "method_not_allowed")
            reshaped["Allow"] = response.get("Allow", "")
            return reshaped
        if response.status_code == _MOVED and request.method not in {"GET", "HEAD"}:
            return error_response(404, f"Not found. Did you mean {request.path}/ ?", "not_found")
        return response
