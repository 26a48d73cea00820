"""Traces (config/tracing.py): off by default; on, a refresh is one trace, its server span the
root of its Redis and SQL spans. The SDK's in-memory exporter stands in for the OTLP one."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from config import observability, tracing
from config.asgi_handler import get_asgi_application
from tests.config.observed import call, observed_app
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def exporter():
    spans = InMemorySpanExporter()
    yield spans
    tracing.untraced()


def test_tracing_is_off_unless_an_endpoint_is_set(settings):
    assert settings.TRACING is False
    assert isinstance(observed_app(), observability.Observed)
    assert tracing.active is None


def test_a_refresh_is_one_trace_with_its_redis_and_sql_spans(settings, exporter):
    user = UserFactory()
    settings.TRACING = True
    app = tracing.traced(observability.Observed(get_asgi_application()), exporter=exporter)
    login = call(app, "POST", "/api/token/", json={"email": user.email, "password": PASSWORD})
    exporter.clear()

    response = call(app, "POST", "/api/token/refresh/", json={"refresh": login.json()["refresh"]})

    assert response.status_code == HTTPStatus.OK
    spans = exporter.get_finished_spans()
    assert len({span.context.trace_id for span in spans}) == 1
    [server] = [span for span in spans if span.kind == SpanKind.SERVER]
    assert server.name == "POST /api/token/refresh/"
    assert server.parent is None
    assert server.attributes["http.request_id"] == response.headers["x-request-id"]
    redis = [s for s in spans if s.attributes.get("db.system") == "redis"]
    sql = [s for s in spans if s.attributes.get("db.system") == "postgresql"]
    assert [s.name for s in redis] == ["EVALSHA"]
    assert sql
    assert all(s.name in {"SELECT", "UPDATE", "INSERT"} for s in sql)
    assert {s.parent.span_id for s in (*redis, *sql)} == {server.context.span_id}
    assert len(spans) == 1 + len(redis) + len(sql)
