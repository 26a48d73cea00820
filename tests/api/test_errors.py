"""Every error in the common shape `{"detail", "code"}`: the ones Django and Ninja would build
on their own (404, 405, slash redirects, 413, 415), the bearer challenge, and the mapping of
every domain error class to a status (an unmapped one is a bug, answered 500)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import timedelta
from http import HTTPStatus

import pytest

from accounts import exceptions as domain
from accounts import services
from api.api import status_of
from tests.helpers import (
    CHALLENGE,
    STORE_UNAVAILABLE,
    TOKEN_REUSED,
    assert_alive,
    assert_unauthorized,
    logout,
    me,
    post_json,
    refresh,
)
from tests.helpers import login as login_request

pytestmark = pytest.mark.django_db

JSON = "application/json"
TOO_BIG = 64 * 1024 + 1  # one byte over DATA_UPLOAD_MAX_MEMORY_SIZE
INTERNAL_ERROR = {"detail": "Internal server error.", "code": "internal_error"}
TEN_KB = 10 * 1024
REFRESH_MAX = 2048


def _subclasses(cls: type) -> list[type]:
    return [c for sub in cls.__subclasses__() for c in (sub, *_subclasses(sub))]


@pytest.mark.parametrize(
    ("request_", "status", "body"),
    [
        pytest.param(
            lambda api: api.get("/nowhere/"),
            HTTPStatus.NOT_FOUND,
            {"detail": "Not found.", "code": "not_found"},
            id="unknown-path",
        ),
        pytest.param(
            lambda api: api.get("/api/register/"),
            HTTPStatus.METHOD_NOT_ALLOWED,
            {"detail": "Method not allowed.", "code": "method_not_allowed"},
            id="wrong-method",
        ),
        pytest.param(
            lambda api: api.post("/api/register", {"email": "a@b.co"}, content_type=JSON),
            HTTPStatus.NOT_FOUND,
            {"detail": "Not found. Did you mean /api/register/ ?", "code": "not_found"},
            id="post-without-trailing-slash",
        ),
        pytest.param(
            lambda api: api.post("/api/token/", "email=a@b.co", content_type="text/plain"),
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            {"detail": "Send the body as application/json.", "code": "unsupported_media_type"},
            id="not-json",
        ),
        pytest.param(
            lambda api: api.post("/api/token/", "{}", content_type=JSON, CONTENT_LENGTH=TOO_BIG),
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            {"detail": "Request body too large.", "code": "payload_too_large"},
            id="content-length-too-big",
        ),
        pytest.param(
            lambda api: api.post("/api/token/", "{}", content_type=JSON, CONTENT_LENGTH="many"),
            HTTPStatus.BAD_REQUEST,
            {"detail": "Invalid Content-Length.", "code": "bad_request"},
            id="content-length-not-a-number",
        ),
        pytest.param(
            lambda api: api.post("/api/token/", "{not json", content_type=JSON),
            HTTPStatus.BAD_REQUEST,
            None,
            id="malformed-json",
        ),
    ],
)
def test_edge_errors_are_answered_in_the_common_shape(api, request_, status, body):
    response = request_(api)

    assert response.status_code == status
    assert response["Content-Type"].startswith(JSON)
    if body is None:
        assert {"detail", "code"} <= set(response.json())
    else:
        assert response.json() == body


def test_a_wrong_method_names_the_allowed_one(api):
    assert api.get("/api/register/")["Allow"] == "POST"


def test_the_bearer_challenge_comes_with_invalid_token_and_token_reused_only(
    api, user, login, password, settings
):
    """RFC 6750: `WWW-Authenticate` answers a bad token, never a wrong password."""
    settings.REFRESH_REUSE_GRACE = timedelta(0)
    pair = login(user)
    refresh(api, pair["refresh"])

    missing = api.get("/api/me/")
    reused = refresh(api, pair["refresh"])
    wrong_password = login_request(api, user.email, "not the password")

    assert (missing.status_code, missing["WWW-Authenticate"]) == (
        HTTPStatus.UNAUTHORIZED,
        CHALLENGE,
    )
    assert reused.json() == TOKEN_REUSED
    assert reused["WWW-Authenticate"] == CHALLENGE
    assert wrong_password.status_code == HTTPStatus.UNAUTHORIZED
    assert "WWW-Authenticate" not in wrong_password
    assert "WWW-Authenticate" not in me(api, login(user)["access"])


def test_every_domain_error_class_has_a_status():
    """A class with no status would be answered 500: there must be none."""
    classes = [c for c in _subclasses(domain.AccountsError) if c.__module__ == domain.__name__]

    assert len(classes) >= len(domain.Unavailable.__subclasses__()) + 1
    assert [c.__name__ for c in classes if status_of(c) is None] == []


def test_an_unmapped_domain_error_is_answered_500_without_a_traceback(api, monkeypatch, caplog):
    class Unmapped(domain.AccountsError):
        """An error class nobody gave a status."""

        code = "unmapped"

    def register(**kwargs):
        raise Unmapped("a detail the client must not see")

    monkeypatch.setattr(services, "user_register", register)
    caplog.set_level(logging.ERROR)

    response = post_json(api, "/api/register/", {"email": "a@example.com", "password": "x"})

    assert status_of(Unmapped) is None
    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    assert response.json() == INTERNAL_ERROR
    assert b"Traceback" not in response.content
    assert b"a detail the client must not see" not in response.content
    assert "unhandled error on POST /api/register/" in caplog.text


@pytest.mark.parametrize(
    ("error", "message", "body"),
    [
        pytest.param(domain.StoreUnavailable, None, STORE_UNAVAILABLE, id="token-store"),
        pytest.param(
            domain.KeyConfigurationError,
            "JWT_KEYS_FILE /secret/keys.json is unreadable",  # for the log, not the client
            {"detail": "Token signing is unavailable.", "code": "key_configuration"},
            id="signing-keys",
        ),
        pytest.param(
            domain.HasherBusy,
            None,
            {"detail": "Too many logins in progress; retry shortly.", "code": "busy"},
            id="hasher-busy",
        ),
    ],
)
def test_an_unavailable_dependency_is_503_with_retry_after(
    api, monkeypatch, settings, error, message, body
):
    def login(**kwargs):
        raise error(message)

    monkeypatch.setattr(services, "user_login", login)

    response = login_request(api, "a@example.com", "whatever")

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json() == body
    assert response["Retry-After"] == str(settings.RETRY_AFTER_SECONDS)


def test_a_host_outside_allowed_hosts_is_a_400_without_a_traceback():
    """Fault: a request for a host we do not serve. Expected: 400, and nothing but the
    start-up line on stderr: no traceback (a logger silenced with no handler at all falls back
    to logging.lastResort, which prints one). In a process of its own: pytest's log capture
    would hide what an operator sees."""
    code = (
        "import django; django.setup(); from django.test import Client; "
        "print(Client().get('/health/live', HTTP_HOST='evil.example').status_code)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}

    run = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )

    assert run.stdout.strip() == str(int(HTTPStatus.BAD_REQUEST))
    assert "Traceback" not in run.stderr
    assert "Invalid HTTP_HOST" not in run.stderr


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda access: access[:20] + "\x00" + access[20:], id="nul"),
        pytest.param(lambda access: access + "\x00", id="trailing-nul"),
        pytest.param(lambda access: access.replace(".", "\u00e9.", 1), id="non-ascii"),
        pytest.param(lambda access: "\ud800" + access, id="lone-surrogate"),
        pytest.param(lambda access: access + "A" * TEN_KB, id="10-kb"),
        pytest.param(lambda access: "A" * TEN_KB, id="10-kb-of-nothing"),
        pytest.param(lambda access: "\x00\x01\x1b", id="control-characters"),
    ],
)
def test_an_odd_bearer_token_is_401_invalid_token(api, user, login, make_token):
    """Attack: a bearer token with a NUL, a non-ASCII or lone surrogate character, or of 10 KB.
    Expected: 401 invalid_token with the challenge (never a 500); the real token still works."""
    pair = login(user)

    assert_unauthorized(me(api, make_token(pair["access"])))
    assert_alive(api, pair)


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("rt1_\x00", id="nul"),
        pytest.param("\x1b[31m", id="control-characters"),
        pytest.param("r" * REFRESH_MAX, id="at-the-length-limit"),
    ],
)
def test_logout_answers_204_for_any_string_up_to_the_length_limit(api, user, login, token):
    """RFC 7009: whatever the string, no answer tells whether it named a session.
    Expected: 204 even for a NUL or control characters, and the caller's session lives."""
    pair = login(user)

    response = logout(api, token)

    assert (response.status_code, response.content) == (HTTPStatus.NO_CONTENT, b"")
    assert_alive(api, pair)


@pytest.mark.parametrize(
    ("token", "message"),
    [
        pytest.param(
            "r" * (REFRESH_MAX + 1),
            f"String should have at most {REFRESH_MAX} characters",
            id="past-the-length-limit",
        ),
        pytest.param(
            "rt1_\ud800",
            "Input should be a valid string, unable to parse raw data as a unicode string",
            id="lone-surrogate",
        ),
    ],
)
def test_logout_refuses_what_is_no_unicode_string_or_no_token_length(api, token, message):
    """Attack: a logout body of kilobytes, or a lone surrogate (no Unicode string at all).
    Expected: 400 invalid_request naming the field: a malformed request, not a bad token."""
    response = logout(api, token)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {
        "detail": "Invalid request.",
        "code": "invalid_request",
        "errors": [{"field": "refresh", "message": message}],
    }
