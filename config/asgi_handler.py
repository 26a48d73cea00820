"""Django's ASGI handler, running the sync work of requests on long-lived threads.

Why: Django's stock ``ASGIHandler`` wraps every request in ``ThreadSensitiveContext()``.
asgiref then makes a fresh one-thread executor for that request, starts its thread at the
first sync call and joins it when the request ends. Every request of this service runs sync
code (MiddlewareMixin middleware, the Ninja views, the ``request_started`` /
``request_finished`` receivers that return database connections), so every request paid for
starting and joining a thread. bench/README.md has the figures.

What: asgiref (3.13 and later) lets ``ThreadSensitiveContext(executor=...)`` take an
executor that the caller owns and keeps. This handler keeps one-thread executors for the
life of the process and enters each request in a new ``ThreadSensitiveContext`` on one of
them. Nothing else of Django's handler changes. ``threads`` chooses how:

- ``threads`` = N >= 1: N threads, shared; a request goes to the least busy one.
- ``threads`` = 0: a thread of its own per request in flight, taken from the idle ones (or
  started when none is idle) and kept for later requests: the stock handler's isolation,
  without starting and joining a thread per request.

Why it stays correct:

- One request, one thread: the context is per request and its executor has one thread, so
  every thread-sensitive call of the request (middleware, auth, view, signal receivers,
  ``response.close``) runs on that thread, as with the stock handler.
- Database connections are per thread in Django. A sync call runs to its end before its
  executor starts the next one, so requests sharing a thread use its connection one call at
  a time; ``request_finished`` still returns it to the pool at the end of each request; a
  transaction never spans two sync calls (``transaction.atomic`` and ``ATOMIC_REQUESTS``
  are sync, inside one call). With ``threads`` = 0 no two requests in flight share one.
- What sharing gives up (``threads`` >= 1): requests on one thread queue for it. A call that
  blocks (Argon2 hashing, ~30 ms; a Redis or PostgreSQL time-out, seconds) holds up every
  request behind it, /health/live included, as in a sync server with that many threads.

When asgiref has no ``executor`` parameter, or ``stock=True``, this returns Django's own
handler unchanged.
"""

from __future__ import annotations

import inspect
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import django
from asgiref.sync import ThreadSensitiveContext
from django.core.handlers.asgi import ASGIHandler

logger = logging.getLogger(__name__)

THREAD_NAME_PREFIX = "django-sync"


def executor_supported() -> bool:
    """Whether the installed asgiref takes ``ThreadSensitiveContext(executor=...)``."""
    try:
        parameters = inspect.signature(ThreadSensitiveContext).parameters
    except (TypeError, ValueError):
        return False
    return "executor" in parameters


class LongLivedExecutorASGIHandler(ASGIHandler):
    """``ASGIHandler`` that runs each request's sync code on one long-lived thread.

    ``threads`` >= 1: requests share that many threads, each request on the least busy one.
    ``threads`` == 0: every request in flight has a thread of its own, an idle one or a new
    one, which waits for the next request afterwards (at most ``max_idle`` wait).
    """

    def __init__(self, threads: int = 0, *, max_idle: int = 64) -> None:
        if threads < 0:
            raise ValueError("threads must be 0 (one per request in flight) or more")
        super().__init__()
        self.threads = threads
        self._started = 0
        # Threads start lazily, at their first call: a process that forks after import (a
        # pre-forking server) does not inherit a started thread.
        self._shared = [self._new_executor() for _ in range(threads)]
        # Only the event loop's thread touches these two.
        self._in_flight = [0] * threads
        self._idle: list[ThreadPoolExecutor] = []
        self._max_idle = max_idle

    def _new_executor(self) -> ThreadPoolExecutor:
        self._started += 1
        return ThreadPoolExecutor(1, thread_name_prefix=f"{THREAD_NAME_PREFIX}-{self._started}")

    def executors(self) -> list[ThreadPoolExecutor]:
        """The executors that are not in use by a request now (all of them when idle)."""
        return [*self._shared, *self._idle]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        if self.threads:
            index = min(range(self.threads), key=self._in_flight.__getitem__)
            executor = self._shared[index]
            self._in_flight[index] += 1
        else:
            executor = self._idle.pop() if self._idle else self._new_executor()
        try:
            # A new context per request (a context with an executor is entered once); the
            # executor is ours and outlives it. handle() awaits or cancels every task it
            # makes, and awaits its last sync call (request_finished), before returning.
            async with ThreadSensitiveContext(executor=executor):  # type: ignore[call-arg,unused-ignore]
                await self.handle(scope, receive, send)
        finally:
            if self.threads:
                self._in_flight[index] -= 1
            elif len(self._idle) < self._max_idle:
                self._idle.append(executor)
            else:
                executor.shutdown(wait=False)


def get_asgi_application(*, threads: int = 0, stock: bool = False) -> ASGIHandler:
    """Set Django up and return its ASGI handler: ours, or the stock one (see the module)."""
    django.setup(set_prefix=False)
    if stock:
        return ASGIHandler()
    if not executor_supported():
        logger.warning(
            "asgiref has no ThreadSensitiveContext(executor=...): using Django's stock ASGI "
            "handler, which starts a thread per request"
        )
        return ASGIHandler()
    return LongLivedExecutorASGIHandler(threads=threads)
