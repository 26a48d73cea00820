"""POST /api/password/change/ over HTTP: a fresh pair, or the error of each way it fails.
(What a change ends, and the password rules: tests/accounts/test_services.py.)"""

from __future__ import annotations

from http import HTTPStatus

import pytest

from accounts.models import User
from tests.helpers import (
    INVALID_TOKEN,
    NEW_PASSWORD,
    TOKEN_FIELDS,
    assert_alive,
    assert_dead,
    assert_unauthorized,
    auth,
    logout,
    post_json,
    sid_of,
)

pytestmark = pytest.mark.django_db

CHANGE = "/api/password/change/"
UNSAFE_TEXT = "Must not contain NUL, control characters or lone surrogates."
UNSAFE = [
    pytest.param("\x00", id="nul"),
    pytest.param("\ud800", id="lone-surrogate"),
    pytest.param("\x1b", id="escape"),
]


def _change(api, access, current, new, **fields):
    body = {"current_password": current, "new_password": new, **fields}
    return post_json(api, CHANGE, body, **auth(access))


def test_password_change_answers_a_fresh_pair_that_is_never_cached(api, user, login, password):
    caller, other = login(user, agent="Phone/1.0"), login(user, agent="Laptop/2.0")

    response = _change(api, caller["access"], password, NEW_PASSWORD)

    assert response.status_code == HTTPStatus.OK, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == TOKEN_FIELDS
    assert sid_of(body) not in {sid_of(caller), sid_of(other)}
    assert_dead(api, caller)
    assert_dead(api, other)
    assert_alive(api, body)


def test_a_wrong_current_password_is_400(api, user, login, password):
    """Attack: a stolen access token changes the password without knowing it.
    Expected: 400 wrong_password, and nothing changes."""
    caller = login(user)

    response = _change(api, caller["access"], "not the password", NEW_PASSWORD)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {"detail": "Current password is incorrect.", "code": "wrong_password"}
    assert User.objects.get(pk=user.pk).check_password(password)
    assert_alive(api, caller)


def test_a_weak_new_password_is_400_with_the_field_errors(api, user, login, password):
    caller = login(user)

    response = _change(api, caller["access"], password, "password123")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {
        "detail": "Invalid input.",
        "code": "invalid",
        "errors": [{"field": "new_password", "message": "This password is too common."}],
    }


def test_password_change_needs_an_access_token(api, user, password):
    """Attack: change a password with no bearer token. Expected: 401 invalid_token."""
    body = {"current_password": password, "new_password": NEW_PASSWORD}

    assert_unauthorized(post_json(api, CHANGE, body), INVALID_TOKEN)
    assert User.objects.get(pk=user.pk).check_password(password)


def test_an_ended_sessions_access_token_cannot_change_the_password(api, user, login, password):
    """Attack: a logged-out session's access token changes the password. Expected: 401."""
    pair = login(user)
    logout(api, pair["refresh"])

    assert_unauthorized(_change(api, pair["access"], password, NEW_PASSWORD))
    assert User.objects.get(pk=user.pk).check_password(password)


def test_password_change_refuses_unknown_fields(api, user, login, password):
    """Attack: mass assignment through the password body. Expected: 400, is_staff untouched."""
    caller = login(user)

    response = _change(api, caller["access"], password, NEW_PASSWORD, is_staff=True)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {
        "detail": "Invalid request.",
        "code": "invalid_request",
        "errors": [{"field": "is_staff", "message": "Unknown field."}],
    }
    assert not User.objects.get(pk=user.pk).is_staff
    assert User.objects.get(pk=user.pk).check_password(password)


@pytest.mark.parametrize("char", UNSAFE)
@pytest.mark.parametrize("field", ["current_password", "new_password"])
def test_password_change_refuses_nul_control_characters_and_lone_surrogates(
    api, user, login, password, settings, field, char
):
    """Attack: a NUL, a lone surrogate (sent as the JSON escape) or a control character in the
    current or new password, which used to reach the hasher and answer 500.
    Expected: 400 invalid_request naming the field; the password unchanged and the attempt not
    counted as a failure (with a limit of one, the real change that follows is 200)."""
    settings.THROTTLE_ACCOUNT_FAILURES = 1
    caller = login(user)
    body = {"current_password": password, "new_password": NEW_PASSWORD}
    body[field] = body[field][:2] + char + body[field][2:]

    response = post_json(api, CHANGE, body, **auth(caller["access"]))

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {
        "detail": "Invalid request.",
        "code": "invalid_request",
        "errors": [{"field": field, "message": UNSAFE_TEXT}],
    }
    assert User.objects.get(pk=user.pk).check_password(password)
    assert _change(api, caller["access"], password, NEW_PASSWORD).status_code == HTTPStatus.OK
