"""Limits at the edge: what a client may send, and how slowly, before Django sees a request.

uvicorn has no setting for any of these, and Django's own limit (DATA_UPLOAD_MAX_MEMORY_SIZE)
is checked only after the ASGI handler has read the whole body, spilling it to a temporary
file. Two small layers, each answering in the service's one error shape and closing the
connection:

- ``EdgeHttpToolsProtocol`` (uvicorn's httptools protocol, one per connection; serving.py
  selects it): request headers over MAX_REQUEST_HEADER_BYTES get 431, counted as the bytes
  arrive, so a 32 MB header is never held whole; headers not complete within CLIENT_TIMEOUT
  (of the connection's start, or of a keep-alive request's first byte) drop the connection.
  Over LIMIT_CONCURRENCY (connections or requests in flight) it answers uvicorn's 503 in the
  common shape, with Retry-After.
- ``EdgeLimits`` (an ASGI wrapper of Django's application; config/asgi.py applies it): a
  declared Content-Length over DATA_UPLOAD_MAX_MEMORY_SIZE gets 413 before a byte of the body
  is read; a chunked body is counted as it arrives and cut off with 413 past the limit; a body
  not complete within CLIENT_TIMEOUT gets 408. Django then gets the body whole, from memory.

The protocol overrides uvicorn's parser callbacks (on_message_begin, on_url, on_header,
on_headers_complete, on_body, on_message_complete) and data_received; pyproject.toml pins
uvicorn to the minor version this was written against (tests/test_edge.py covers each).
"""

from __future__ import annotations

import asyncio
import json
from asyncio import TimerHandle
from collections.abc import Awaitable, Callable, MutableMapping
from http import HTTPStatus
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]  # Django's handler types its arguments narrower

TOO_LARGE = (HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "Request body too large.", "payload_too_large")
HEADERS_TOO_LARGE = (
    HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
    "Request headers too large.",
    "request_header_fields_too_large",
)
TIMED_OUT = (HTTPStatus.REQUEST_TIMEOUT, "Request not received in time.", "request_timeout")
BUSY = (HTTPStatus.SERVICE_UNAVAILABLE, "Too many connections; try again shortly.", "server_busy")


def _error(error: tuple[HTTPStatus, str, str]) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    status, detail, code = error
    body = json.dumps({"detail": detail, "code": code}).encode()
    headers = [
        *([(b"retry-after", str(_retry_after()).encode())] if status == BUSY[0] else []),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        # The rest of the request is not read: the connection cannot carry another one.
        (b"connection", b"close"),
    ]
    return int(status), headers, body


def _retry_after() -> int:
    from django.conf import settings

    return int(settings.RETRY_AFTER_SECONDS)


async def _busy(scope: Scope, receive: Receive, send: Send) -> None:
    await _send_error(send, BUSY)


class EdgeHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with request headers bounded in bytes and in time, and its
    concurrency limit answered in the common shape."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from django.conf import settings  # configured: uvicorn has loaded config.asgi

        self.max_head_bytes: int = settings.MAX_REQUEST_HEADER_BYTES
        self.head_timeout: float = settings.CLIENT_TIMEOUT
        self._in_head = True  # receiving a request's line and headers
        self._head_bytes = 0  # raw bytes received while in the head (an upper bound)
        self._head_size = 0  # the parsed size: URL, header names and values
        self._head_timer: TimerHandle | None = None
        self._refused = False
        # uvicorn's own LIMIT_CONCURRENCY answer is plain text: this one checks the same limit
        # (connections or requests in flight) and answers in the common shape.
        self.max_in_flight, self.limit_concurrency = self.limit_concurrency, None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # A client that connects and sends nothing gets no longer than one that stalls.
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)
        if self._in_head and not self._refused and not self.transport.is_closing():
            # httptools keeps an unfinished header line in its own buffer until it ends, so
            # count what arrives, not what was parsed: the buffer never outgrows the limit by
            # more than one read.
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self._refuse_head()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes, self._head_size = True, 0, 0
        if self._head_timer is None:  # the keep-alive timer stopped at this first byte
            self._arm_head_timer()

    def on_url(self, url: bytes) -> None:
        self._head_size += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4  # ": " and CRLF
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        self._in_head = False
        self._cancel_head_timer()
        if self._head_size > self.max_head_bytes:
            self._refuse_head()
            return
        limit = self.max_in_flight
        busy = limit is not None and (len(self.connections) >= limit or len(self.tasks) >= limit)
        if busy:
            self.logger.warning("Exceeded concurrency limit.")
        self.app = _busy if busy else self.config.loaded_app  # what super() starts
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._refused:
            super().on_message_complete()

    def _refuse_head(self) -> None:
        self._refused = True
        self._in_head = False
        self._cancel_head_timer()
        status, headers, body = _error(HEADERS_TOO_LARGE)
        content = [STATUS_LINE[status]]
        for name, value in [*self.server_state.default_headers, *headers]:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend([b"\r\n", body])
        self.transport.write(b"".join(content))
        self.transport.close()

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.cycle is not None and not self.cycle.response_complete:
            # A pipelined request's head, behind a response still being made: the client is
            # not the one stalling, so its time starts once that response is out.
            self._arm_head_timer()
            return
        # Nothing is answered: the client is not reading either (nginx does the same).
        if self._in_head and not self.transport.is_closing():
            self.logger.debug("Request headers not received in time: closing the connection.")
            self.transport.close()


class _TooLarge(Exception):
    pass


class _Disconnected(Exception):
    pass


class EdgeLimits:
    """ASGI wrapper that reads a request's body under a size and a time limit, then calls the app
    with it, whole (at most ``max_body_bytes``, in memory)."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, timeout: float) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._declared_length(scope) > self.max_body_bytes:
            await _send_error(send, TOO_LARGE)  # before a byte of the body is read
            return
        try:
            body = await self._read_body(receive)
        except _TooLarge:
            await _send_error(send, TOO_LARGE)
            return
        except TimeoutError:
            await _send_error(send, TIMED_OUT)
            return
        except _Disconnected:
            return
        await self.app(scope, _replay(body, receive), send)

    @staticmethod
    def _declared_length(scope: Scope) -> int:
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return 0  # Django's RequestGuardMiddleware answers 400 for it
        return 0

    async def _read_body(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        # One deadline for the whole body, not per chunk: a byte every few seconds is a stall.
        async with asyncio.timeout(self.timeout):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise _Disconnected
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_body_bytes:
                    raise _TooLarge
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands over the body read already, then the server's (for disconnects)."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _send_error(send: Send, error: tuple[HTTPStatus, str, str]) -> None:
    status, headers, body = _error(error)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
