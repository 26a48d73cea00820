"""A session's absolute lifetime holds however often it is refreshed; idle sessions end."""

from datetime import timedelta
from http import HTTPStatus

import pytest

from tests.lifecycle import T0, assert_unauthorized, claims, me, refresh

pytestmark = pytest.mark.django_db

MAX_LIFETIME = timedelta(days=30)  # SESSION_MAX_LIFETIME's default
REFRESH_LIFETIME = timedelta(days=1)  # REFRESH_TOKEN_LIFETIME's default
ACCESS_LIFETIME = timedelta(minutes=5)  # ACCESS_TOKEN_LIFETIME's default


def test_defaults_are_what_these_tests_assume(settings):
    assert settings.SESSION_MAX_LIFETIME == MAX_LIFETIME
    assert settings.REFRESH_TOKEN_LIFETIME == REFRESH_LIFETIME
    assert settings.ACCESS_TOKEN_LIFETIME == ACCESS_LIFETIME


def test_refreshing_often_never_outlives_the_absolute_lifetime(api, user, login, time_machine):
    """Attack: keep a stolen session alive forever by refreshing -> 401 at the deadline."""
    time_machine.move_to(T0, tick=False)
    pair = login(user)
    deadline = T0 + MAX_LIFETIME
    step = timedelta(hours=23)
    refreshes = 0
    while True:
        time_machine.shift(step)
        response = refresh(api, pair["refresh"])
        if response.status_code != HTTPStatus.OK:
            break
        pair = response.json()
        refreshes += 1
        assert claims(pair["refresh"])["exp"] <= int(deadline.timestamp())

    assert refreshes == 31  # 31 * 23 h < 30 days < 32 * 23 h
    assert_unauthorized(response)
    assert_unauthorized(me(api, pair["access"]))


def test_the_last_refresh_token_expires_exactly_at_the_absolute_deadline(
    api, user, login, time_machine
):
    time_machine.move_to(T0, tick=False)
    pair = login(user)
    for _ in range(29):
        time_machine.shift(timedelta(days=1) - timedelta(seconds=1))
        pair = refresh(api, pair["refresh"]).json()
    time_machine.move_to(T0 + MAX_LIFETIME - timedelta(hours=1), tick=False)

    last = refresh(api, pair["refresh"]).json()

    assert claims(last["refresh"])["exp"] == int((T0 + MAX_LIFETIME).timestamp())
    time_machine.move_to(T0 + MAX_LIFETIME - timedelta(seconds=1), tick=False)
    final = refresh(api, last["refresh"])
    assert final.status_code == HTTPStatus.OK
    assert claims(final.json()["refresh"])["exp"] == int((T0 + MAX_LIFETIME).timestamp())
    time_machine.move_to(T0 + MAX_LIFETIME + timedelta(seconds=1), tick=False)
    assert_unauthorized(refresh(api, final.json()["refresh"]))


def test_an_access_token_dies_with_its_session_at_the_absolute_deadline(
    api, user, login, time_machine, settings
):
    """An access token issued just before the deadline stops working at it, not at its exp."""
    settings.SESSION_MAX_LIFETIME = timedelta(hours=2)
    time_machine.move_to(T0, tick=False)
    pair = login(user)
    time_machine.move_to(T0 + timedelta(hours=2) - timedelta(minutes=1), tick=False)
    late = refresh(api, pair["refresh"]).json()
    assert claims(late["access"])["exp"] > int((T0 + timedelta(hours=2)).timestamp())
    assert me(api, late["access"]).status_code == HTTPStatus.OK

    time_machine.move_to(T0 + timedelta(hours=2, seconds=1), tick=False)

    assert_unauthorized(me(api, late["access"]))
    assert_unauthorized(refresh(api, late["refresh"]))


def test_a_session_refreshed_within_the_refresh_lifetime_lives_on(api, user, login, time_machine):
    time_machine.move_to(T0, tick=False)
    pair = login(user)

    time_machine.shift(REFRESH_LIFETIME - timedelta(seconds=1))

    assert refresh(api, pair["refresh"]).status_code == HTTPStatus.OK


def test_an_idle_session_ends_after_the_refresh_lifetime(api, user, login, time_machine):
    time_machine.move_to(T0, tick=False)
    pair = login(user)

    time_machine.shift(REFRESH_LIFETIME + timedelta(seconds=1))

    assert_unauthorized(refresh(api, pair["refresh"]))
    assert_unauthorized(me(api, pair["access"]))


def test_idle_deadline_counts_from_the_last_refresh(api, user, login, time_machine):
    time_machine.move_to(T0, tick=False)
    pair = login(user)
    time_machine.shift(timedelta(hours=12))
    pair = refresh(api, pair["refresh"]).json()

    time_machine.shift(REFRESH_LIFETIME - timedelta(seconds=1))
    assert refresh(api, pair["refresh"]).status_code == HTTPStatus.OK


def test_an_access_token_expires_after_its_own_lifetime(api, user, login, time_machine):
    time_machine.move_to(T0, tick=False)
    pair = login(user)

    time_machine.shift(ACCESS_LIFETIME - timedelta(seconds=1))
    assert me(api, pair["access"]).status_code == HTTPStatus.OK
    time_machine.shift(timedelta(seconds=2))
    assert_unauthorized(me(api, pair["access"]))


def test_lifetimes_are_read_at_call_time(api, user, login, time_machine, settings):
    settings.REFRESH_TOKEN_LIFETIME = timedelta(minutes=10)
    time_machine.move_to(T0, tick=False)
    pair = login(user)

    assert claims(pair["refresh"])["exp"] == int((T0 + timedelta(minutes=10)).timestamp())
    time_machine.shift(timedelta(minutes=10, seconds=1))
    assert_unauthorized(refresh(api, pair["refresh"]))
