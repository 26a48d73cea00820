"""Slots for password hashing: Argon2id takes ~30 ms of CPU and 19 MiB each, so a process runs at
most PASSWORD_HASH_CONCURRENCY at once; a request that cannot get a slot within
PASSWORD_HASH_WAIT_MS is refused (HasherBusy, 503) instead of queueing without limit."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from accounts import metrics
from accounts.exceptions import HasherBusy


@functools.cache
def _slots() -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(settings.PASSWORD_HASH_CONCURRENCY)


@contextmanager
def hashing_slot() -> Iterator[None]:
    """Hold one of the process's hashing slots for the block, or raise HasherBusy."""
    slots = _slots()
    metrics.HASHING_WAITING.inc()
    start = time.perf_counter()
    try:
        acquired = slots.acquire(timeout=settings.PASSWORD_HASH_WAIT_MS / 1000)
    finally:
        metrics.HASHING_WAITING.dec()
        metrics.HASHING_WAIT.observe(time.perf_counter() - start)
    if not acquired:
        raise HasherBusy()
    metrics.HASHING_IN_USE.inc()
    try:
        yield
    finally:
        metrics.HASHING_IN_USE.dec()
        slots.release()


@receiver(setting_changed)
def _resize(*, setting: str, **kwargs: Any) -> None:
    if setting == "PASSWORD_HASH_CONCURRENCY":
        _slots.cache_clear()
