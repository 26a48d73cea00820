"""What the service knows about the request in progress: its id, route and user.

The ASGI layer (config/observability.py) opens one `RequestInfo` per request and keeps it in a
context variable; asgiref copies the context into the threads that run the sync views, and the
object is shared, so what a view or the domain notes here (the user, the route) is seen by the
access log when the response goes out, and the audit log reads the request id from here.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(slots=True)
class RequestInfo:
    """One request, as the access log, the metrics and the audit rows see it."""

    request_id: str
    route: str = ""
    user_id: str = ""


_current: ContextVar[RequestInfo | None] = ContextVar("auth_request", default=None)


def current() -> RequestInfo | None:
    """The request in progress, or None outside one (a management command, a test)."""
    return _current.get()


def request_id() -> str:
    """The id of the request in progress, or "" outside one."""
    info = _current.get()
    return info.request_id if info is not None else ""


def user_noted(user_id: object) -> None:
    """Note the user the request acts for (the access log names them)."""
    info = _current.get()
    if info is not None and not info.user_id:
        info.user_id = str(user_id)


def route_noted(route: str) -> None:
    """Note the route template that matched the request (never the raw path)."""
    info = _current.get()
    if info is not None:
        info.route = route


def begin(info: RequestInfo) -> object:
    """Make `info` the request in progress; returns the token `end` takes."""
    return _current.set(info)


def end(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]
