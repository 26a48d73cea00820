"""GET /api/sessions/ and DELETE /api/sessions/{id}/: a user sees and ends only their own."""

from datetime import timedelta
from http import HTTPStatus

import pytest

from tests.factories import UserFactory
from tests.lifecycle import (
    INVALID_TOKEN,
    SESSION_NOT_FOUND,
    T0,
    assert_alive,
    assert_dead,
    auth,
    post_json,
    refresh,
    sid_of,
)

pytestmark = pytest.mark.django_db


def _sessions(api, access, **extra):
    return api.get("/api/sessions/", **auth(access), **extra)


def _delete(api, access, sid):
    return api.delete(f"/api/sessions/{sid}/", **auth(access))


def test_two_logins_show_two_sessions_with_only_the_callers_current(api, user, login, time_machine):
    time_machine.move_to(T0, tick=False)
    phone = login(user, agent="Phone/1.0")
    time_machine.shift(timedelta(seconds=5))
    laptop = login(user, agent="Laptop/2.0")

    response = _sessions(api, phone["access"])

    assert response.status_code == HTTPStatus.OK
    assert response.json() == [
        {
            "id": sid_of(laptop),
            "created": "2031-03-01T12:00:05Z",
            "last_used": "2031-03-01T12:00:05Z",
            "expires": "2031-03-02T12:00:05Z",
            "user_agent": "Laptop/2.0",
            "ip": "127.0.0.1",
            "current": False,
        },
        {
            "id": sid_of(phone),
            "created": "2031-03-01T12:00:00Z",
            "last_used": "2031-03-01T12:00:00Z",
            "expires": "2031-03-02T12:00:00Z",
            "user_agent": "Phone/1.0",
            "ip": "127.0.0.1",
            "current": True,
        },
    ]
    from_laptop = _sessions(api, laptop["access"]).json()
    assert [(s["id"], s["current"]) for s in from_laptop] == [
        (sid_of(laptop), True),
        (sid_of(phone), False),
    ]


def test_a_refresh_moves_last_used_and_records_the_new_client(api, user, login, time_machine):
    time_machine.move_to(T0, tick=False)
    pair = login(user, agent="Phone/1.0")
    time_machine.shift(timedelta(hours=1))
    rotated = refresh(api, pair["refresh"], HTTP_USER_AGENT="Phone/1.1", REMOTE_ADDR="10.0.0.7")

    [session] = _sessions(api, rotated.json()["access"]).json()

    assert session == {
        "id": sid_of(pair),
        "created": "2031-03-01T12:00:00Z",
        "last_used": "2031-03-01T13:00:00Z",
        "expires": "2031-03-02T13:00:00Z",
        "user_agent": "Phone/1.1",
        "ip": "10.0.0.7",
        "current": True,
    }


def test_a_forwarded_for_header_is_ignored_without_a_trusted_proxy(api, user, password):
    """Attack: spoof the recorded address with X-Forwarded-For -> REMOTE_ADDR is kept."""
    pair = post_json(
        api,
        "/api/token/",
        {"email": user.email, "password": password},
        HTTP_X_FORWARDED_FOR="6.6.6.6",
        REMOTE_ADDR="192.0.2.10",
    ).json()

    [session] = _sessions(api, pair["access"]).json()

    assert session["ip"] == "192.0.2.10"


def test_behind_one_trusted_proxy_the_forwarded_address_is_recorded(api, user, password, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    pair = post_json(
        api,
        "/api/token/",
        {"email": user.email, "password": password},
        HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.4",
        REMOTE_ADDR="10.0.0.1",
    ).json()

    [session] = _sessions(api, pair["access"]).json()

    assert session["ip"] == "198.51.100.4"


def test_the_list_holds_only_the_callers_live_sessions(api, user, login):
    mine = login(user)
    ended = login(user)
    post_json(api, "/api/logout/", {"refresh": ended["refresh"]})
    login(UserFactory())

    listed = _sessions(api, mine["access"]).json()

    assert [s["id"] for s in listed] == [sid_of(mine)]


def test_sessions_ended_by_logout_all_leave_the_list(api, user, login):
    old = login(user)
    post_json(api, "/api/logout/all/", None, **auth(old["access"]))
    new = login(user)

    assert [s["id"] for s in _sessions(api, new["access"]).json()] == [sid_of(new)]


def test_an_idle_session_leaves_the_list(api, user, login, time_machine):
    time_machine.move_to(T0, tick=False)
    idle = login(user, agent="Idle/1.0")
    time_machine.shift(timedelta(hours=23, minutes=59, seconds=59))
    active = login(user, agent="Active/1.0")
    assert [s["id"] for s in _sessions(api, active["access"]).json()] == [
        sid_of(active),
        sid_of(idle),
    ]
    time_machine.shift(timedelta(seconds=2))

    listed = _sessions(api, active["access"]).json()

    assert [s["id"] for s in listed] == [sid_of(active)]


def test_deleting_own_other_session_ends_that_devices_tokens(api, user, login):
    phone, laptop = login(user, agent="Phone/1.0"), login(user, agent="Laptop/2.0")

    response = _delete(api, phone["access"], sid_of(laptop))

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert response.content == b""
    assert_dead(api, laptop)
    assert [s["id"] for s in _sessions(api, phone["access"]).json()] == [sid_of(phone)]
    assert_alive(api, phone)


def test_deleting_the_current_session_ends_the_callers_tokens(api, user, login):
    pair = login(user)

    assert _delete(api, pair["access"], sid_of(pair)).status_code == HTTPStatus.NO_CONTENT

    assert_dead(api, pair)


def test_deleting_another_users_session_is_404_and_it_stays_alive(api, user, login):
    """Attack: end another user's session by its id -> 404 not_found, the session lives."""
    attacker = login(UserFactory())
    victim = login(user)

    response = _delete(api, attacker["access"], sid_of(victim))

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == SESSION_NOT_FOUND
    assert [s["id"] for s in _sessions(api, victim["access"]).json()] == [sid_of(victim)]
    assert_alive(api, victim)
    assert_alive(api, attacker)


@pytest.mark.parametrize(
    "sid", ["0" * 32, "not-a-session", "auth:user:x", "%2A", "a" * 300], ids=str.__len__
)
def test_probing_unknown_session_ids_answers_the_same_404(api, user, login, sid):
    """Attack: probe session ids -> the same 404 not_found as another user's live session."""
    pair = login(user)

    response = _delete(api, pair["access"], sid)

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == SESSION_NOT_FOUND
    assert_alive(api, pair)


def test_deleting_an_already_ended_session_is_404(api, user, login):
    phone, laptop = login(user), login(user)
    assert _delete(api, phone["access"], sid_of(laptop)).status_code == HTTPStatus.NO_CONTENT

    response = _delete(api, phone["access"], sid_of(laptop))

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == SESSION_NOT_FOUND


@pytest.mark.parametrize("method", ["get", "delete"])
def test_sessions_endpoints_need_an_access_token(api, user, login, method):
    """Attack: list or end sessions without a token -> 401 invalid_token, nothing ends."""
    pair = login(user)
    path = "/api/sessions/" if method == "get" else f"/api/sessions/{sid_of(pair)}/"

    response = getattr(api, method)(path)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == INVALID_TOKEN
    assert_alive(api, pair)


def test_a_dead_sessions_access_token_cannot_list(api, user, login):
    pair = login(user)
    post_json(api, "/api/logout/", {"refresh": pair["refresh"]})

    response = _sessions(api, pair["access"])

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == INVALID_TOKEN
