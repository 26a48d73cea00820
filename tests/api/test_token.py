"""POST /api/token/ and /api/token/refresh/ over HTTP: status codes, bodies, headers; and the
one happy path of the whole flow. (Rotation, grace and deadlines: tests/accounts/.)"""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus

import pytest

from tests.factories import PASSWORD, UserFactory
from tests.helpers import (
    INVALID_CREDENTIALS,
    T0,
    THROTTLED,
    TOKEN_FIELDS,
    TOKEN_REUSED,
    assert_dead,
    assert_unauthorized,
    claims_of,
    logout,
    me,
    post_json,
    refresh,
    sid_of,
)
from tests.helpers import login as login_request

pytestmark = pytest.mark.django_db

ACCESS_SECONDS = 300
UNSAFE_TEXT = "Must not contain NUL, control characters or lone surrogates."
UNSAFE = [
    pytest.param("\x00", id="nul"),
    pytest.param("\ud800", id="lone-surrogate"),
    pytest.param("\x1b", id="escape"),
]
PASSWORD_MAX = 4096
REFRESH_MAX = 2048
REFRESH_SECONDS = 86_400


def _assert_token_response(response) -> dict:
    assert response.status_code == HTTPStatus.OK, response.content
    assert response["Cache-Control"] == "no-store"
    assert response["Pragma"] == "no-cache"
    body = response.json()
    assert set(body) == TOKEN_FIELDS
    assert (body["token_type"], body["expires_in"], body["refresh_expires_in"]) == (
        "Bearer",
        ACCESS_SECONDS,
        REFRESH_SECONDS,
    )
    assert body["refresh"].startswith("rt1_")
    return body


def test_register_login_me_refresh_logout(api):
    """The one happy path of the whole flow, over HTTP."""
    created = post_json(api, "/api/register/", {"email": "Ada@Example.com", "password": PASSWORD})
    assert created.status_code == HTTPStatus.CREATED

    pair = _assert_token_response(login_request(api, "ADA@example.com", PASSWORD))
    account = me(api, pair["access"])
    assert account.status_code == HTTPStatus.OK
    assert account.json()["email"] == "ada@example.com"
    assert claims_of(pair["access"])["sub"] == created.json()["id"] == account.json()["id"]

    rotated = _assert_token_response(refresh(api, pair["refresh"]))
    assert rotated["refresh"] != pair["refresh"]
    assert sid_of(rotated) == sid_of(pair)
    assert me(api, rotated["access"]).status_code == HTTPStatus.OK

    bye = logout(api, rotated["refresh"])
    assert (bye.status_code, bye.content) == (HTTPStatus.NO_CONTENT, b"")
    assert_dead(api, rotated)


def test_unknown_email_wrong_password_and_inactive_user_get_the_same_401(api):
    """Attack: account enumeration through login answers.
    Expected: unknown email, wrong password and inactive user give byte-identical 401s,
    without the bearer challenge (it is no token that failed)."""
    UserFactory(email="known@example.com")
    UserFactory(email="inactive@example.com", is_active=False)

    responses = [
        login_request(api, "nobody@example.com", PASSWORD),
        login_request(api, "known@example.com", "not the password at all"),
        login_request(api, "inactive@example.com", PASSWORD),  # right password
    ]

    for response in responses:
        assert response.status_code == HTTPStatus.UNAUTHORIZED
        assert response.json() == INVALID_CREDENTIALS
        assert "WWW-Authenticate" not in response
    assert len({r.content for r in responses}) == 1


def test_login_past_a_limit_is_429_with_retry_after(api, settings):
    settings.THROTTLE_LOGIN_PER_MINUTE = 1
    login_request(api, "nobody@example.com", PASSWORD)

    response = login_request(api, "nobody@example.com", PASSWORD)

    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert response.json() == THROTTLED
    assert 0 < int(response["Retry-After"]) <= timedelta(minutes=1).total_seconds()


def test_login_without_a_password_field_is_400(api):
    response = post_json(api, "/api/token/", {"email": "ada@example.com"})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {
        "detail": "Invalid request.",
        "code": "invalid_request",
        "errors": [{"field": "password", "message": "Field required"}],
    }


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda pair: "", id="empty"),
        pytest.param(lambda pair: "not-a-token", id="garbage"),
        pytest.param(lambda pair: "a.b.c", id="jwt-shaped"),
        pytest.param(lambda pair: pair["access"], id="access-token-instead-of-refresh"),
    ],
)
def test_a_token_that_is_no_refresh_token_is_401_invalid_token(api, user, login, make_token):
    """Attack: anything but a refresh token presented to refresh. Expected: 401 invalid_token
    with the bearer challenge; the real refresh token still works."""
    pair = login(user)

    assert_unauthorized(refresh(api, make_token(pair)))
    assert refresh(api, pair["refresh"]).status_code == HTTPStatus.OK


def test_a_replayed_refresh_token_is_401_token_reused(api, user, login, settings):
    """Attack: a used refresh token replayed (grace off). Expected: 401 token_reused with the
    bearer challenge, then invalid_token for the session's tokens."""
    settings.REFRESH_REUSE_GRACE = timedelta(0)
    pair = login(user)
    rotated = refresh(api, pair["refresh"]).json()

    assert_unauthorized(refresh(api, pair["refresh"]), TOKEN_REUSED)
    assert_dead(api, rotated)


def test_a_grace_replay_answers_the_same_refresh_token(api, user, login, time_machine):
    time_machine.move_to(T0, tick=False)
    pair = login(user)
    rotated = refresh(api, pair["refresh"]).json()

    again = refresh(api, pair["refresh"])

    assert _assert_token_response(again)["refresh"] == rotated["refresh"]


def _invalid_request(field: str, message: str) -> dict:
    return {
        "detail": "Invalid request.",
        "code": "invalid_request",
        "errors": [{"field": field, "message": message}],
    }


@pytest.mark.parametrize("char", UNSAFE)
@pytest.mark.parametrize("field", ["email", "password"])
def test_login_refuses_nul_control_characters_and_lone_surrogates(
    api, user, password, settings, field, char
):
    """Attack: a NUL, a lone surrogate (sent as the JSON escape) or a control character in the
    email or password of a login, which used to reach PostgreSQL, the throttle's hash or the
    hasher and answer 500. Expected: 400 invalid_request naming the field, not counted by the
    throttle (the next real login is 200)."""
    settings.THROTTLE_LOGIN_PER_MINUTE = 1
    body = {"email": user.email, "password": password}
    body[field] = body[field][:2] + char + body[field][2:]

    response = post_json(api, "/api/token/", body)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == _invalid_request(field, UNSAFE_TEXT)
    _assert_token_response(login_request(api, user.email, password))


def test_login_checks_a_long_password_and_refuses_a_longer_one_unhashed(api, user, monkeypatch):
    """Attack: a password of megabytes to make the hasher work. Expected: any password up to
    4096 characters is checked (401 if wrong); one past it is 400 before any hashing."""
    checked = login_request(api, user.email, "p" * PASSWORD_MAX)
    monkeypatch.setattr("accounts.services.user_login", _never_called)

    refused = login_request(api, user.email, "p" * (PASSWORD_MAX + 1))

    assert (checked.status_code, checked.json()) == (HTTPStatus.UNAUTHORIZED, INVALID_CREDENTIALS)
    assert refused.status_code == HTTPStatus.BAD_REQUEST
    assert refused.json() == _invalid_request(
        "password", f"String should have at most {PASSWORD_MAX} characters"
    )


@pytest.mark.parametrize(
    ("token", "message"),
    [
        pytest.param("rt1_\x00", UNSAFE_TEXT, id="nul"),
        pytest.param("rt1_\ud800", UNSAFE_TEXT, id="lone-surrogate"),
        pytest.param(
            "rt1_" + "A" * REFRESH_MAX,
            f"String should have at most {REFRESH_MAX} characters",
            id="too-long",
        ),
    ],
)
def test_refresh_refuses_a_token_no_store_can_hold_as_400(api, token, message):
    """Attack: a refresh token with a NUL or a lone surrogate, or of kilobytes.
    Expected: 400 invalid_request naming the field (a malformed request, not a bad token)."""
    response = refresh(api, token)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == _invalid_request("refresh", message)


def _never_called(**kwargs):
    raise AssertionError("the service must not be reached")
