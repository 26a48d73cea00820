"""REFRESH_REUSE_GRACE: the immediate parent replayed within the window gets the same successor.

Anything else presented twice (the parent after the window, the grandparent at any time, any
replay with the window off) is reuse: 401 token_reused and the whole session ends.
"""

from datetime import timedelta
from http import HTTPStatus

import pytest

from accounts.models import AuditEvent
from tests.lifecycle import (
    T0,
    TOKEN_REUSED,
    assert_alive,
    assert_dead,
    assert_unauthorized,
    auth,
    claims,
    me,
    post_json,
    refresh,
)

pytestmark = pytest.mark.django_db

GRACE = timedelta(seconds=10)  # REFRESH_REUSE_GRACE's default


@pytest.fixture
def rotated(api, user, login, time_machine):
    """A session at T0 whose first refresh token (the parent) has just been rotated."""
    time_machine.move_to(T0, tick=False)
    parent = login(user)
    child = refresh(api, parent["refresh"]).json()
    return parent, child


def test_the_default_grace_is_ten_seconds(settings):
    assert settings.REFRESH_REUSE_GRACE == GRACE


def test_parent_replayed_inside_the_window_returns_the_same_successor(api, rotated, time_machine):
    parent, child = rotated
    time_machine.shift(GRACE - timedelta(seconds=1))

    replay = refresh(api, parent["refresh"])

    assert replay.status_code == HTTPStatus.OK, replay.content
    again = replay.json()
    assert claims(again["refresh"])["jti"] == claims(child["refresh"])["jti"]
    assert claims(again["refresh"])["exp"] == claims(child["refresh"])["exp"]
    assert claims(again["refresh"])["sid"] == claims(child["refresh"])["sid"]
    assert me(api, again["access"]).status_code == HTTPStatus.OK
    assert me(api, child["access"]).status_code == HTTPStatus.OK
    assert not AuditEvent.objects.filter(kind="refresh_reuse").exists()
    # The successor handed out twice is still the session's one valid refresh token.
    assert_alive(api, child)


def test_parent_replayed_twice_inside_the_window_gets_the_successor_both_times(api, rotated):
    parent, child = rotated

    first, second = refresh(api, parent["refresh"]), refresh(api, parent["refresh"])

    jtis = {claims(r.json()["refresh"])["jti"] for r in (first, second)}
    assert jtis == {claims(child["refresh"])["jti"]}
    assert_alive(api, child)


def test_parent_replayed_just_after_the_window_is_reuse_and_ends_the_session(
    api, rotated, time_machine
):
    """Attack: replay a used refresh token after the grace window -> 401 token_reused."""
    parent, child = rotated
    time_machine.shift(GRACE + timedelta(seconds=1))

    replay = refresh(api, parent["refresh"])

    assert_unauthorized(replay, TOKEN_REUSED)
    assert_dead(api, child)
    assert AuditEvent.objects.filter(kind="refresh_reuse").count() == 1


def test_grandparent_replayed_inside_the_window_is_reuse_and_ends_the_session(
    api, rotated, time_machine
):
    """Attack: replay the token before the parent, within seconds -> 401 token_reused."""
    grandparent, parent = rotated
    time_machine.shift(timedelta(seconds=1))
    child = refresh(api, parent["refresh"]).json()
    time_machine.shift(timedelta(seconds=1))

    replay = refresh(api, grandparent["refresh"])

    assert_unauthorized(replay, TOKEN_REUSED)
    assert_dead(api, child)


def test_after_a_reuse_the_grace_replay_no_longer_works(api, rotated, time_machine):
    """Once reuse ended the session, the parent inside the window gets nothing either."""
    grandparent, parent = rotated
    child = refresh(api, parent["refresh"]).json()
    assert_unauthorized(refresh(api, grandparent["refresh"]), TOKEN_REUSED)

    assert_unauthorized(refresh(api, parent["refresh"]))
    assert_dead(api, child)


def test_grace_zero_turns_the_window_off(api, user, login, settings, time_machine):
    """With no window, an immediate replay of the parent -> 401 token_reused, session ends."""
    settings.REFRESH_REUSE_GRACE = timedelta(0)
    time_machine.move_to(T0, tick=False)
    parent = login(user)
    child = refresh(api, parent["refresh"]).json()

    replay = refresh(api, parent["refresh"])

    assert_unauthorized(replay, TOKEN_REUSED)
    assert_dead(api, child)


@pytest.mark.parametrize(
    ("after", "outcome"),
    [(timedelta(seconds=29), "same successor"), (timedelta(seconds=31), "reuse")],
)
def test_a_configured_window_is_honoured_on_both_sides_of_its_edge(
    api, user, login, settings, time_machine, after, outcome
):
    settings.REFRESH_REUSE_GRACE = timedelta(seconds=30)
    time_machine.move_to(T0, tick=False)
    parent = login(user)
    child = refresh(api, parent["refresh"]).json()
    time_machine.shift(after)

    replay = refresh(api, parent["refresh"])

    if outcome == "same successor":
        assert replay.status_code == HTTPStatus.OK
        assert claims(replay.json()["refresh"])["jti"] == claims(child["refresh"])["jti"]
        assert_alive(api, child)
    else:
        assert_unauthorized(replay, TOKEN_REUSED)
        assert_dead(api, child)


def test_the_window_is_measured_from_the_rotation_not_the_login(api, user, login, time_machine):
    time_machine.move_to(T0, tick=False)
    parent = login(user)
    time_machine.shift(timedelta(hours=1))
    child = refresh(api, parent["refresh"]).json()
    time_machine.shift(GRACE - timedelta(seconds=1))

    replay = refresh(api, parent["refresh"])

    assert replay.status_code == HTTPStatus.OK
    assert claims(replay.json()["refresh"])["jti"] == claims(child["refresh"])["jti"]


def test_grace_zero_is_reuse_even_for_a_replay_stamped_before_the_rotation(
    api, user, login, settings, time_machine
):
    """Attack: race the winner so the replay's clock read is earlier -> still token_reused.

    Two instances (or two threads) read the clock before reaching Redis; the loser's reading
    can be a millisecond older than the winner's. With the window off that must not count as
    inside it.
    """
    settings.REFRESH_REUSE_GRACE = timedelta(0)
    rotation = T0 + timedelta(milliseconds=500)  # mid-second: iat (whole seconds) stays past
    time_machine.move_to(rotation, tick=False)
    parent = login(user)
    child = refresh(api, parent["refresh"]).json()
    time_machine.shift(timedelta(milliseconds=-1))

    replay = refresh(api, parent["refresh"])

    assert_unauthorized(replay, TOKEN_REUSED)
    time_machine.move_to(rotation, tick=False)
    assert_dead(api, child)


@pytest.mark.parametrize("ending", ["logout", "logout-all"])
def test_the_parent_cannot_revive_a_session_ended_inside_the_window(api, rotated, ending):
    """Attack: after the owner logs out, replay the parent within the window -> 401, still dead."""
    parent, child = rotated
    if ending == "logout":
        post_json(api, "/api/logout/", {"refresh": child["refresh"]})
    else:
        post_json(api, "/api/logout/all/", None, **auth(child["access"]))

    replay = refresh(api, parent["refresh"])

    assert_unauthorized(replay)
    assert_dead(api, child)
