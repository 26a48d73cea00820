"""Tells the observability layer (config/observability.py) which route template a request
matched, and the user it was authenticated as; nothing else.

First in MIDDLEWARE, so it sees every answer. It runs in the handler's mode, sync or async,
without adapting either: under uvicorn on the event loop (no thread hop), under the test
client and WSGI in the request's thread. The template comes from Django's URL resolution
(`request.resolver_match.route`, e.g. `/api/sessions/<session_id>/`), never from the path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase
from django.urls import Resolver404, resolve

from accounts import request_context


class RouteLabelMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self._acall(request)
        response = self.get_response(request)
        _note(request)
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        response: HttpResponseBase = await self.get_response(request)
        _note(request)
        return response


def _note(request: HttpRequest) -> None:
    if request_context.current() is None:
        return
    match = getattr(request, "resolver_match", None)
    if match is None:
        # A middleware answered before URL resolution (415, 413, the admin's 404): the route
        # the path would have taken, if any.
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return
    if match.route:
        request_context.route_noted("/" + match.route)
    user = getattr(getattr(request, "auth", None), "user", None)
    if user is not None:
        request_context.user_noted(user.pk)


__all__ = ["RouteLabelMiddleware"]
