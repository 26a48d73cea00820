"""Bad requests get 4xx in the common shape, never 500; a dependency down gets 503, made for real.

Redis is stopped for real (a throw-away redis-server the test starts and kills) and PostgreSQL
is "down" as a closed port: the service runs under uvicorn in both cases.
"""

from __future__ import annotations

import json
import time
from http import HTTPStatus

import httpx
import pytest

from accounts import sessions
from accounts.types import Caller as Client
from accounts.models import AuditEvent, User
from tests.factories import PASSWORD, UserFactory
from tests.live import free_port, redis_server, uvicorn_server

STORE_DOWN = {
    "detail": "Token service temporarily unavailable; retry shortly.",
    "code": "token_store_unavailable",
}
DATABASE_DOWN = {
    "detail": "Service temporarily unavailable; retry shortly.",
    "code": "database_unavailable",
}
TOO_LARGE = {"detail": "Request body too large.", "code": "payload_too_large"}
NOT_JSON = {"detail": "Send the body as application/json.", "code": "unsupported_media_type"}
UNPARSABLE = {"detail": "Cannot parse request body", "code": "bad_request"}


def _invalid_request(*errors: tuple[str, str]) -> dict:
    return {
        "detail": "Invalid request.",
        "code": "invalid_request",
        "errors": [{"field": field, "message": message} for field, message in errors],
    }


NOT_A_STRING = "Input should be a valid string"
BIG = json.dumps({"email": "a" * 70_000 + "@example.com", "password": PASSWORD})

BAD_REQUESTS = [
    pytest.param(
        "/api/register/", "{not json", "application/json", 400, UNPARSABLE, id="malformed-json"
    ),
    pytest.param(
        "/api/token/",
        '{"email": "a@example.com",',
        "application/json",
        400,
        UNPARSABLE,
        id="truncated-json",
    ),
    pytest.param(
        "/api/register/",
        json.dumps({"email": 123, "password": None}),
        "application/json",
        400,
        _invalid_request(("email", NOT_A_STRING), ("password", NOT_A_STRING)),
        id="wrong-types",
    ),
    pytest.param(
        "/api/token/",
        json.dumps({"email": ["a@example.com"], "password": 12345678}),
        "application/json",
        400,
        _invalid_request(("email", NOT_A_STRING), ("password", NOT_A_STRING)),
        id="login-wrong-types",
    ),
    pytest.param(
        "/api/token/refresh/",
        json.dumps({"refresh": 123}),
        "application/json",
        400,
        _invalid_request(("refresh", NOT_A_STRING)),
        id="refresh-wrong-type",
    ),
    pytest.param(
        "/api/token/",
        json.dumps({"email": "a@example.com"}),
        "application/json",
        400,
        _invalid_request(("password", "Field required")),
        id="missing-field",
    ),
    pytest.param(
        "/api/register/",
        "[]",
        "application/json",
        400,
        _invalid_request(
            ("body", "Input should be a valid dictionary or object to extract fields from")
        ),
        id="array-body",
    ),
    pytest.param("/api/register/", BIG, "application/json", 413, TOO_LARGE, id="over-64-kib"),
    pytest.param(
        "/api/token/refresh/", BIG, "application/json", 413, TOO_LARGE, id="refresh-over-64-kib"
    ),
    pytest.param(
        "/api/register/",
        json.dumps({"email": "a@example.com", "password": PASSWORD}),
        "text/plain",
        415,
        NOT_JSON,
        id="text-plain",
    ),
    pytest.param(
        "/api/token/",
        "email=a%40example.com&password=x",
        "application/x-www-form-urlencoded",
        415,
        NOT_JSON,
        id="form-encoded",
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "body", "content_type", "status", "expected"), BAD_REQUESTS)
def test_bad_request_gets_4xx_in_the_common_shape(api, path, body, content_type, status, expected):
    response = api.post(path, body, content_type=content_type)

    assert response.status_code == status
    assert response.json() == expected
    assert not User.objects.exists()


@pytest.mark.parametrize(
    ("method", "path", "status", "expected"),
    [
        (
            "get",
            "/api/register/",
            405,
            {"detail": "Method not allowed.", "code": "method_not_allowed"},
        ),
        (
            "put",
            "/api/token/refresh/",
            405,
            {"detail": "Method not allowed.", "code": "method_not_allowed"},
        ),
        ("get", "/api/no-such-endpoint/", 404, {"detail": "Not found.", "code": "not_found"}),
        ("get", "/no-such-page", 404, {"detail": "Not found.", "code": "not_found"}),
    ],
)
def test_wrong_method_or_path_gets_the_common_shape(api, method, path, status, expected):
    response = getattr(api, method)(path)

    assert response.status_code == status
    assert response.json() == expected


@pytest.mark.slow
def test_chunked_bodies_get_the_same_limits_over_real_http(live_server_url):
    """A body sent chunked has no Content-Length: the size and type limits must still hold."""

    def chunked(data: bytes):
        yield from (data[i : i + 8192] for i in range(0, len(data), 8192))

    with httpx.Client(base_url=live_server_url, timeout=20) as http:
        big = http.post(
            "/api/register/",
            content=chunked(BIG.encode()),
            headers={"Content-Type": "application/json"},
        )
        small = json.dumps({"email": "a@example.com", "password": PASSWORD}).encode()
        plain = http.post(
            "/api/register/", content=chunked(small), headers={"Content-Type": "text/plain"}
        )

    assert (big.status_code, big.json()) == (HTTPStatus.REQUEST_ENTITY_TOO_LARGE, TOO_LARGE)
    assert (plain.status_code, plain.json()) == (HTTPStatus.UNSUPPORTED_MEDIA_TYPE, NOT_JSON)


def _assert_store_down(response: httpx.Response) -> None:
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json() == STORE_DOWN
    assert response.headers["Retry-After"] == "5"


@pytest.mark.slow
def test_redis_down_gives_503_with_retry_after_and_issues_nothing(live_env):
    """Fault: Redis killed under a running service. Expected: login, refresh and /api/me/ answer
    503 token_store_unavailable with Retry-After; no token is issued, no login recorded."""
    with (
        redis_server() as (redis_url, redis),
        uvicorn_server({**live_env, "REDIS_URL": redis_url}) as base,
        httpx.Client(base_url=base, timeout=20) as http,
    ):
        body = {"email": "ada@example.com", "password": PASSWORD}
        assert http.post("/api/register/", json=body).status_code == HTTPStatus.CREATED
        pair = http.post("/api/token/", json=body).json()
        user = User.objects.get(email="ada@example.com")
        logins = AuditEvent.objects.filter(kind="login_ok").count()

        redis.kill()
        redis.wait()

        login = http.post("/api/token/", json=body)
        _assert_store_down(login)
        assert "access" not in login.text
        _assert_store_down(http.post("/api/token/refresh/", json={"refresh": pair["refresh"]}))
        _assert_store_down(
            http.get("/api/me/", headers={"Authorization": f"Bearer {pair['access']}"})
        )
        ready = http.get("/health/ready")
        assert ready.status_code == HTTPStatus.SERVICE_UNAVAILABLE
        assert ready.json() == {
            "status": "unavailable",
            "checks": {"database": "ok", "token_store": "down"},
        }
        assert ready.headers["Retry-After"] == "5"
        assert http.get("/health/live").status_code == HTTPStatus.OK
        # Registration counts attempts in Redis (throttling): it fails closed, never 500.
        late = http.post("/api/register/", json={**body, "email": "late@example.com"})
        assert late.status_code in {HTTPStatus.CREATED, HTTPStatus.SERVICE_UNAVAILABLE}

    assert User.objects.get(pk=user.pk).last_login == user.last_login
    assert AuditEvent.objects.filter(kind="login_ok").count() == logins


@pytest.mark.slow
def test_postgresql_down_gives_503_quickly_without_leaking_details(live_env):
    """Fault: PostgreSQL unreachable (a closed port). Expected: 503 database_unavailable within
    seconds (not a 30 s hang), with no traceback, host, port or driver name in the body."""
    port = free_port()
    env = {
        **live_env,
        "DATABASE_URL": f"postgres://postgres:s3cret@127.0.0.1:{port}/auth",
        "DB_CONNECT_TIMEOUT": "1",
    }
    # A live session in the shared Redis, so that /api/me/ gets past the token check.
    pair = sessions.session_start(user=UserFactory.build(), caller=Client())
    with uvicorn_server(env) as base, httpx.Client(base_url=base, timeout=30) as http:
        credentials = {"email": "ada@example.com", "password": PASSWORD}
        calls = {
            "register": lambda: http.post("/api/register/", json=credentials),
            "login": lambda: http.post("/api/token/", json=credentials),
            "me": lambda: http.get("/api/me/", headers={"Authorization": f"Bearer {pair.access}"}),
            "ready": lambda: http.get("/health/ready"),
        }
        for name, call in calls.items():
            started = time.monotonic()
            response = call()
            elapsed = time.monotonic() - started

            assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE, name
            assert elapsed < 10, (name, elapsed)
            assert response.headers["Retry-After"] == "5"
            for secret in ("127.0.0.1", str(port), "postgres", "s3cret", "Traceback", "psycopg"):
                assert secret not in response.text, (name, secret)
            if name == "ready":
                assert response.json() == {
                    "status": "unavailable",
                    "checks": {"database": "down", "token_store": "ok"},
                }
            else:
                assert response.json() == DATABASE_DOWN, name
