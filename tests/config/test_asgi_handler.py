"""The ASGI handler's long-lived executor (config/asgi_handler.py): one request's sync work
stays on one thread, threads are reused rather than started per request, transactions
commit or roll back whole, and the service under uvicorn answers concurrent requests.

The in-process tests drive a handler built by the tests over tests/config/asgi_urls.py (the
service's URLs plus probe views) and note, from signal receivers, middleware and the views,
which thread ran each piece of every request.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import defaultdict
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

import httpx
import pytest
from asgiref.sync import ThreadSensitiveContext
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.core.signals import request_finished, request_started
from django.test import override_settings

from accounts import selectors, sessions
from accounts.models import User
from accounts.types import Caller
from config import asgi_handler
from config.asgi_handler import LongLivedExecutorASGIHandler, get_asgi_application
from tests.config import asgi_urls
from tests.config.asgi_urls import RECORDS, Record, probe_id
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

# ASGI_THREADS: one shared thread, two shared, one per request in flight (0, the default).
THREADS = [1, 2, 0]
THREAD_IDS = ["shared-1", "shared-2", "per-request"]

_MIDDLEWARE = [
    "tests.config.asgi_urls.OuterRecorderMiddleware",
    *settings.MIDDLEWARE,
    "tests.config.asgi_urls.InnerRecorderMiddleware",
]


def _on_started(**kwargs: Any) -> None:
    asgi_urls.record("started")


def _on_finished(**kwargs: Any) -> None:
    asgi_urls.record("finished")


@pytest.fixture
def recording(monkeypatch) -> Iterator[list[Record]]:
    """Test URLs and recorders in place; the records of every request, in order."""
    RECORDS.clear()
    original = selectors.user_get_active

    def user_get_active(**kwargs: Any) -> User | None:
        asgi_urls.record("auth")
        return original(**kwargs)

    monkeypatch.setattr(selectors, "user_get_active", user_get_active)
    # Connected after Django's close_old_connections, so they run after it.
    request_started.connect(_on_started, dispatch_uid="test-asgi-started")
    request_finished.connect(_on_finished, dispatch_uid="test-asgi-finished")
    try:
        with override_settings(ROOT_URLCONF="tests.config.asgi_urls", MIDDLEWARE=_MIDDLEWARE):
            yield RECORDS
    finally:
        request_started.disconnect(dispatch_uid="test-asgi-started")
        request_finished.disconnect(dispatch_uid="test-asgi-finished")
        RECORDS.clear()


@pytest.fixture
def make_app(recording) -> Iterator[Any]:
    """Build an ASGI app: the handler under test, behind a wrapper that tags each request."""
    handlers: list[ASGIHandler] = []

    def _make(*, threads: int = 1, stock: bool = False) -> tuple[ASGIHandler, Any]:
        handler = get_asgi_application(threads=threads, stock=stock)
        handlers.append(handler)

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            headers = dict(scope.get("headers") or [])
            probe_id.set(headers.get(b"x-probe", b"").decode())
            await handler(scope, receive, send)

        return handler, app

    yield _make
    for handler in handlers:
        if isinstance(handler, LongLivedExecutorASGIHandler):
            for executor in handler.executors():
                executor.shutdown(wait=True)


_probes = itertools.count()


def _run(app: Any, requests: list[tuple[str, str, dict[str, str]]]) -> list[httpx.Response]:
    """Send the requests concurrently through the ASGI app, each with its own X-Probe id
    (response.request.headers["X-Probe"])."""

    async def _all() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            return list(
                await asyncio.gather(
                    *(
                        http.request(
                            method, url, headers={**headers, "X-Probe": str(next(_probes))}
                        )
                        for method, url, headers in requests
                    )
                )
            )

    return asyncio.run(_all())


def _by_probe(records: list[Record]) -> dict[str, list[Record]]:
    grouped: dict[str, list[Record]] = defaultdict(list)
    for rec in records:
        grouped[rec.probe].append(rec)
    return grouped


def _bearer() -> tuple[User, dict[str, str]]:
    user = UserFactory()
    access = sessions.session_start(user=user, caller=Caller()).access
    return user, {"Authorization": f"Bearer {access}"}


@pytest.mark.parametrize("threads", THREADS, ids=THREAD_IDS)
def test_one_request_runs_all_its_sync_work_on_one_thread(make_app, recording, threads):
    _, app = make_app(threads=threads)
    user, bearer = _bearer()
    mix = [
        ("GET", "/probe/", {}),
        ("GET", "/api/me/", bearer),
        ("GET", "/health/live", {}),
        ("POST", "/txn/?email=one-{n}@example.com", {}),
    ]
    requests = [(m, u.format(n=n), h) for n in range(12) for (m, u, h) in mix]

    responses = _run(app, requests)

    assert [r.status_code for r in responses] == [200] * len(requests), [
        (r.request.url.path, r.status_code, r.text)
        for r in responses
        if r.status_code != HTTPStatus.OK
    ]
    assert {r.json()["email"] for r in responses[1::4]} == {user.email}
    grouped = _by_probe(recording)
    assert len(grouped) == len(requests)
    for response in responses:
        records = grouped[response.request.headers["X-Probe"]]
        url = response.request.url.path
        wheres = {rec.where for rec in records}
        expected = {"started", "outer-in", "inner-in", "inner-out", "outer-out", "finished"}
        if url in {"/probe/", "/txn/"}:
            expected.add("view")
        if url == "/api/me/":
            expected.add("auth")
        assert expected <= wheres, (url, wheres)
        assert len({rec.thread for rec in records}) == 1, (url, records)
    names = {rec.thread_name for rec in recording}
    assert len(names) <= (threads or len(requests))
    if threads == 0:
        # A thread of its own: on each thread, one request's records all come together.
        per_thread: dict[int, list[str]] = defaultdict(list)
        for rec in recording:
            if not per_thread[rec.thread] or per_thread[rec.thread][-1] != rec.probe:
                per_thread[rec.thread].append(rec.probe)
        for probes in per_thread.values():
            assert len(probes) == len(set(probes)), probes
    assert all(name.startswith(asgi_handler.THREAD_NAME_PREFIX) for name in names)


@pytest.mark.parametrize("threads", THREADS, ids=THREAD_IDS)
def test_threads_are_reused_across_requests(make_app, recording, threads):
    _, app = make_app(threads=threads)
    before = threading.active_count()

    for batch in range(5):
        responses = _run(app, [("GET", "/probe/", {})] * 20)
        assert [r.status_code for r in responses] == [200] * 20, batch

    # At most one thread per request in flight (20), not one per request (100).
    limit = threads or 20
    threads_seen = {(rec.thread, rec.thread_name) for rec in recording}
    assert 1 <= len(threads_seen) <= limit
    assert threading.active_count() <= before + limit


def test_stock_handler_starts_a_thread_per_request(make_app, recording):
    """What the long-lived executor avoids, and proof that the test above can tell."""
    _, app = make_app(stock=True)

    for _ in range(3):
        assert all(r.status_code == HTTPStatus.OK for r in _run(app, [("GET", "/probe/", {})] * 10))

    assert len({rec.thread_name for rec in recording}) == 30  # noqa: PLR2004 (3 rounds x 10)
    for records in _by_probe(recording).values():
        assert len({rec.thread for rec in records}) == 1


@pytest.mark.parametrize("threads", THREADS, ids=THREAD_IDS)
def test_transactions_commit_or_roll_back_whole(make_app, recording, threads):
    _, app = make_app(threads=threads)
    count = 30
    requests = [
        ("POST", f"/txn/?email=txn-{n}@example.com&hold=0.005&fail={n % 2}", {})
        for n in range(count)
    ]

    responses = _run(app, requests)

    assert [r.status_code for r in responses] == [200 if n % 2 == 0 else 409 for n in range(count)]
    stored = set(User.objects.filter(email__startswith="txn-").values_list("email", flat=True))
    assert stored == {f"txn-{n}@example.com" for n in range(0, count, 2)}
    for rec in recording:
        if rec.where in {"started", "view", "finished"}:
            # No transaction is open between sync calls, on any thread.
            assert not rec.in_atomic, rec
            assert rec.autocommit, rec
        if rec.where == "finished":
            # request_finished returned the connection to the pool.
            assert not rec.connected, rec
    # On each thread, transactions follow one another: never two open at once.
    per_thread: dict[int, list[Record]] = defaultdict(list)
    for rec in recording:
        if rec.where in {"atomic-in", "atomic-out"}:
            per_thread[rec.thread].append(rec)
    assert len(per_thread) <= (threads or count)
    for records in per_thread.values():
        for opened, closed in zip(records[::2], records[1::2], strict=True):
            assert (opened.where, closed.where) == ("atomic-in", "atomic-out")
            assert opened.probe == closed.probe
            assert opened.in_atomic
            assert closed.in_atomic


def test_non_http_scopes_are_refused(make_app):
    handler, _ = make_app()

    async def _call() -> None:
        await handler({"type": "websocket"}, None, None)

    with pytest.raises(ValueError, match="websocket"):
        asyncio.run(_call())


def test_the_service_uses_the_long_lived_executor():
    from config.asgi import django_application

    assert asgi_handler.executor_supported()
    assert isinstance(django_application, LongLivedExecutorASGIHandler)


def test_stock_handler_on_request_or_without_asgiref_support(monkeypatch):
    assert type(get_asgi_application(stock=True)) is ASGIHandler

    class OldThreadSensitiveContext(ThreadSensitiveContext):
        def __init__(self) -> None:  # asgiref before executor=
            super().__init__()

    monkeypatch.setattr(asgi_handler, "ThreadSensitiveContext", OldThreadSensitiveContext)
    assert not asgi_handler.executor_supported()
    assert type(get_asgi_application()) is ASGIHandler


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_concurrent_requests_over_real_http(live_env, workers):
    from tests.servers import uvicorn_server

    user = UserFactory()
    with uvicorn_server(live_env, workers=workers) as base:

        async def _load() -> list[int]:
            limits = httpx.Limits(max_connections=32)
            async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:
                login = {"email": user.email, "password": PASSWORD}
                pairs = await asyncio.gather(
                    *(http.post("/api/token/", json=login) for _ in range(4))
                )
                assert [p.status_code for p in pairs] == [200] * 4
                bearer = {"Authorization": f"Bearer {pairs[0].json()['access']}"}

                async def refresh_chain(refresh: str) -> list[int]:
                    statuses = []
                    for _ in range(8):
                        answer = await http.post("/api/token/refresh/", json={"refresh": refresh})
                        statuses.append(answer.status_code)
                        if answer.status_code != HTTPStatus.OK:
                            break
                        refresh = answer.json()["refresh"]
                    return statuses

                singles = [http.get("/api/me/", headers=bearer) for _ in range(60)]
                singles += [http.get("/health/live") for _ in range(30)]
                singles += [http.get("/health/ready") for _ in range(10)]
                singles += [
                    http.post(
                        "/api/register/",
                        json={"email": f"live-{n}@example.com", "password": PASSWORD},
                    )
                    for n in range(2)
                ]
                chains = [refresh_chain(p.json()["refresh"]) for p in pairs]
                results = await asyncio.gather(asyncio.gather(*singles), asyncio.gather(*chains))
                answers, chain_statuses = results
                for answer in answers:
                    if answer.request.url.path == "/api/me/":
                        assert answer.json().get("email") == user.email, answer.text
                return [a.status_code for a in answers] + [s for c in chain_statuses for s in c]

        statuses = asyncio.run(_load())

    assert statuses.count(HTTPStatus.CREATED) == 2  # noqa: PLR2004 (the two registrations)
    assert set(statuses) == {200, 201}
    assert len(statuses) == 60 + 30 + 10 + 2 + 4 * 8
