"""20 concurrent refreshes with one refresh token, over real HTTP against uvicorn.

The server runs one worker with several request threads (ASGI_THREADS), so requests really
overlap inside it; starting a second worker costs seconds and adds nothing that the Lua
script's atomicity does not already have to hold across threads.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus

import httpx
import pytest

from tests.factories import PASSWORD, UserFactory
from tests.jwt_tools import claims_of
from tests.live import uvicorn_server

pytestmark = pytest.mark.slow

CONCURRENCY = 20
THREADS = {"ASGI_THREADS": "8"}


def _login(http: httpx.Client, email: str) -> dict:
    response = http.post("/api/token/", json={"email": email, "password": PASSWORD})
    assert response.status_code == HTTPStatus.OK, response.text
    return response.json()


def _refresh_at_once(base: str, token: str) -> list[httpx.Response]:
    """CONCURRENCY clients, each on its own connection, released together by a barrier."""
    barrier = threading.Barrier(CONCURRENCY)

    def one(_: int) -> httpx.Response:
        with httpx.Client(base_url=base, timeout=30) as http:
            http.get("/health/live")  # connect first, so that the barrier releases requests
            barrier.wait(timeout=30)
            return http.post("/api/token/refresh/", json={"refresh": token})

    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        return list(pool.map(one, range(CONCURRENCY)))


def test_twenty_concurrent_refreshes_exactly_one_wins_without_grace(live_env):
    """Race: one refresh token sent 20 times at once (REFRESH_REUSE_GRACE=0).
    Expected: exactly one 200; the 19 others 401; the replays end the session, so even the
    winner's new tokens stop working."""
    user = UserFactory()
    with (
        uvicorn_server({**live_env, **THREADS, "REFRESH_REUSE_GRACE": "0"}) as base,
        httpx.Client(base_url=base, timeout=30) as http,
    ):
        pair = _login(http, user.email)

        responses = _refresh_at_once(base, pair["refresh"])

        statuses = Counter(r.status_code for r in responses)
        assert statuses == {HTTPStatus.OK: 1, HTTPStatus.UNAUTHORIZED: 19}
        codes = {r.json()["code"] for r in responses if r.status_code == HTTPStatus.UNAUTHORIZED}
        assert codes <= {"token_reused", "invalid_token"}
        assert "token_reused" in codes
        (winner,) = [r.json() for r in responses if r.status_code == HTTPStatus.OK]
        again = http.post("/api/token/refresh/", json={"refresh": winner["refresh"]})
        assert again.status_code == HTTPStatus.UNAUTHORIZED
        me = http.get("/api/me/", headers={"Authorization": f"Bearer {winner['access']}"})
        assert me.status_code == HTTPStatus.UNAUTHORIZED


def test_twenty_concurrent_refreshes_within_grace_share_one_successor(live_env):
    """With the default 10 s grace, every concurrent caller gets the same successor back:
    one rotation, never twenty sessions' worth of live refresh tokens."""
    user = UserFactory()
    with (
        uvicorn_server({**live_env, **THREADS}) as base,
        httpx.Client(base_url=base, timeout=30) as http,
    ):
        pair = _login(http, user.email)

        responses = _refresh_at_once(base, pair["refresh"])

        assert Counter(r.status_code for r in responses) == {HTTPStatus.OK: CONCURRENCY}
        successors = {
            (c["jti"], c["sid"], c["exp"])
            for c in (claims_of(r.json()["refresh"]) for r in responses)
        }
        assert len(successors) == 1
        assert successors.pop()[0] != claims_of(pair["refresh"])["jti"]
        # ECDSA signatures are randomized, so the strings differ; any of them is the successor.
        nxt = http.post("/api/token/refresh/", json={"refresh": responses[-1].json()["refresh"]})
        assert nxt.status_code == HTTPStatus.OK
