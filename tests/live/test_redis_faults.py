"""Redis failing in the ways production Redis fails: blackholed (accepts, never answers),
killed with -9 and restarted from its append-only file, full at maxmemory under noeviction."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http import HTTPStatus

import httpx
import pytest

from tests.factories import PASSWORD, UserFactory
from tests.helpers import STORE_UNAVAILABLE, assert_unauthorized, login, logout, me, refresh
from tests.live.calls import HTTP_TIMEOUT
from tests.live.faults import throw_away_redis
from tests.servers import free_port, uvicorn_server

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

STORE_TIMEOUT_SECONDS = 1
# A blackholed call is answered 503 within the store's time-out plus a margin for a busy box.
ANSWER_WITHIN = timedelta(seconds=STORE_TIMEOUT_SECONDS + 1.5)
LIVE_WITHIN = timedelta(seconds=0.5)
TINY_MAXMEMORY = "2mb"
FILLER_SIZES = (64 * 1024, 1024, 64)
MAX_FILLERS = 10_000


@pytest.fixture
def blackhole() -> Iterator[int]:
    """A TCP port that accepts connections and never answers (a Redis behind a dead link)."""
    listener = socket.create_server(("127.0.0.1", free_port()))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    yield listener.getsockname()[1]
    stop.set()
    acceptor.join()
    for conn in held:
        conn.close()
    listener.close()


def test_a_blackholed_redis_answers_503_in_time_and_the_worker_stays_live(blackhole, server_env):
    """Fault: Redis accepts connections and never answers. Expected: login answers 503
    token_store_unavailable with Retry-After within REDIS_TIMEOUT (+ margin), and the worker
    answers /health/live at once meanwhile (the hung call holds only its own request)."""
    env = {
        **server_env,
        "REDIS_URL": f"redis://127.0.0.1:{blackhole}/0",
        "REDIS_TIMEOUT": str(STORE_TIMEOUT_SECONDS),
        "REDIS_CONNECT_TIMEOUT": str(STORE_TIMEOUT_SECONDS),
    }
    user = UserFactory()
    with uvicorn_server(env) as base, httpx.Client(base_url=base, timeout=HTTP_TIMEOUT) as http:
        answers: list[tuple[httpx.Response, float]] = []

        def hung_login() -> None:
            started = time.monotonic()
            response = http.post("/api/token/", json={"email": user.email, "password": PASSWORD})
            answers.append((response, time.monotonic() - started))

        caller = threading.Thread(target=hung_login)
        caller.start()
        time.sleep(STORE_TIMEOUT_SECONDS / 4)
        live_started = time.monotonic()
        live = http.get("/health/live")
        live_took = time.monotonic() - live_started
        caller.join()

    [(response, took)] = answers
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json() == STORE_UNAVAILABLE
    assert "Retry-After" in response.headers
    assert took < ANSWER_WITHIN.total_seconds(), took
    assert live.status_code == HTTPStatus.OK
    assert live_took < LIVE_WITHIN.total_seconds(), live_took


def test_a_revoked_session_stays_revoked_after_kill_9_and_restart(client, settings):
    """Fault: Redis killed with SIGKILL right after a logout, restarted from its append-only
    file. Expected: the logged-out pair is still refused (401 invalid_token), the other session
    still works: no revoked session comes back, no live one is lost."""
    with throw_away_redis() as store:
        settings.TOKEN_STORE_URL = store.url
        user = UserFactory()
        revoked = login(client, user.email, PASSWORD).json()
        kept = login(client, user.email, PASSWORD).json()
        assert logout(client, revoked["refresh"]).status_code == HTTPStatus.NO_CONTENT

        store.restart()  # SIGKILL, then the same port and directory

        assert_unauthorized(me(client, revoked["access"]))
        assert_unauthorized(refresh(client, revoked["refresh"]))
        assert me(client, kept["access"]).status_code == HTTPStatus.OK


def test_a_full_redis_refuses_new_state_and_evicts_nothing(client, settings):
    """Fault: Redis at maxmemory with noeviction. Expected: a login answers 503
    token_store_unavailable (nothing issued); every session opened before still works
    (nothing was evicted to make room)."""
    with throw_away_redis() as store:
        settings.TOKEN_STORE_URL = store.url
        user = UserFactory()
        before = login(client, user.email, PASSWORD).json()
        admin = store.admin()
        admin.config_set("maxmemory-policy", "noeviction")
        admin.config_set("maxmemory", TINY_MAXMEMORY)
        _fill(admin)

        refused = login(client, user.email, PASSWORD)

        assert refused.status_code == HTTPStatus.SERVICE_UNAVAILABLE
        assert refused.json() == STORE_UNAVAILABLE
        assert me(client, before["access"]).status_code == HTTPStatus.OK
        assert admin.info("stats")["evicted_keys"] == 0


def _fill(admin) -> None:
    """Write filler, in smaller and smaller pieces, until Redis refuses even a small write."""
    import redis

    n = 0
    for size in FILLER_SIZES:
        while n < MAX_FILLERS:
            n += 1
            try:
                admin.set(f"filler:{n}", b"x" * size)
            except redis.exceptions.ResponseError:
                break
    assert (
        admin.info("memory")["used_memory"]
        > admin.info("memory")["maxmemory"] - min(FILLER_SIZES) * 4
    )
