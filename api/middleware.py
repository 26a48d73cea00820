"""The API's edges: refuse bodies it cannot read before any view runs, and answer the
responses Django and Ninja build themselves (405, slash redirects) in the common shape."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from api.errors import error_response

_BODY_METHODS = {"POST", "PUT", "PATCH"}


class RequestGuardMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith("/api/"):
            return self.get_response(request)
        if request.method in _BODY_METHODS:
            refusal = self._refusal(request)
            if refusal is not None:
                return refusal
        return self._reshape(request, self.get_response(request))

    @staticmethod
    def _reshape(request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if response.status_code == 405 and not response.get("Content-Type", "").startswith(
            "application/json"
        ):
            reshaped = error_response(405, "Method not allowed.", "method_not_allowed")
            reshaped["Allow"] = response.get("Allow", "")
            return reshaped
        if response.status_code == 301 and request.method not in {"GET", "HEAD"}:
            # APPEND_SLASH would redirect, and the client would drop its body: say where to go.
            return error_response(404, f"Not found. Did you mean {request.path}/ ?", "not_found")
        return response

    @staticmethod
    def _refusal(request: HttpRequest) -> HttpResponse | None:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return error_response(400, "Invalid Content-Length.", "bad_request")
        if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            return error_response(413, "Request body too large.", "payload_too_large")
        content_type = request.content_type or ""
        # A chunked body has no Content-Length, but is a body all the same.
        has_body = length or "HTTP_TRANSFER_ENCODING" in request.META
        if has_body and content_type != "application/json":
            return error_response(
                415, "Send the body as application/json.", "unsupported_media_type"
            )
        return None
