"""Traces over the wire: the real server with OTEL_EXPORTER_OTLP_ENDPOINT set exports OTLP/HTTP
(protobuf) to a collector (here a plain HTTP server that decodes what it receives with
OpenTelemetry's own protobuf classes). A refresh arrives as one trace: its server span, named
by route template, and its Redis and SQL spans under it, from the service `auth-service`."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.factories import PASSWORD
from tests.live.calls import unique_email
from tests.servers import served, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


class _Collector(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        self.server.received.append((self.path, request))  # type: ignore[attr-defined]
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def collector() -> Iterator[tuple[str, list]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.received  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


def _spans(received: list) -> list[tuple[str, object]]:
    return [
        (path, resource, span)
        for path, request in received
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]


def _refresh_trace(received: list) -> list | None:
    spans = _spans(received)
    roots = [s for _, _, s in spans if s.name == "POST /api/token/refresh/"]
    if not roots:
        return None
    return [entry for entry in spans if entry[2].trace_id == roots[0].trace_id]


def test_a_refresh_is_exported_over_otlp_as_one_trace(live_env):
    with collector() as (endpoint, received):
        env = {
            **live_env,
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "100",  # ms between exports of the batch processor
        }
        with served(env) as server, httpx.Client(base_url=server.base) as http:
            email = unique_email("otlp")
            registered = http.post("/api/register/", json={"email": email, "password": PASSWORD})
            assert registered.status_code == HTTPStatus.CREATED
            pair = http.post("/api/token/", json={"email": email, "password": PASSWORD}).json()
            rotated = http.post("/api/token/refresh/", json={"refresh": pair["refresh"]})
            assert rotated.status_code == HTTPStatus.OK
            wait_until(lambda: _refresh_trace(received) is not None, 20, "the refresh's trace")
            wait_until(lambda: len(_refresh_trace(received)) > 2, 10, "its child spans")  # noqa: PLR2004

    trace = _refresh_trace(received)
    assert {path for path, _, _ in trace} == {"/v1/traces"}
    services = {
        attribute.value.string_value
        for _, resource, _ in trace
        for attribute in resource.resource.attributes
        if attribute.key == "service.name"
    }
    assert services == {"auth-service"}
    [root] = [span for _, _, span in trace if span.name == "POST /api/token/refresh/"]
    children = [span for _, _, span in trace if span is not root]
    assert {span.parent_span_id for span in children} == {root.span_id}
    names = [span.name for span in children]
    assert "EVALSHA" in names
    assert "SELECT" in names
    request_id = {a.key: a.value.string_value for a in root.attributes}["http.request_id"]
    assert request_id == rotated.headers["x-request-id"]
