"""Concurrent uses of one session over real HTTP, against uvicorn with two worker processes.

Requests start together (a barrier), each on its own connection, so they really overlap across
the workers and inside each (a thread per request in flight). Of concurrent refreshes of one
token exactly one rotates (or, within the grace window, all get the same successor); whatever
order logouts and refreshes land in, no token any of them received still works afterwards.
Each grace setting gets one server for the whole module.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http import HTTPStatus
from threading import Barrier
from typing import Any

import httpx
import pytest

from tests.factories import UserFactory
from tests.helpers import INVALID_TOKEN, TOKEN_REUSED, claims_of, sid_of
from tests.live.calls import HTTP_TIMEOUT, assert_refused, login, me, refresh
from tests.servers import uvicorn_server

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WORKERS = 2
REFRESHES = 20
REQUESTS = 50
LOGOUT_ALLS = 10
ENDERS = 10  # logouts among the refresh chains
CHAIN_LENGTH = 5
REFUSED = {"invalid_token", "token_reused"}


@dataclass(frozen=True)
class Server:
    base: str
    grace: bool


@pytest.fixture(scope="module", params=["10", "0"], ids=["grace-10s", "grace-off"])
def server(request, server_env) -> Iterator[Server]:
    """uvicorn on the test database and Redis, started once per grace setting."""
    env = {**server_env, "REFRESH_REUSE_GRACE": request.param}
    with uvicorn_server(env, workers=WORKERS) as base:
        yield Server(base, grace=request.param != "0")


@pytest.fixture
def http(server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base, timeout=HTTP_TIMEOUT) as client:
        yield client


def _race(base: str, jobs: list[tuple[str, str, str, dict[str, Any]]]) -> list[tuple[str, Any]]:
    """Run every (kind, method, path, kwargs) job at the same instant; (kind, response) pairs."""
    barrier = Barrier(len(jobs))

    def run(job: tuple[str, str, str, dict[str, Any]]) -> tuple[str, httpx.Response]:
        kind, method, path, kwargs = job
        with httpx.Client(base_url=base, timeout=HTTP_TIMEOUT * 2) as client:
            client.get("/health/live")  # connect first, so that the barrier releases requests
            barrier.wait(timeout=HTTP_TIMEOUT)
            return kind, client.request(method, path, **kwargs)

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(run, jobs))


def _refreshes(token: str, count: int) -> list[tuple[str, str, str, dict[str, Any]]]:
    return [("refresh", "POST", "/api/token/refresh/", {"json": {"refresh": token}})] * count


def _session_key(pair: dict[str, Any]) -> str:
    """The session's Redis record, by the store's documented key layout."""
    return f"auth:{{u:{claims_of(pair['access'])['sub']}}}:s:{sid_of(pair)}"


def _assert_nothing_survives(http, pair, winners, token_store) -> None:
    """No pair the race handed out still works, and the session's record is gone."""
    assert {sid_of(w) for w in winners} <= {sid_of(pair)}  # a refresh never opens a session
    for token in {pair["refresh"], *(w["refresh"] for w in winners)}:
        again = refresh(http, token)
        assert again.status_code == HTTPStatus.UNAUTHORIZED, again.text
        assert again.json()["code"] in REFUSED
    for token in {pair["access"], *(w["access"] for w in winners)}:
        assert_refused(me(http, token))
    assert token_store.exists(_session_key(pair)) == 0


def test_concurrent_refreshes_of_one_token(server, http):
    """Race: one refresh token sent 20 times at once.
    Expected, grace off: exactly one 200, 19 x 401 (token_reused or invalid_token); the replays
    end the session, so even the winner's tokens are dead.
    Expected, within the grace window: 20 x 200 with the byte-identical successor refresh
    token (one rotation, never twenty live tokens), which then refreshes."""
    pair = login(http, UserFactory().email)

    results = _race(server.base, _refreshes(pair["refresh"], REFRESHES))

    responses = [response for _, response in results]
    statuses = Counter(r.status_code for r in responses)
    if server.grace:
        assert statuses == {HTTPStatus.OK: REFRESHES}
        successors = {r.json()["refresh"] for r in responses}
        assert len(successors) == 1
        assert successors != {pair["refresh"]}
        assert refresh(http, successors.pop()).status_code == HTTPStatus.OK
        return
    assert statuses == {HTTPStatus.OK: 1, HTTPStatus.UNAUTHORIZED: REFRESHES - 1}
    losers = [r.json() for r in responses if r.status_code == HTTPStatus.UNAUTHORIZED]
    assert TOKEN_REUSED in losers
    assert all(body in (TOKEN_REUSED, INVALID_TOKEN) for body in losers)
    (winner,) = [r.json() for r in responses if r.status_code == HTTPStatus.OK]
    assert_refused(refresh(http, winner["refresh"]))
    assert_refused(me(http, winner["access"]))


@pytest.mark.parametrize("logouts", [25, 1], ids=["25-logouts", "1-logout"])
def test_concurrent_logouts_and_refreshes_leave_no_live_successor(
    server, http, token_store, logouts
):
    """Attack: race refreshes against logout to keep a session alive.
    Expected: every logout 204, refreshes 200 or 401, and afterwards every token is 401;
    another user's session is untouched."""
    pair = login(http, UserFactory().email)
    other = login(http, UserFactory().email)
    jobs = [("logout", "POST", "/api/logout/", {"json": {"refresh": pair["refresh"]}})] * logouts
    jobs += _refreshes(pair["refresh"], REQUESTS - logouts)

    results = _race(server.base, jobs)

    statuses = Counter((kind, r.status_code) for kind, r in results)
    assert statuses[("logout", HTTPStatus.NO_CONTENT)] == logouts, statuses
    assert {code for kind, code in statuses if kind == "refresh"} <= {
        HTTPStatus.OK,
        HTTPStatus.UNAUTHORIZED,
    }, statuses
    winners = [
        r.json() for kind, r in results if kind == "refresh" and r.status_code == HTTPStatus.OK
    ]
    _assert_nothing_survives(http, pair, winners, token_store)
    assert me(http, other["access"]).status_code == HTTPStatus.OK


def test_concurrent_logout_all_and_refreshes_leave_no_live_successor(server, http, token_store):
    """Attack: race refreshes against logout-all. Expected: logout-all 204 (or 401 when a
    replay ended the session first), every token afterwards 401, and the user logs in again."""
    user = UserFactory()
    pair = login(http, user.email)
    bearer = {"headers": {"Authorization": f"Bearer {pair['access']}"}}
    jobs = [("logout_all", "POST", "/api/logout/all/", bearer)] * LOGOUT_ALLS
    jobs += _refreshes(pair["refresh"], REQUESTS - LOGOUT_ALLS)

    results = _race(server.base, jobs)

    statuses = Counter((kind, r.status_code) for kind, r in results)
    assert {code for kind, code in statuses if kind == "logout_all"} <= {
        HTTPStatus.NO_CONTENT,
        HTTPStatus.UNAUTHORIZED,
    }, statuses
    winners = [
        r.json() for kind, r in results if kind == "refresh" and r.status_code == HTTPStatus.OK
    ]
    _assert_nothing_survives(http, pair, winners, token_store)
    assert login(http, user.email)["access"]


def test_concurrent_refresh_chains_and_logouts_leave_no_live_successor(server, http, token_store):
    """Attack: refreshers keep refreshing with what they get while logouts land in between.
    Expected: every logout 204; no pair any chain received still works."""
    pair = login(http, UserFactory().email)
    barrier = Barrier(REQUESTS)
    seen: list[dict[str, Any]] = []

    def chain() -> None:
        token = pair["refresh"]
        with httpx.Client(base_url=server.base, timeout=HTTP_TIMEOUT * 2) as client:
            barrier.wait(timeout=HTTP_TIMEOUT)
            for _ in range(CHAIN_LENGTH):
                response = refresh(client, token)
                if response.status_code != HTTPStatus.OK:
                    return
                seen.append(response.json())
                token = response.json()["refresh"]

    def end() -> None:
        with httpx.Client(base_url=server.base, timeout=HTTP_TIMEOUT * 2) as client:
            barrier.wait(timeout=HTTP_TIMEOUT)
            response = client.post("/api/logout/", json={"refresh": pair["refresh"]})
            assert response.status_code == HTTPStatus.NO_CONTENT

    with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
        futures = [pool.submit(chain) for _ in range(REQUESTS - ENDERS)]
        futures += [pool.submit(end) for _ in range(ENDERS)]
        for future in futures:
            future.result()

    _assert_nothing_survives(http, pair, seen, token_store)
