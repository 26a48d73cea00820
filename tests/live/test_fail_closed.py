"""Ending sessions never fails open: there is no moment, whatever fails, at which the password,
`is_active` or the user row has changed and a session from before still works.

Each change is made through the API, the admin or the service while the token store (a
throw-away Redis) fails for real: stopped before the request, paused (CLIENT PAUSE ALL, with a
store timeout shorter than the pause), or killed or paused at a precise step, right before the
service calls a token-store function. Redis then comes back with its data (restarted on the
same port from its append-only file, or unpaused), and the API judges: either nothing changed
(the old password logs in and every old pair works) or the change happened and every old pair
is dead.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import pytest
from django.test import Client

from accounts import services, token_store
from accounts.exceptions import StoreUnavailable
from accounts.models import User
from tests.factories import PASSWORD, UserFactory
from tests.helpers import (
    INVALID_CREDENTIALS,
    NEW_PASSWORD,
    STORE_UNAVAILABLE,
    assert_alive,
    assert_dead,
    auth,
    login,
    post_json,
)
from tests.live.calls import RETRY_AFTER
from tests.live.faults import ThrowAwayRedis, throw_away_redis

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

STORE_TIMEOUT = 0.5  # seconds: a paused store times out well within the pause
PAUSE_MS = 3000  # outlasts every store call a request makes before it answers
USERS = "/admin/accounts/user"


@dataclass(frozen=True)
class Fault:
    """How the store fails: `kill` or `pause`, before the request or right before `step`."""

    how: str
    step: str | None = None

    def strike(self, redis: ThrowAwayRedis) -> None:
        if self.how == "kill":
            redis.kill()
        else:
            redis.pause(PAUSE_MS)

    def __str__(self) -> str:
        return f"{self.how}-before-{self.step or 'request'}"


STOPPED, PAUSED = Fault("kill"), Fault("pause")
KILL_PURGE, PAUSE_PURGE = Fault("kill", "sessions_purge"), Fault("pause", "sessions_purge")
KILL_CREATE, PAUSE_CREATE = Fault("kill", "session_create"), Fault("pause", "session_create")
KILL_THROTTLE = Fault("kill", "throttle")


@pytest.fixture(scope="module")
def redis() -> Iterator[ThrowAwayRedis]:
    with throw_away_redis() as server:
        yield server


@pytest.fixture
def store(redis, settings) -> Iterator[ThrowAwayRedis]:
    """The token store on the throw-away Redis, empty, with a short timeout."""
    redis.recover()
    redis.admin().flushdb()
    settings.TOKEN_STORE_URL = redis.url
    settings.TOKEN_STORE_TIMEOUT = STORE_TIMEOUT
    yield redis
    redis.recover()


@pytest.fixture
def admin_api() -> Client:
    http = Client()
    http.force_login(UserFactory(is_staff=True, is_superuser=True))
    return http


def _arm(fault: Fault, redis: ThrowAwayRedis, monkeypatch) -> list[str]:
    """Make the fault now, or right before the first call of its step; returns what fired."""
    fired: list[str] = []
    if fault.step is None:
        fault.strike(redis)
        fired.append("request")
        return fired
    real = getattr(token_store, fault.step)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not fired:
            fired.append(fault.step)
            fault.strike(redis)
        return real(*args, **kwargs)

    monkeypatch.setattr(token_store, fault.step, wrapper)
    return fired


@dataclass
class Subject:
    """A user with two sessions (the caller's and another device's), and the API clients."""

    user: User
    pairs: list[dict[str, Any]]
    api: Client
    admin_api: Client


def _change_password_api(s: Subject) -> Any:
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    return post_json(s.api, "/api/password/change/", body, **auth(s.pairs[0]["access"]))


def _set_password_admin(s: Subject) -> Any:
    form = {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"}
    return s.admin_api.post(f"{USERS}/{s.user.pk}/password/", form)


# A service call refused because the token store is down (StoreUnavailable): nothing changed.
REFUSED = "refused"


def _refused_or_none(call: Any) -> str | None:
    try:
        call()
    except StoreUnavailable:
        return REFUSED
    return None


def _deactivate_service(s: Subject) -> str | None:
    user = User.objects.get(pk=s.user.pk)
    return _refused_or_none(lambda: services.user_deactivate(user=user))


def _deactivate_admin(s: Subject) -> Any:
    return s.admin_api.post(f"{USERS}/{s.user.pk}/change/", {"email": s.user.email})


def _delete_service(s: Subject) -> str | None:
    user = User.objects.get(pk=s.user.pk)
    return _refused_or_none(lambda: services.user_delete(user=user))


def _delete_admin(s: Subject) -> Any:
    return s.admin_api.post(f"{USERS}/{s.user.pk}/delete/", {"post": "yes"})


def _logout_all_api(s: Subject) -> Any:
    return post_json(s.api, "/api/logout/all/", {}, **auth(s.pairs[0]["access"]))


OK, DONE, FOUND, DOWN = HTTPStatus.OK, HTTPStatus.NO_CONTENT, HTTPStatus.FOUND, 503
# (change, fault, the answer (None: a service call), whether the change happened)
CASES = [
    (_change_password_api, STOPPED, DOWN, False),
    (_change_password_api, PAUSED, DOWN, False),
    (_change_password_api, KILL_THROTTLE, DOWN, False),
    (_change_password_api, KILL_PURGE, DOWN, True),
    (_change_password_api, PAUSE_PURGE, DOWN, True),
    (_change_password_api, KILL_CREATE, DOWN, True),
    (_change_password_api, PAUSE_CREATE, DOWN, True),
    # Ending sessions raises the generation floor in Redis inside the change's transaction: a
    # store down before it rolls the change back (the admin says so on the page it redirects to).
    (_set_password_admin, STOPPED, FOUND, False),
    (_set_password_admin, PAUSED, FOUND, False),
    (_set_password_admin, KILL_PURGE, FOUND, True),
    (_deactivate_service, STOPPED, REFUSED, False),
    (_deactivate_service, PAUSED, REFUSED, False),
    (_deactivate_service, KILL_PURGE, None, True),
    (_deactivate_admin, STOPPED, FOUND, False),
    (_deactivate_admin, PAUSE_PURGE, FOUND, True),
    (_delete_service, STOPPED, REFUSED, False),
    (_delete_service, PAUSE_PURGE, None, True),
    (_delete_admin, PAUSED, FOUND, False),
    (_delete_admin, KILL_PURGE, FOUND, True),
    (_logout_all_api, STOPPED, DOWN, False),
    (_logout_all_api, PAUSED, DOWN, False),
    (_logout_all_api, KILL_PURGE, DONE, True),
    (_logout_all_api, PAUSE_PURGE, DONE, True),
]


def _state(user: User) -> tuple[Any, ...] | None:
    """What the invariant is about: the password, `is_active`, the row, the generation."""
    row = User.objects.filter(pk=user.pk).values_list("password", "is_active", "session_generation")
    return row.first()


@pytest.mark.parametrize(
    ("change", "fault", "status", "changed"),
    [pytest.param(*case, id=f"{case[0].__name__[1:]}-{case[1]}") for case in CASES],
)
def test_a_change_under_a_failing_store_never_leaves_an_old_session_alive(
    store, api, admin_api, monkeypatch, change, fault, status, changed
):
    """Fault: the token store is stopped or paused before the request, or killed or paused
    right before sessions_purge / session_create / throttle, while the password is changed
    (API: 503 STORE_UNAVAILABLE with Retry-After; admin form: 302), the user is deactivated
    (service; admin: 302) or deleted (service; admin: 302), or logs out everywhere (API: 503
    when the bearer cannot be checked, else 204). A store that fails before the change's
    transaction raises the generation floor refuses the change (service: StoreUnavailable;
    admin: 302 back to the form with the error).
    Expected, once Redis is back: when the store failed before anything was decided (503 at
    the bearer check or the throttle), nothing changed: the old password logs in and both old
    pairs work. Otherwise the change happened and both old pairs are dead (401 invalid_token
    for /api/me/ and refresh); after a password change the new password logs in and the old
    one is refused (401 INVALID_CREDENTIALS). Never "changed and an old session alive"."""
    user = UserFactory()
    subject = Subject(user, [login(api, user.email, PASSWORD).json() for _ in "ab"], api, admin_api)
    before = _state(user)
    fired = _arm(fault, store, monkeypatch)

    response = change(subject)

    assert fired, f"the fault's step ({fault.step}) was never reached"
    monkeypatch.undo()
    store.recover()
    if status is None or status == REFUSED:
        assert response == status
    else:
        assert response.status_code == status, response.content
    if status == DOWN:
        assert response.json() == STORE_UNAVAILABLE
        assert response["Retry-After"] == RETRY_AFTER
    assert (_state(user) != before) is changed
    _assert_fail_closed(subject, changed=changed)


def _assert_fail_closed(s: Subject, *, changed: bool) -> None:
    if not changed:
        assert login(s.api, s.user.email, PASSWORD).status_code == HTTPStatus.OK
        for pair in s.pairs:
            assert_alive(s.api, pair)
        return
    for pair in s.pairs:
        assert_dead(s.api, pair)
    row = User.objects.filter(pk=s.user.pk, is_active=True).first()
    if row is not None and row.check_password(NEW_PASSWORD):
        assert login(s.api, s.user.email, PASSWORD).json() == INVALID_CREDENTIALS
        assert login(s.api, s.user.email, NEW_PASSWORD).status_code == HTTPStatus.OK
