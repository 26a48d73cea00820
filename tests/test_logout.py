"""POST /api/logout/ and POST /api/logout/all/: which sessions end, and which stay."""

import time
from datetime import timedelta
from http import HTTPStatus

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from accounts import keys
from accounts.models import AuditEvent
from tests.factories import UserFactory
from tests.lifecycle import (
    INVALID_TOKEN,
    assert_alive,
    assert_dead,
    assert_unauthorized,
    auth,
    claims,
    logout,
    me,
    post_json,
    refresh,
)

pytestmark = pytest.mark.django_db


def test_logout_ends_that_sessions_refresh_and_access_tokens(api, user, login):
    phone, laptop = login(user, agent="Phone/1.0"), login(user, agent="Laptop/2.0")

    response = logout(api, phone["refresh"])

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert response.content == b""
    assert_dead(api, phone)
    assert_alive(api, laptop)


def test_logout_with_the_rotated_successor_ends_the_session(api, user, login):
    first = login(user)
    second = refresh(api, first["refresh"]).json()

    assert logout(api, second["refresh"]).status_code == HTTPStatus.NO_CONTENT

    assert_unauthorized(me(api, first["access"]))
    assert_dead(api, second)


def test_logout_twice_answers_204_both_times_and_ends_nothing_else(api, user, login):
    """Replayed logout: the same 204, no oracle, and the user's other session lives on."""
    phone, laptop = login(user, agent="Phone/1.0"), login(user, agent="Laptop/2.0")
    assert logout(api, phone["refresh"]).status_code == HTTPStatus.NO_CONTENT

    again = logout(api, phone["refresh"])

    assert again.status_code == HTTPStatus.NO_CONTENT
    assert again.content == b""
    assert AuditEvent.objects.filter(kind="logout").count() == 1
    assert_alive(api, laptop)


def _forged(payload: dict, *, kid: str | None) -> str:
    """A token signed with a key the service never had."""
    attacker_key = ec.generate_private_key(ec.SECP256R1())
    headers = {"kid": kid} if kid else {}
    return jwt.encode(payload, attacker_key, algorithm="ES256", headers=headers)


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda victim: "garbage", id="garbage"),
        pytest.param(lambda victim: "", id="empty"),
        pytest.param(lambda victim: victim["access"], id="access-token-instead-of-refresh"),
        pytest.param(
            lambda victim: _forged(claims(victim["refresh"]), kid=keys.keyset().signer.kid),
            id="victims-claims-forged-with-our-kid",
        ),
        pytest.param(
            lambda victim: _forged(claims(victim["refresh"]), kid="attacker"),
            id="victims-claims-forged-with-unknown-kid",
        ),
        pytest.param(
            lambda victim: jwt.encode(claims(victim["refresh"]), "s" * 32, algorithm="HS256"),
            id="victims-claims-hs256",
        ),
    ],
)
def test_logout_with_a_bad_or_foreign_token_answers_204_and_ends_no_session(
    api, user, login, make_token
):
    """Attack: end another user's session with a token not issued for it -> 204, it lives."""
    victim = login(user)
    attacker = login(UserFactory())

    response = logout(api, make_token(victim))

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert response.content == b""
    assert not AuditEvent.objects.filter(kind="logout").exists()
    assert_alive(api, victim)
    assert_alive(api, attacker)


def test_logout_with_another_users_token_ends_only_that_users_session(api, user, login):
    """Another user's token ends that user's session (it is theirs), never the caller's."""
    mine, theirs = login(user), login(UserFactory())

    assert logout(api, theirs["refresh"]).status_code == HTTPStatus.NO_CONTENT

    assert_dead(api, theirs)
    assert_alive(api, mine)


def test_logout_with_an_expired_refresh_token_answers_204(api, user, login, time_machine):
    time_machine.move_to(time.time(), tick=False)
    pair = login(user)
    time_machine.shift(timedelta(days=2))

    response = logout(api, pair["refresh"])

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert_dead(api, pair)


def test_logout_without_a_refresh_field_is_a_400(api):
    response = post_json(api, "/api/logout/", {})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {
        "detail": "Invalid request.",
        "code": "invalid_request",
        "errors": [{"field": "refresh", "message": "Field required"}],
    }


def test_logout_all_ends_every_session_of_the_user(api, user, login):
    devices = [login(user, agent=f"Device/{n}") for n in range(3)]
    bystander = login(UserFactory())

    response = post_json(api, "/api/logout/all/", None, **auth(devices[0]["access"]))

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert response.content == b""
    for pair in devices:
        assert_dead(api, pair)
    assert_alive(api, bystander)


def test_logout_all_kills_rotated_successors_too(api, user, login):
    pair = login(user)
    rotated = refresh(api, pair["refresh"]).json()

    assert post_json(api, "/api/logout/all/", None, **auth(pair["access"])).status_code == 204

    assert_dead(api, rotated)
    assert_unauthorized(refresh(api, pair["refresh"]))


def test_after_logout_all_a_new_login_works(api, user, login):
    old = login(user)
    post_json(api, "/api/logout/all/", None, **auth(old["access"]))

    new = login(user)

    assert_alive(api, new)
    assert_dead(api, old)


@pytest.mark.parametrize("headers", [{}, {"HTTP_AUTHORIZATION": "Bearer garbage"}])
def test_logout_all_needs_a_valid_access_token(api, user, login, headers):
    """Attack: end a user's sessions without their access token -> 401, nothing ends."""
    pair = login(user)

    response = post_json(api, "/api/logout/all/", None, **headers)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == INVALID_TOKEN
    assert_alive(api, pair)


def test_logout_all_refuses_a_refresh_token_as_bearer(api, user, login):
    """Attack: a refresh token presented as the bearer -> 401, nothing ends."""
    pair = login(user)

    assert_unauthorized(post_json(api, "/api/logout/all/", None, **auth(pair["refresh"])))
    assert_alive(api, pair)
