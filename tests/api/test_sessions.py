"""POST /api/logout/, /api/logout/all/, GET /api/sessions/, DELETE /api/sessions/{id}/ over
HTTP: statuses, bodies, and who may. (Which sessions end: tests/accounts/test_sessions.py.)"""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.test import override_settings

from accounts import tokens
from accounts.models import AuditEvent
from tests.factories import UserFactory
from tests.helpers import (
    INVALID_TOKEN,
    SESSION_NOT_FOUND,
    T0,
    assert_alive,
    assert_dead,
    assert_unauthorized,
    auth,
    logout,
    post_json,
    refresh,
    sid_of,
)
from tests.helpers import login as login_request

pytestmark = pytest.mark.django_db


def _sessions(api, access, **extra):
    return api.get("/api/sessions/", **auth(access), **extra)


def _delete(api, access, sid):
    return api.delete(f"/api/sessions/{sid}/", **auth(access))


def _logout_all(api, access):
    return post_json(api, "/api/logout/all/", None, **auth(access))


def _assert_no_content(response) -> None:
    assert response.status_code == HTTPStatus.NO_CONTENT
    assert response.content == b""


# --- logout ----------------------------------------------------------------------------------


def test_logout_is_204_and_ends_that_sessions_tokens(api, user, login):
    phone, laptop = login(user, agent="Phone/1.0"), login(user, agent="Laptop/2.0")

    _assert_no_content(logout(api, phone["refresh"]))

    assert_dead(api, phone)
    assert_alive(api, laptop)
    _assert_no_content(logout(api, phone["refresh"]))  # again: the same answer


def _victims_ids_under_another_secret(victim: dict) -> str:
    user_id, session_id, counter = tokens.refresh_decode(victim["refresh"])
    with override_settings(SECRET_KEY="the attacker's guess at the secret key, wrong"):
        return tokens.refresh_encode(user_id=user_id, session_id=session_id, counter=counter)


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda victim: "garbage", id="garbage"),
        pytest.param(lambda victim: "", id="empty"),
        pytest.param(lambda victim: victim["access"], id="access-token-instead-of-refresh"),
        pytest.param(_victims_ids_under_another_secret, id="victims-ids-under-another-secret"),
    ],
)
def test_logout_with_a_bad_or_forged_token_is_204_and_ends_no_session(api, user, login, make_token):
    """Attack: end another user's session with a token not issued for it.
    Expected: the same 204 as a real logout (no oracle), and every session lives."""
    victim, attacker = login(user), login(UserFactory())

    _assert_no_content(logout(api, make_token(victim)))

    assert not AuditEvent.objects.filter(kind="logout").exists()
    assert_alive(api, victim)
    assert_alive(api, attacker)


def test_logout_without_a_refresh_field_is_400(api):
    response = post_json(api, "/api/logout/", {})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {
        "detail": "Invalid request.",
        "code": "invalid_request",
        "errors": [{"field": "refresh", "message": "Field required"}],
    }


def test_logout_all_is_204_and_ends_every_session_of_the_caller(api, user, login):
    devices = [login(user, agent=f"Device/{n}") for n in range(3)]
    bystander = login(UserFactory())

    _assert_no_content(_logout_all(api, devices[0]["access"]))

    for pair in devices:
        assert_dead(api, pair)
    assert_alive(api, bystander)


@pytest.mark.parametrize(
    "bearer",
    [
        pytest.param(lambda pair: None, id="no-token"),
        pytest.param(lambda pair: "garbage", id="garbage"),
        pytest.param(lambda pair: pair["refresh"], id="refresh-token-as-bearer"),
    ],
)
def test_logout_all_needs_a_valid_access_token(api, user, login, bearer):
    """Attack: end a user's sessions without their access token. Expected: 401, none ends."""
    pair = login(user)
    token = bearer(pair)
    headers = {} if token is None else auth(token)

    response = post_json(api, "/api/logout/all/", None, **headers)

    assert_unauthorized(response)
    assert_alive(api, pair)


# --- list ------------------------------------------------------------------------------------


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


def test_a_refresh_shows_as_last_used_with_the_new_client(api, user, login, time_machine):
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
    """Attack: spoof the recorded address with X-Forwarded-For.
    Expected: REMOTE_ADDR is recorded."""
    pair = login_request(
        api, user.email, password, HTTP_X_FORWARDED_FOR="6.6.6.6", REMOTE_ADDR="192.0.2.10"
    ).json()

    [session] = _sessions(api, pair["access"]).json()

    assert session["ip"] == "192.0.2.10"


def test_behind_one_trusted_proxy_the_forwarded_address_is_recorded(api, user, password, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    pair = login_request(
        api,
        user.email,
        password,
        HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.4",
        REMOTE_ADDR="10.0.0.1",
    ).json()

    [session] = _sessions(api, pair["access"]).json()

    assert session["ip"] == "198.51.100.4"


def test_sessions_ended_by_logout_all_leave_the_list(api, user, login):
    old = login(user)
    _logout_all(api, old["access"])
    new = login(user)

    assert [s["id"] for s in _sessions(api, new["access"]).json()] == [sid_of(new)]


# --- delete ----------------------------------------------------------------------------------


def test_deleting_own_other_session_is_204_and_ends_that_devices_tokens(api, user, login):
    phone, laptop = login(user, agent="Phone/1.0"), login(user, agent="Laptop/2.0")

    _assert_no_content(_delete(api, phone["access"], sid_of(laptop)))

    assert_dead(api, laptop)
    assert [s["id"] for s in _sessions(api, phone["access"]).json()] == [sid_of(phone)]
    assert_alive(api, phone)


def test_deleting_the_current_session_ends_the_callers_tokens(api, user, login):
    pair = login(user)

    _assert_no_content(_delete(api, pair["access"], sid_of(pair)))

    assert_dead(api, pair)


def test_deleting_another_users_session_is_404_and_it_stays_alive(api, user, login):
    """Attack: end another user's session by its id. Expected: 404 not_found, it lives."""
    attacker, victim = login(UserFactory()), login(user)

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
    """Attack: probe session ids. Expected: the same 404 not_found as for another user's."""
    pair = login(user)

    response = _delete(api, pair["access"], sid)

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == SESSION_NOT_FOUND
    assert_alive(api, pair)


def test_deleting_an_already_ended_session_is_404(api, user, login):
    phone, laptop = login(user), login(user)
    _delete(api, phone["access"], sid_of(laptop))

    response = _delete(api, phone["access"], sid_of(laptop))

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == SESSION_NOT_FOUND


@pytest.mark.parametrize("method", ["get", "delete"])
def test_sessions_endpoints_need_an_access_token(api, user, login, method):
    """Attack: list or end sessions without a token. Expected: 401 invalid_token, none ends."""
    pair = login(user)
    path = "/api/sessions/" if method == "get" else f"/api/sessions/{sid_of(pair)}/"

    response = getattr(api, method)(path)

    assert_unauthorized(response, INVALID_TOKEN)
    assert_alive(api, pair)


def test_a_dead_sessions_access_token_cannot_list(api, user, login):
    pair = login(user)
    logout(api, pair["refresh"])

    assert_unauthorized(_sessions(api, pair["access"]))
