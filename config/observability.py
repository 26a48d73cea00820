"""Per-request observability as a pure ASGI wrapper: request ids, metrics, the access log.

`instrumented(app)` wraps whatever ASGI application it is given (config/asgi.py gives it the
whole service). For each HTTP request, on the event loop, with no thread and no I/O wait:

- an `X-Request-ID`: the one a trusted proxy sent (TRUSTED_PROXY_COUNT > 0 and a well-formed
  value), else a new one; returned on the response, kept for the request in
  accounts.request_context (the audit rows and every log line carry it);
- `auth_http_requests_total` and `auth_http_request_duration_seconds` by route template,
  method and status. The template is what an inner layer noted: Django's URL resolution
  (api/route_label.py) or a layer that sets `scope["route"]` (route_set). A request nobody
  routed gets a fixed class (`/admin/*`, `/static/*`, `unmatched`), never its raw path;
- one access-log line (logger `auth.access`, ACCESS_LOG): request id, method, route, status,
  duration, client address, user id when known; no path, no query string, no header.

`GET /metrics` is answered here, before Django: the Prometheus text of every worker (their
files in PROMETHEUS_MULTIPROC_DIR, see multiprocess_prepare) to clients in
METRICS_ALLOWED_NETWORKS, and 404 in the common error shape to everyone else.
"""

from __future__ import annotations

import asyncio
import atexit
import ipaddress
import json
import logging
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from django.conf import settings
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from accounts import metrics, request_context
from accounts.request_context import RequestInfo
from api.caller import client_ip
from config import logs

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]

METRICS_PATH = "/metrics"
REQUEST_ID_HEADER = b"x-request-id"
# What a proxy's id may be: what common proxies and tracers generate, and nothing that could
# break a log line or a header.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,64}")
_FORWARDED_FOR = b"x-forwarded-for"
_SERVER_ERROR = 500
# The text format every Prometheus 2.x and 3.x reads (our names need none of 1.0.0's escaping).
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

access_logger = logging.getLogger("auth.access")


def route_set(scope: Scope, route: str) -> None:
    """Name the route template of a request (for a layer that answers without Django)."""
    scope["route"] = route
    request_context.route_noted(route)


def classify(path: str) -> str:
    """The label of a request no layer routed: a fixed class, never the path itself."""
    if path == METRICS_PATH:
        return METRICS_PATH
    if path.startswith("/admin/"):
        return "/admin/*"
    if path.startswith("/" + settings.STATIC_URL.lstrip("/")):
        return "/static/*"
    return "unmatched"


class Observed:
    """The ASGI wrapper (see the module)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.trust_proxy = settings.TRUSTED_PROXY_COUNT > 0
        self.networks = settings.METRICS_ALLOWED_NETWORKS
        self.access_log = settings.ACCESS_LOG
        self.traced = settings.TRACING

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        proxied = self._proxy_headers(scope) if self.trust_proxy else {}
        info = RequestInfo(request_id=_request_id(proxied.get(REQUEST_ID_HEADER)))
        header = (REQUEST_ID_HEADER, info.request_id.encode())
        status = _SERVER_ERROR

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
                if self.traced:  # the server span ends with the response: name it now
                    _span_named(scope, info)
            await send(message)

        token = request_context.begin(info)
        try:
            if scope["path"] == METRICS_PATH:
                info.route = METRICS_PATH
                await self._metrics(scope, proxied, send_with_id)
            else:
                await self.app(scope, receive, send_with_id)
        finally:
            request_context.end(token)
            route = info.route or scope.get("route") or classify(scope["path"])
            duration = time.perf_counter() - start
            metrics.http_observed(route, scope["method"], status, duration)
            if self.access_log:
                self._log(scope, proxied, info, route, status, duration)

    @staticmethod
    def _proxy_headers(scope: Scope) -> dict[bytes, bytes]:
        wanted = (REQUEST_ID_HEADER, _FORWARDED_FOR)
        return {name: value for name, value in scope["headers"] if name in wanted}

    def _log(
        self,
        scope: Scope,
        proxied: dict[bytes, bytes],
        info: RequestInfo,
        route: str,
        status: int,
        duration: float,
    ) -> None:
        access_logger.info(
            "request",
            extra={
                "request_id": info.request_id,
                "method": scope["method"],
                "route": route,
                "status": status,
                "duration_ms": round(duration * 1000, 3),
                "client": self._client(scope, proxied),
                "user_id": info.user_id,
            },
        )

    def _client(self, scope: Scope, proxied: dict[bytes, bytes]) -> str:
        """The client address as the API reads it (api/caller.py)."""
        client = scope.get("client")
        forwarded = proxied.get(_FORWARDED_FOR, b"").decode("latin-1")
        return client_ip(forwarded, str(client[0]) if client else "")

    async def _metrics(self, scope: Scope, proxied: dict[bytes, bytes], send: Send) -> None:
        if not self._metrics_allowed(self._client(scope, proxied)):
            await _json(send, 404, {"detail": "Not found.", "code": "not_found"})
            return
        if scope["method"] not in {"GET", "HEAD"}:
            body = {"detail": "Method not allowed.", "code": "method_not_allowed"}
            await _json(send, 405, body, [(b"allow", b"GET, HEAD")])
            return
        metrics.flush()  # this worker's batched updates (the others' are at most 1 s old)
        # Reading every worker's file is not the hot path, and may touch the disk.
        text = await asyncio.to_thread(exposition)
        headers = [(b"content-type", CONTENT_TYPE.encode()), (b"cache-control", b"no-store")]
        await _respond(send, 200, headers, b"" if scope["method"] == "HEAD" else text)

    def _metrics_allowed(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)


def _request_id(proposed: bytes | None) -> str:
    if proposed:
        text = proposed.decode("latin-1")
        if _REQUEST_ID.fullmatch(text):
            return text
    return uuid.uuid4().hex


def _span_named(scope: Scope, info: RequestInfo) -> None:
    from opentelemetry import trace

    route = info.route or scope.get("route") or classify(scope["path"])
    span = trace.get_current_span()
    span.update_name(f"{scope['method']} {route}")
    span.set_attribute("http.route", route)
    span.set_attribute("http.request_id", info.request_id)


async def _json(
    send: Send, status: int, body: dict[str, str], extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [(b"content-type", b"application/json"), *(extra or [])]
    await _respond(send, status, headers, json.dumps(body).encode())


async def _respond(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def multiprocess_mode() -> bool:
    """Whether this process's metrics live in PROMETHEUS_MULTIPROC_DIR (several workers)."""
    return values.ValueClass is not values.MutexValue


def exposition() -> bytes:
    """The Prometheus text of the metrics: every worker's, summed, in multiprocess mode."""
    if multiprocess_mode():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def multiprocess_prepare(workers: int) -> str | None:
    """Before uvicorn starts its workers: a metrics directory they share (the environment
    carries it to them), emptied of a previous run's files. Called by `manage.py serve`.

    PROMETHEUS_MULTIPROC_DIR given: that directory. Else, with more than one worker, a new
    temporary one, removed at exit. One worker needs none (its registry is in memory).
    """
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    if given:
        directory = Path(given)
        directory.mkdir(parents=True, exist_ok=True)
        # This process's own files (it may have counted already) are not a previous run's.
        mine = f"_{os.getpid()}.db"
        for stale in directory.glob("*.db"):
            if not stale.name.endswith(mine):
                stale.unlink()
        return str(directory)
    if workers <= 1:
        return None
    created = tempfile.mkdtemp(prefix="auth-service-metrics-")
    atexit.register(shutil.rmtree, created, True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = created
    return created


def instrumented(app: ASGIApp) -> ASGIApp:
    """`app` with the request metrics, ids and access log; traced when TRACING is on. The
    process serves it: its logs go to stdout."""
    logs.to_stdout()
    wrapped: ASGIApp = Observed(app)
    if settings.TRACING:
        from config import tracing

        wrapped = tracing.traced(wrapped)
    return wrapped
