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
from accounts.models import AuditEvent, User
from accounts.types import Caller
from tests.factories import PASSWORD, UserFactory
from tests.live.calls import HTTP_TIMEOUT, RETRY_AFTER, assert_store_down, unique_email
from tests.servers import free_port, redis_server, uvicorn_server

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
    # GET /api/register/ (405) and an unknown page (404): tests/test_api_edges.py.
    [
        (
            "put",
            "/api/token/refresh/",
            405,
            {"detail": "Method not allowed.", "code": "method_not_allowed"},
        ),
        ("get", "/api/no-such-endpoint/", 404, {"detail": "Not found.", "code": "not_found"}),
    ],
)
def test_wrong_method_or_path_gets_the_common_shape(api, method, path, status, expected):
    response = getattr(api, method)(path)

    assert response.status_code == status
    assert response.json() == expected


CONNECT_TIMEOUT = "1"
QUICKLY = 10  # seconds: a dependency down is answered at once, not after a long hang


@pytest.fixture(scope="module")
def store_down(server_env):
    """A server on a throw-away Redis, and that Redis's process (kill it to make the fault)."""
    with (
        redis_server() as (redis_url, redis),
        uvicorn_server({**server_env, "REDIS_URL": redis_url}) as base,
    ):
        yield base, redis


@pytest.mark.slow
def test_redis_down_gives_503_with_retry_after_and_issues_nothing(store_down, transactional_db):
    """Fault: Redis killed under a running service. Expected: login, refresh, /api/me/ and
    forward auth answer 503 STORE_UNAVAILABLE with Retry-After; /health/ready 503 naming the
    token store; no token is issued, no login recorded; registration (throttled in Redis)
    never answers 500."""
    base, redis = store_down
    with httpx.Client(base_url=base, timeout=HTTP_TIMEOUT) as http:
        body = {"email": unique_email(), "password": PASSWORD}
        assert http.post("/api/register/", json=body).status_code == HTTPStatus.CREATED
        pair = http.post("/api/token/", json=body).json()
        user = User.objects.get(email=body["email"])
        logins = AuditEvent.objects.filter(kind="login_ok").count()

        redis.kill()
        redis.wait()

        login = http.post("/api/token/", json=body)
        assert_store_down(login)
        assert "access" not in login.text
        assert_store_down(http.post("/api/token/refresh/", json={"refresh": pair["refresh"]}))
        assert_store_down(
            http.get("/api/me/", headers={"Authorization": f"Bearer {pair['access']}"})
        )
        # Forward auth fails closed too: a gateway gets 503, never a 200 to let a request by.
        verify = http.get("/api/auth/verify", headers={"Authorization": f"Bearer {pair['access']}"})
        assert_store_down(verify)
        assert "X-Auth-User-Id" not in verify.headers
        ready = http.get("/health/ready")
        assert ready.status_code == HTTPStatus.SERVICE_UNAVAILABLE
        assert ready.json() == {
            "status": "unavailable",
            "checks": {"database": "ok", "token_store": "down", "signing_keys": "ok"},
        }
        assert ready.headers["Retry-After"] == RETRY_AFTER
        assert http.get("/health/live").status_code == HTTPStatus.OK
        late = http.post("/api/register/", json={**body, "email": unique_email("late")})
        assert late.status_code in {HTTPStatus.CREATED, HTTPStatus.SERVICE_UNAVAILABLE}

    assert User.objects.get(pk=user.pk).last_login == user.last_login
    assert AuditEvent.objects.filter(kind="login_ok").count() == logins


@pytest.fixture(scope="module")
def database_down(server_env):
    """A server whose PostgreSQL is a closed port; its base URL and that port."""
    port = free_port()
    env = {
        **server_env,
        "DATABASE_URL": f"postgres://postgres:s3cret@127.0.0.1:{port}/auth",
        "DB_CONNECT_TIMEOUT": CONNECT_TIMEOUT,
    }
    with uvicorn_server(env) as base:
        yield base, port


@pytest.mark.slow
def test_postgresql_down_gives_503_quickly_without_leaking_details(database_down, db):
    """Fault: PostgreSQL unreachable (a closed port). Expected: 503 database_unavailable with
    Retry-After within seconds (not a 30 s hang), with no traceback, host, port, user, password
    or driver name in the body; /health/ready names the database."""
    base, port = database_down
    # A live session in the shared Redis, so that /api/me/ gets past the token check.
    pair = sessions.session_start(user=UserFactory.build(), caller=Caller())
    credentials = {"email": unique_email(), "password": PASSWORD}
    with httpx.Client(base_url=base, timeout=HTTP_TIMEOUT) as http:
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
            assert elapsed < QUICKLY, (name, elapsed)
            assert response.headers["Retry-After"] == RETRY_AFTER
            for secret in ("127.0.0.1", str(port), "postgres", "s3cret", "Traceback", "psycopg"):
                assert secret not in response.text, (name, secret)
            if name == "ready":
                assert response.json() == {
                    "status": "unavailable",
                    "checks": {"database": "down", "token_store": "ok", "signing_keys": "ok"},
                }
            else:
                assert response.json() == DATABASE_DOWN, name
