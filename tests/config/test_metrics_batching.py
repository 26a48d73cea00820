"""Metric updates batched on the event loop (accounts/metrics.py: batching, flush) write what
prometheus-client's own inc() and observe() write, only later and in one go."""

from __future__ import annotations

import asyncio
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from accounts import metrics

# One in each bucket's range, on a bound, past the last bound, and repeats.
SAMPLES = [0.0001, 0.0005, 0.0007, 0.003, 0.003, 0.07, 0.25, 0.9, 3.0, 12.0]


def _series(registry: CollectorRegistry, how: str) -> dict[tuple[str, str], float]:
    return {
        (sample.name, sample.labels.get("le", "")): sample.value
        for metric in registry.collect()
        for sample in metric.samples
        if sample.labels.get("how") == how and not sample.name.endswith("_created")
    }


def test_batched_updates_add_up_to_direct_ones_and_wait_for_the_flush():
    registry = CollectorRegistry()
    seconds = Histogram(
        "t_seconds", "t", ["how"], buckets=metrics.LATENCY_BUCKETS, registry=registry
    )
    events = Counter("t_events", "t", ["how"], registry=registry)
    for value in SAMPLES:
        seconds.labels("direct").observe(value)
        events.labels("direct").inc()
    before_flush: dict[str, Any] = {}

    async def batched() -> None:
        task = asyncio.create_task(metrics.batching())
        await asyncio.sleep(0)  # the task has started: this thread batches from now on
        for value in SAMPLES:
            metrics._observe(seconds.labels("batched"), value)
            metrics._count(events.labels("batched"))
        before_flush.update(_series(registry, "batched"))
        task.cancel()  # the worker stops: what is pending is written
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(batched())

    assert before_flush[("t_events_total", "")] == 0
    assert before_flush[("t_seconds_count", "")] == 0
    assert _series(registry, "batched") == _series(registry, "direct")
    assert _series(registry, "direct")[("t_seconds_count", "")] == len(SAMPLES)


def test_outside_the_event_loop_updates_are_written_at_once():
    registry = CollectorRegistry()
    events = Counter("u_events", "u", ["how"], registry=registry)

    metrics._count(events.labels("sync"))

    assert _series(registry, "sync")[("u_events_total", "")] == 1
