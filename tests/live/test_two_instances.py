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
from tests.helpers import TOKEN_REUSED
from tests.live.calls import (
    HTTP_TIMEOUT,
    assert_refused,
    login,
    me,
    refresh,
    signed_up,
    unique_email,
)
from tests.servers import uvicorn_server

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CONCURRENCY = 20
INSTANCES = 2


@pytest.fixture(scope="module")
def bases(server_env) -> Iterator[list[str]]:
    """Two instances with one key set, started once; replays are detected at once (no grace)."""
    jwk = generate_jwk("ES256")
    env = {
        **server_env,
        "JWT_KEYS": json.dumps({"signing_kid": jwk["kid"], "keys": [jwk]}),
        "REFRESH_REUSE_GRACE": "0",
    }
    with ExitStack() as stack:
        yield [stack.enter_context(uvicorn_server(env)) for _ in range(INSTANCES)]


@pytest.fixture
def instances(bases) -> Iterator[tuple[httpx.Client, ...]]:
    with ExitStack() as stack:
        yield tuple(
            stack.enter_context(httpx.Client(base_url=b, timeout=HTTP_TIMEOUT)) for b in bases
        )


def test_tokens_issued_by_one_instance_work_on_the_other(instances):
    a, b = instances
    email = unique_email("two")
    pair = signed_up(a, email)

    response = me(b, pair["access"])
    assert response.status_code == HTTPStatus.OK, response.text
    assert response.json()["email"] == email
    rotated = refresh(b, pair["refresh"])
    assert rotated.status_code == HTTPStatus.OK, rotated.text
    assert me(a, rotated.json()["access"]).status_code == HTTPStatus.OK
    assert a.get("/.well-known/jwks.json").json() == b.get("/.well-known/jwks.json").json()


def test_a_session_ended_by_reuse_detection_on_one_is_dead_on_the_other(instances):
    """Attack: replay a used refresh token on one instance. Expected: 401 TOKEN_REUSED there,
    and the successor pair is 401 invalid_token on the other instance."""
    a, b = instances
    first = signed_up(a, unique_email("reuse"))
    rotated = refresh(a, first["refresh"])
    assert rotated.status_code == HTTPStatus.OK, rotated.text
    second = rotated.json()

    assert_refused(refresh(a, first["refresh"]), TOKEN_REUSED)

    assert_refused(me(b, second["access"]))
    assert_refused(refresh(b, second["refresh"]))


def test_a_session_logged_out_on_one_is_dead_on_the_other(instances):
    a, b = instances
    email = unique_email("logout")
    pair = signed_up(b, email)
    other = login(b, email)

    response = a.post("/api/logout/", json={"refresh": pair["refresh"]})
    assert response.status_code == HTTPStatus.NO_CONTENT, response.text

    assert_refused(me(b, pair["access"]))
    assert_refused(refresh(b, pair["refresh"]))
    assert me(b, other["access"]).status_code == HTTPStatus.OK  # only that session ended


def _refresh_at_once(bases: list[str], token: str) -> list[httpx.Response]:
    """CONCURRENCY refreshes of one token, alternating between the instances, released together."""
    barrier = threading.Barrier(CONCURRENCY)

    def one(i: int) -> httpx.Response:
        with httpx.Client(base_url=bases[i % len(bases)], timeout=HTTP_TIMEOUT) as http:
            http.get("/health/live")  # connect first, so that the barrier releases requests
            barrier.wait(timeout=HTTP_TIMEOUT)
            return refresh(http, token)

    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        return list(pool.map(one, range(CONCURRENCY)))


def test_concurrent_refreshes_split_across_instances_have_one_winner(bases, instances):
    """Race: one refresh token sent 20 times at once, half to each instance (no grace).
    Expected: one 200, 19 x 401 token_reused or invalid_token; the winner's access token is
    dead on both instances."""
    pair = signed_up(instances[0], unique_email("race"))

    responses = _refresh_at_once(bases, pair["refresh"])

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {HTTPStatus.OK: 1, HTTPStatus.UNAUTHORIZED: CONCURRENCY - 1}
    codes = {r.json()["code"] for r in responses if r.status_code != HTTPStatus.OK}
    # A loser is a replay and ends the session; those after it find no session.
    assert "token_reused" in codes
    assert codes <= {"token_reused", "invalid_token"}
    winner = next(r.json() for r in responses if r.status_code == HTTPStatus.OK)
    for http in instances:
        assert_refused(me(http, winner["access"]))
