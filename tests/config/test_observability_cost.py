"""What config/observability.py adds to a request, measured in-process against a bare ASGI app
that answers at once: request id, metrics, the send wrapper (and the access log line, as JSON,
to a stream that discards it). The bound is loose (a shared, busy machine); the figure is
printed (pytest -s) for bench/README.md."""

from __future__ import annotations

import asyncio
import io
import logging
import time

import pytest

from config import observability
from config.logs import JsonFormatter

REQUESTS = 20_000
# A request of the service costs ~1-3 ms of CPU; 5% of the fastest is 50 µs.
BOUND_US = 50


async def _bare(scope, receive, send):
    scope["route"] = "/api/me/"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def _receive():
    return {"type": "http.request", "body": b""}


async def _send(message):
    return None


def _seconds_per_request(app) -> float:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/api/me/",
        "headers": [(b"host", b"127.0.0.1"), (b"authorization", b"Bearer x")],
        "client": ("127.0.0.1", 5000),
    }

    async def run() -> float:
        start = time.perf_counter()
        for _ in range(REQUESTS):
            await app(dict(scope), _receive, _send)
        return (time.perf_counter() - start) / REQUESTS

    return asyncio.run(run())


@pytest.mark.parametrize("access_log", [False, True], ids=["no-access-log", "json-access-log"])
def test_the_wrapper_costs_microseconds(settings, access_log):
    settings.ACCESS_LOG = access_log
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(JsonFormatter())
    logger = observability.access_logger
    saved = logger.handlers, logger.propagate, logger.level
    logger.handlers, logger.propagate, logger.level = [handler], False, logging.INFO
    try:
        bare = min(_seconds_per_request(_bare) for _ in range(3))
        wrapped = min(_seconds_per_request(observability.Observed(_bare)) for _ in range(3))
    finally:
        logger.handlers, logger.propagate, logger.level = saved
    cost_us = (wrapped - bare) * 1e6
    print(f"observability wrapper: {cost_us:.1f} µs per request (access log: {access_log})")
    assert 0 < cost_us < BOUND_US
