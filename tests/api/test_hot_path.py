"""The hot path (api/hotpath.py) answers as Django would: the same request through the ASGI
application with the hot path on and with it off gets the same status, body and headers.

Attacks and faults included: no token, a token of another scheme, a forged signature, a
token of an ended session, a used refresh token (reuse: the session ends), Redis down."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import httpx
import pytest

from accounts import sessions
from accounts.types import Caller
from tests.factories import UserFactory
from tests.helpers import INVALID_TOKEN, STORE_UNAVAILABLE, TOKEN_FIELDS, TOKEN_REUSED, through_asgi

pytestmark = pytest.mark.django_db(transaction=True)

# Per answer, not per path: the date, and the request id the observability layer makes up.
VARYING = {"date", "x-request-id"}


def _answer(response: httpx.Response, *, tokens: bool = False) -> tuple[Any, ...]:
    headers = {k: v for k, v in response.headers.items() if k not in VARYING}
    body = response.json() if response.content else None
    if tokens and response.status_code == HTTPStatus.OK:
        body = {k: v for k, v in body.items() if k not in {"access", "refresh"}}
        headers.pop("content-length")  # two tokens of two sessions
    return response.status_code, body, headers


def _both(method: str, path: str, **kwargs: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    hot = through_asgi(method, path, hot=True, **kwargs)
    django = through_asgi(method, path, hot=False, **kwargs)
    return _answer(hot), _answer(django)


@pytest.fixture
def pair():
    user = UserFactory()
    return sessions.session_start(user=user, caller=Caller())


def _bearer(value: str) -> dict[str, Any]:
    return {"headers": {"Authorization": value}}


@pytest.mark.parametrize("path", ["/api/me/", "/api/auth/verify"])
def test_a_live_access_token(pair, path):
    hot, django = _both("GET", path, **_bearer(f"Bearer {pair.access}"))

    assert hot == django
    assert hot[0] == HTTPStatus.OK


@pytest.mark.parametrize("path", ["/api/me/", "/api/auth/verify"])
@pytest.mark.parametrize(
    "authorization",
    ["", "Basic dXNlcjpwYXNz", "Bearer ", "Bearer not-a-jwt", "bearer{forged}", "Bearer {forged}"],
)
def test_no_or_a_bad_bearer_token_is_the_same_401(pair, path, authorization):
    """Attack: no token, another scheme, garbage, a forged signature (scheme in any case).
    Expected: 401 invalid_token with the Bearer challenge, from both paths."""
    forged = pair.access[:-4] + ("AAAA" if not pair.access.endswith("AAAA") else "BBBB")
    kwargs = _bearer(authorization.format(forged=" " + forged)) if authorization else {}

    hot, django = _both("GET", path, **kwargs)

    assert hot == django
    assert (hot[0], hot[1]) == (HTTPStatus.UNAUTHORIZED, INVALID_TOKEN)
    assert hot[2]["www-authenticate"] == 'Bearer error="invalid_token"'


def test_a_token_of_an_ended_session_is_the_same_401(pair):
    user = sessions.access_authenticate(pair.access).user
    sessions.sessions_end_all(user=user, kind="logout_all")

    hot, django = _both("GET", "/api/me/", **_bearer(f"Bearer {pair.access}"))

    assert hot == django
    assert (hot[0], hot[1]) == (HTTPStatus.UNAUTHORIZED, INVALID_TOKEN)


def test_a_refresh_rotates_alike():
    """Two sessions of one user, one refreshed through each path: the same answer but the
    tokens (each its session's)."""
    user = UserFactory()
    first, second = (sessions.session_start(user=user, caller=Caller()) for _ in range(2))

    hot = through_asgi("POST", "/api/token/refresh/", hot=True, json={"refresh": first.refresh})
    django = through_asgi(
        "POST", "/api/token/refresh/", hot=False, json={"refresh": second.refresh}
    )

    assert _answer(hot, tokens=True) == _answer(django, tokens=True)
    assert hot.status_code == HTTPStatus.OK
    assert set(hot.json()) == TOKEN_FIELDS
    assert hot.headers["cache-control"] == "no-store"


def test_a_reused_refresh_token_ends_the_session_alike(settings):
    """Attack: a refresh token replayed after its successor was issued (grace off).
    Expected: 401 token_reused from both paths, and the session is over."""
    settings.REFRESH_REUSE_GRACE = settings.REFRESH_REUSE_GRACE * 0
    user = UserFactory()
    answers = []
    for hot in (True, False):
        pair = sessions.session_start(user=user, caller=Caller())
        body = {"refresh": pair.refresh}
        successor = through_asgi("POST", "/api/token/refresh/", hot=hot, json=body).json()
        answers.append(_answer(through_asgi("POST", "/api/token/refresh/", hot=hot, json=body)))
        after = through_asgi(
            "POST", "/api/token/refresh/", hot=hot, json={"refresh": successor["refresh"]}
        )
        assert after.status_code == HTTPStatus.UNAUTHORIZED

    assert answers[0] == answers[1]
    assert (answers[0][0], answers[0][1]) == (HTTPStatus.UNAUTHORIZED, TOKEN_REUSED)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"json": {"refresh": "rt1_AAAA"}},
        {"json": {"refresh": ""}},
        {"json": {}},
        {"content": b"{not json", "headers": {"Content-Type": "application/json"}},
        {"content": b"refresh=x", "headers": {"Content-Type": "text/plain"}},
    ],
    ids=["unknown", "empty", "missing", "malformed", "not-json"],
)
def test_a_bad_refresh_request_is_answered_alike(kwargs):
    hot, django = _both("POST", "/api/token/refresh/", **kwargs)

    assert hot == django
    assert hot[0] in {HTTPStatus.BAD_REQUEST, HTTPStatus.UNAUTHORIZED, 415}


def test_redis_down_is_the_same_503(pair, settings):
    """Fault: the token store's port is closed. Expected: 503 with Retry-After from both
    paths, never a 200 (fail closed)."""
    settings.TOKEN_STORE_URL = "redis://127.0.0.1:9/0"

    hot, django = _both("GET", "/api/me/", **_bearer(f"Bearer {pair.access}"))

    assert hot == django
    assert (hot[0], hot[1]) == (HTTPStatus.SERVICE_UNAVAILABLE, STORE_UNAVAILABLE)
    assert "retry-after" in hot[2]
