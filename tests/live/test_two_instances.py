"""Two instances of the service behind one PostgreSQL and one Redis, as replicas scale out.

Each instance is its own uvicorn process, started with the same key set (JWT_KEYS), the way
every replica is configured in production. Token state lives in Redis only, so what one
instance issues or ends holds on the other at once.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from http import HTTPStatus

import httpx
import pytest

from accounts.keys import generate_jwk
from tests.live import uvicorn_server

pytestmark = pytest.mark.slow

CONCURRENCY = 20


@pytest.fixture
def instances(live_env) -> Iterator[tuple[httpx.Client, ...]]:
    """Clients of two instances, with one key set; replays are detected at once (no grace)."""
    jwk = generate_jwk("ES256")
    env = {
        **live_env,
        "JWT_KEYS": json.dumps({"signing_kid": jwk["kid"], "keys": [jwk]}),
        "REFRESH_REUSE_GRACE": "0",
    }
    with ExitStack() as stack:
        bases = [stack.enter_context(uvicorn_server(env)) for _ in range(2)]
        yield tuple(stack.enter_context(httpx.Client(base_url=b, timeout=30)) for b in bases)


def _signed_up(http: httpx.Client, email: str, password: str) -> dict:
    created = http.post("/api/register/", json={"email": email, "password": password})
    assert created.status_code == HTTPStatus.CREATED, created.text
    return _login(http, email, password)


def _login(http: httpx.Client, email: str, password: str) -> dict:
    response = http.post("/api/token/", json={"email": email, "password": password})
    assert response.status_code == HTTPStatus.OK, response.text
    return response.json()


def _me(http: httpx.Client, access: str) -> httpx.Response:
    return http.get("/api/me/", headers={"Authorization": f"Bearer {access}"})


def _refresh(http: httpx.Client, token: str) -> httpx.Response:
    return http.post("/api/token/refresh/", json={"refresh": token})


def _assert_refused(response: httpx.Response, code: str = "invalid_token") -> None:
    assert response.status_code == HTTPStatus.UNAUTHORIZED, response.text
    assert response.json()["code"] == code


def test_tokens_issued_by_one_instance_work_on_the_other(instances, password):
    a, b = instances
    pair = _signed_up(a, "two@example.com", password)

    me = _me(b, pair["access"])
    assert me.status_code == HTTPStatus.OK, me.text
    assert me.json()["email"] == "two@example.com"
    rotated = _refresh(b, pair["refresh"])
    assert rotated.status_code == HTTPStatus.OK, rotated.text
    assert _me(a, rotated.json()["access"]).status_code == HTTPStatus.OK
    assert a.get("/.well-known/jwks.json").json() == b.get("/.well-known/jwks.json").json()


def test_a_session_ended_by_reuse_detection_on_one_is_dead_on_the_other(instances, password):
    a, b = instances
    first = _signed_up(a, "reuse@example.com", password)
    rotated = _refresh(a, first["refresh"])
    assert rotated.status_code == HTTPStatus.OK, rotated.text
    second = rotated.json()

    _assert_refused(_refresh(a, first["refresh"]), "token_reused")

    _assert_refused(_me(b, second["access"]))
    _assert_refused(_refresh(b, second["refresh"]))


def test_a_session_logged_out_on_one_is_dead_on_the_other(instances, password):
    a, b = instances
    pair = _signed_up(b, "logout@example.com", password)
    other = _login(b, "logout@example.com", password)

    logout = a.post("/api/logout/", json={"refresh": pair["refresh"]})
    assert logout.status_code == HTTPStatus.NO_CONTENT, logout.text

    _assert_refused(_me(b, pair["access"]))
    _assert_refused(_refresh(b, pair["refresh"]))
    assert _me(b, other["access"]).status_code == HTTPStatus.OK  # only that session ended


def _refresh_at_once(clients: tuple[httpx.Client, ...], token: str) -> list[httpx.Response]:
    """CONCURRENCY refreshes of one token, alternating between the instances, released together."""
    barrier = threading.Barrier(CONCURRENCY)

    def one(i: int) -> httpx.Response:
        base = clients[i % len(clients)].base_url
        with httpx.Client(base_url=base, timeout=30) as http:
            http.get("/health/live")  # connect first, so that the barrier releases requests
            barrier.wait(timeout=30)
            return _refresh(http, token)

    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        return list(pool.map(one, range(CONCURRENCY)))


def test_concurrent_refreshes_split_across_instances_have_one_winner(instances, password):
    pair = _signed_up(instances[0], "race@example.com", password)

    responses = _refresh_at_once(instances, pair["refresh"])

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {HTTPStatus.OK: 1, HTTPStatus.UNAUTHORIZED: CONCURRENCY - 1}
    codes = {r.json()["code"] for r in responses if r.status_code != HTTPStatus.OK}
    # A loser is a replay and ends the session; those after it find no session.
    assert "token_reused" in codes
    assert codes <= {"token_reused", "invalid_token"}
    winner = next(r.json() for r in responses if r.status_code == HTTPStatus.OK)
    for http in instances:
        _assert_refused(_me(http, winner["access"]))
