"""POST /api/token/refresh/: rotation, reuse detection, grace window, idle and absolute expiry."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from http import HTTPStatus

import pytest

from accounts import token_store
from accounts.models import User
from tests.jwt_tools import claims_of

pytestmark = pytest.mark.django_db

REFRESH = "/api/token/refresh/"
INVALID_TOKEN = {"detail": "Token is invalid or expired.", "code": "invalid_token"}
TOKEN_REUSED = {
    "detail": "Refresh token was already used; the session has been ended.",
    "code": "token_reused",
}
START = datetime(2030, 1, 1, tzinfo=UTC)


def _refresh(api, token):
    return api.post(REFRESH, {"refresh": token}, content_type="application/json")


def _me(api, access):
    return api.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {access}")


def _assert_invalid(response, body=INVALID_TOKEN):
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == body
    assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'


@pytest.fixture
def clock(time_machine):
    """The clock, stopped at START; tests move it explicitly."""
    time_machine.move_to(START, tick=False)
    return time_machine


def test_refresh_rotates_to_a_new_pair(api, user, login):
    first = login(user)

    response = _refresh(api, first["refresh"])

    assert response.status_code == HTTPStatus.OK
    assert response["Cache-Control"] == "no-store"
    second = response.json()
    assert set(second) == {"access", "refresh", "token_type", "expires_in"}
    assert (second["token_type"], second["expires_in"]) == ("Bearer", 300)
    old, new = claims_of(first["refresh"]), claims_of(second["refresh"])
    assert new["jti"] != old["jti"]
    assert (new["sid"], new["sub"]) == (old["sid"], old["sub"])
    assert claims_of(second["access"])["sid"] == old["sid"]
    assert _me(api, second["access"]).status_code == HTTPStatus.OK
    assert _refresh(api, second["refresh"]).status_code == HTTPStatus.OK


def test_replayed_refresh_token_ends_the_whole_session(api, user, login, settings):
    """Attack: a stolen refresh token used after its owner already rotated it (grace off).
    Expected: 401 token_reused, and the whole session dies: the newest refresh token and every
    access token of the session stop working; other sessions are untouched."""
    settings.REFRESH_REUSE_GRACE = timedelta(0)
    first = login(user)
    other_session = login(user)
    second = _refresh(api, first["refresh"]).json()

    _assert_invalid(_refresh(api, first["refresh"]), TOKEN_REUSED)

    _assert_invalid(_refresh(api, second["refresh"]))
    _assert_invalid(_me(api, second["access"]))
    _assert_invalid(_me(api, first["access"]))
    assert _me(api, other_session["access"]).status_code == HTTPStatus.OK
    assert _refresh(api, other_session["refresh"]).status_code == HTTPStatus.OK


def test_replay_of_the_parent_just_after_the_grace_window_is_reuse(api, user, login, clock):
    first = login(user)
    clock.shift(60)
    second = _refresh(api, first["refresh"]).json()

    clock.shift(10)  # the window is [rotation, rotation + 10 s)
    _assert_invalid(_refresh(api, first["refresh"]), TOKEN_REUSED)

    _assert_invalid(_refresh(api, second["refresh"]))
    _assert_invalid(_me(api, second["access"]))


def test_parent_replayed_within_grace_gets_the_same_successor(api, user, login, clock):
    """A lost response retried: the immediate parent within 10 s gets the current successor
    back (same jti, sid and expiry), not a new one, and the session survives."""
    first = login(user)
    clock.shift(60)
    second = _refresh(api, first["refresh"]).json()

    clock.shift(9.999)
    retried = _refresh(api, first["refresh"])

    assert retried.status_code == HTTPStatus.OK
    again = claims_of(retried.json()["refresh"])
    successor = claims_of(second["refresh"])
    assert {k: again[k] for k in ("jti", "sid", "exp")} == {
        k: successor[k] for k in ("jti", "sid", "exp")
    }
    assert _me(api, retried.json()["access"]).status_code == HTTPStatus.OK
    assert _refresh(api, second["refresh"]).status_code == HTTPStatus.OK


def test_grandparent_replayed_within_grace_is_reuse(api, user, login, clock):
    """Attack: an older token (not the immediate parent) replayed quickly.
    Expected: grace covers only the immediate parent: 401 token_reused, session ended."""
    first = login(user)
    second = _refresh(api, first["refresh"]).json()
    third = _refresh(api, second["refresh"]).json()

    _assert_invalid(_refresh(api, first["refresh"]), TOKEN_REUSED)
    _assert_invalid(_refresh(api, third["refresh"]))


def test_grace_zero_is_off_even_for_a_request_that_read_the_clock_first(user):
    """Race: two refreshes with one token; the loser read the clock a millisecond before the
    winner but reached Redis after it. With REFRESH_REUSE_GRACE=0 it must be reuse, not grace."""
    sid, user_id = uuid.uuid4().hex, str(user.pk)
    now = 1_900_000_000_000
    token_store.session_create(
        sid=sid,
        user_id=user_id,
        jti="j1",
        now_ms=now,
        exp_ms=now + 86_400_000,
        abs_exp_ms=now + 86_400_000 * 30,
        user_agent="",
        ip="",
        max_lifetime_ms=86_400_000 * 30,
    )

    def rotate(new_jti: str, at: int) -> str:
        return token_store.session_rotate(
            sid=sid,
            user_id=user_id,
            presented_jti="j1",
            new_jti=new_jti,
            now_ms=at,
            refresh_lifetime_ms=86_400_000,
            grace_ms=0,
            user_agent="",
            ip="",
        ).outcome

    assert rotate("j2", now + 1000) == "rotated"
    assert rotate("j3", now + 999) == "reused"


def test_an_inactive_user_cannot_refresh(api, user, login):
    pair = login(user)
    User.objects.filter(pk=user.pk).update(is_active=False)

    _assert_invalid(_refresh(api, pair["refresh"]))

    # The session was ended, not just refused: reactivation does not bring it back.
    User.objects.filter(pk=user.pk).update(is_active=True)
    _assert_invalid(_refresh(api, pair["refresh"]))


def test_a_deleted_user_cannot_refresh(api, user, login):
    pair = login(user)
    User.objects.filter(pk=user.pk).delete()

    _assert_invalid(_refresh(api, pair["refresh"]))


def test_an_access_token_is_not_a_refresh_token(api, user, login):
    """Attack: an access token presented to the refresh endpoint. Expected: 401 invalid_token."""
    pair = login(user)

    _assert_invalid(_refresh(api, pair["access"]))
    assert _refresh(api, pair["refresh"]).status_code == HTTPStatus.OK


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c"])
def test_garbage_refresh_token_is_401(api, token):
    _assert_invalid(_refresh(api, token))


def test_refresh_token_expires_after_a_day_without_use(api, user, login, clock):
    pair = login(user)

    clock.shift(timedelta(days=1))

    _assert_invalid(_refresh(api, pair["refresh"]))
    _assert_invalid(_me(api, pair["access"]))


def test_refresh_lifetime_slides_with_each_use(api, user, login, clock):
    token = login(user)["refresh"]
    for _ in range(3):
        clock.shift(timedelta(hours=23, minutes=59))
        response = _refresh(api, token)
        assert response.status_code == HTTPStatus.OK
        token = response.json()["refresh"]
        assert claims_of(token)["exp"] - claims_of(token)["iat"] == 86400


def test_a_session_ends_after_30_days_however_often_it_is_refreshed(api, user, login, clock):
    token = login(user)["refresh"]
    session_end = int((START + timedelta(days=30)).timestamp())
    for _ in range(31):  # 31 x 23 h = 29 days 17 h
        clock.shift(timedelta(hours=23))
        response = _refresh(api, token)
        assert response.status_code == HTTPStatus.OK
        token = response.json()["refresh"]
    assert claims_of(token)["exp"] == session_end  # capped, not now + 1 day

    clock.move_to(START + timedelta(days=30), tick=False)

    _assert_invalid(_refresh(api, token))
