"""Concurrent logouts and refreshes of one session, over real HTTP, never leave a live successor.

Fifty requests start together (a barrier) against uvicorn with two worker processes. Whatever
order they land in, once they are done no refresh token any of them received still refreshes, and
no access token any of them received still opens /api/me/.
"""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from threading import Barrier

import httpx
import pytest

from accounts.token_store import SESSION_PREFIX
from tests.factories import UserFactory
from tests.lifecycle import claims
from tests.live import uvicorn_server

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REQUESTS = 50


@pytest.fixture(scope="module", params=["10", "0"], ids=["grace-10s", "grace-off"])
def server(request, django_db_setup):
    """uvicorn on the test database and Redis, started once per grace setting."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    env = {
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "REFRESH_REUSE_GRACE": request.param,
    }
    with uvicorn_server(env, workers=2) as base:
        yield base


def _login(base, user, password):
    response = httpx.post(
        f"{base}/api/token/", json={"email": user.email, "password": password}, timeout=30
    )
    assert response.status_code == HTTPStatus.OK, response.text
    return response.json()


def _race(base, jobs):
    """Run every (kind, request) job at the same instant; returns (kind, response) pairs."""
    barrier = Barrier(len(jobs))

    def run(job):
        kind, method, path, kwargs = job
        with httpx.Client(base_url=base, timeout=60) as http:
            barrier.wait()
            return kind, http.request(method, path, **kwargs)

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(run, jobs))


def _assert_nothing_survives(base, pair, results, token_store):
    winners = [r.json() for kind, r in results if kind == "refresh" and r.status_code == 200]
    refresh_tokens = {pair["refresh"], *(w["refresh"] for w in winners)}
    access_tokens = {pair["access"], *(w["access"] for w in winners)}
    assert {claims(t)["sid"] for t in refresh_tokens} == {claims(pair["refresh"])["sid"]}
    with httpx.Client(base_url=base, timeout=30) as http:
        for token in refresh_tokens:
            again = http.post("/api/token/refresh/", json={"refresh": token})
            assert again.status_code == HTTPStatus.UNAUTHORIZED, again.text
            assert again.json()["code"] in {"invalid_token", "token_reused"}
        for token in access_tokens:
            me = http.get("/api/me/", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == HTTPStatus.UNAUTHORIZED, me.text
            assert me.json() == {"detail": "Token is invalid or expired.", "code": "invalid_token"}
    assert token_store.exists(SESSION_PREFIX + claims(pair["refresh"])["sid"]) == 0


@pytest.mark.parametrize("logouts", [25, 1], ids=["25-logouts", "1-logout"])
def test_concurrent_logouts_and_refreshes_leave_no_live_successor(
    server, password, token_store, logouts
):
    """Attack: race refreshes against logout to keep a session alive -> every token is 401."""
    user = UserFactory()
    bystander = UserFactory()
    pair = _login(server, user, password)
    other = _login(server, bystander, password)
    body = {"json": {"refresh": pair["refresh"]}}
    jobs = [("logout", "POST", "/api/logout/", body)] * logouts
    jobs += [("refresh", "POST", "/api/token/refresh/", body)] * (REQUESTS - logouts)

    results = _race(server, jobs)

    statuses = Counter((kind, r.status_code) for kind, r in results)
    assert statuses[("logout", 204)] == logouts, statuses
    assert {code for kind, code in statuses if kind == "refresh"} <= {200, 401}, statuses
    _assert_nothing_survives(server, pair, results, token_store)
    me = httpx.get(f"{server}/api/me/", headers={"Authorization": f"Bearer {other['access']}"})
    assert me.status_code == HTTPStatus.OK


def test_concurrent_logout_all_and_refreshes_leave_no_live_successor(server, password, token_store):
    user = UserFactory()
    pair = _login(server, user, password)
    bearer = {"headers": {"Authorization": f"Bearer {pair['access']}"}}
    body = {"json": {"refresh": pair["refresh"]}}
    jobs = [("logout_all", "POST", "/api/logout/all/", bearer)] * 10
    jobs += [("refresh", "POST", "/api/token/refresh/", body)] * (REQUESTS - 10)

    results = _race(server, jobs)

    statuses = Counter((kind, r.status_code) for kind, r in results)
    # Without a grace window a refresh may detect reuse first: then the bearer is already dead.
    assert {code for kind, code in statuses if kind == "logout_all"} <= {204, 401}, statuses
    _assert_nothing_survives(server, pair, results, token_store)
    assert _login(server, user, password)["access"]


def test_concurrent_refresh_chains_and_logouts_leave_no_live_successor(
    server, password, token_store
):
    """Refreshers keep refreshing with what they get while logouts land in between."""
    user = UserFactory()
    pair = _login(server, user, password)
    barrier = Barrier(REQUESTS)
    seen: list[dict] = []

    def chain():
        token = pair["refresh"]
        with httpx.Client(base_url=server, timeout=60) as http:
            barrier.wait()
            for _ in range(5):
                response = http.post("/api/token/refresh/", json={"refresh": token})
                if response.status_code != HTTPStatus.OK:
                    return
                seen.append(response.json())
                token = response.json()["refresh"]

    def end():
        with httpx.Client(base_url=server, timeout=60) as http:
            barrier.wait()
            assert http.post("/api/logout/", json={"refresh": pair["refresh"]}).status_code == 204

    with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
        futures = [pool.submit(chain) for _ in range(REQUESTS - 10)]
        futures += [pool.submit(end) for _ in range(10)]
        for future in futures:
            future.result()

    results = [("refresh", _Fake(body)) for body in seen]
    _assert_nothing_survives(server, pair, results, token_store)


class _Fake:
    """A stand-in response for a pair a chain received."""

    status_code = 200

    def __init__(self, body: dict) -> None:
        self._body = body

    def json(self) -> dict:
        return self._body
