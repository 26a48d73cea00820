"""OpenTelemetry traces, optional and off by default (TRACING: OTEL_EXPORTER_OTLP_ENDPOINT set).

One trace per request: a server span from the ASGI layer (opentelemetry-instrumentation-asgi,
pure ASGI: no Django middleware, so no thread hop), with a child span per Redis command
(opentelemetry-instrumentation-redis) and per SQL statement (Django's execute wrapper,
accounts/apps.py, the hook that already times every statement: it sees each one whatever made
the connection, and patches nothing in psycopg). The context follows the request into the
threads that run the sync views (asgiref copies it).

The packages are the `otel` extra (`uv sync --extra otel`; the image: `--build-arg
EXTRAS=otel`). The exporter is OTLP over HTTP, configured by OpenTelemetry's own variables
(OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS, OTEL_SERVICE_NAME, ...).
"""

from __future__ import annotations

import functools
from typing import Any

from django.core.exceptions import ImproperlyConfigured

SERVICE_NAME = "auth-service"

# The provider SQL spans go to (accounts/apps.py reads it); None while tracing is off.
active: Any = None


def traced(app: Any, *, exporter: Any = None) -> Any:
    """`app` under a server span per request; Redis and SQL spans below it. `exporter`
    (a test's in-memory one) replaces the OTLP exporter, synchronously."""
    try:
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    except ImportError:
        raise ImproperlyConfigured(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but the OpenTelemetry packages are not "
            "installed: uv sync --extra otel (the image: --build-arg EXTRAS=otel)"
        ) from None
    global active
    provider = tracer_provider(exporter)
    _instrument_redis(provider)
    active = provider
    return OpenTelemetryMiddleware(app, tracer_provider=provider, exclude_spans=["receive", "send"])


@functools.cache
def _provider_for(exporter: Any) -> Any:
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        # Spans are exported in batches from the SDK's own thread, never on the request's.
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def tracer_provider(exporter: Any = None) -> Any:
    """The process's tracer provider (one per exporter)."""
    return _provider_for(exporter)


def _instrument_redis(provider: Any) -> None:
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    instrumentor = RedisInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(tracer_provider=provider)


def untraced() -> None:
    """Turn the Redis and SQL spans off again (tests)."""
    global active
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    active = None
    instrumentor = RedisInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()


def sql_span(provider: Any, sql: str) -> Any:
    """A client span for one SQL statement (its text has placeholders, never values)."""
    from opentelemetry.trace import SpanKind

    tracer = provider.get_tracer("auth-service.db")
    verb = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "SQL"
    return tracer.start_as_current_span(
        verb,
        kind=SpanKind.CLIENT,
        attributes={"db.system": "postgresql", "db.statement": sql[:2000]},
    )
