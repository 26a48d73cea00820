"""Fixtures of the domain tests: a caller, a stopped clock, sessions checked through the
services themselves, and the one admin client."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from accounts import sessions
from accounts.exceptions import InvalidToken
from accounts.types import Caller, TokenPair
from tests.factories import UserFactory
from tests.helpers import T0

ADMIN_EMAIL = "admin@example.com"
ADMIN_AGENT = "AdminBrowser/1.0"


@pytest.fixture
def caller() -> Caller:
    return Caller(user_agent="pytest", ip="127.0.0.1")


@pytest.fixture
def clock(time_machine):
    """The clock, stopped at T0; tests move it explicitly."""
    time_machine.move_to(T0, tick=False)
    return time_machine


@pytest.fixture
def start(caller) -> Callable[..., TokenPair]:
    """Open a session for a user, as a login does (no password check)."""

    def _start(user, *, agent: str | None = None) -> TokenPair:
        who = caller if agent is None else Caller(user_agent=agent, ip=caller.ip)
        return sessions.session_start(user=user, caller=who)

    return _start


@pytest.fixture
def alive(caller) -> Callable[[TokenPair], TokenPair]:
    """Assert that a pair's access token authenticates and its refresh token rotates; returns
    the successor pair."""

    def _alive(pair: TokenPair) -> TokenPair:
        assert sessions.access_authenticate(pair.access).claims.session_id == pair.session_id
        successor = sessions.session_refresh(refresh=pair.refresh, caller=caller)
        assert sessions.access_authenticate(successor.access).user.pk
        return successor

    return _alive


@pytest.fixture
def dead(caller) -> Callable[[TokenPair], None]:
    """Assert that both tokens of a pair are refused with InvalidToken (not reuse)."""

    def _dead(pair: TokenPair) -> None:
        with pytest.raises(InvalidToken) as refused:
            sessions.access_authenticate(pair.access)
        assert refused.type is InvalidToken
        with pytest.raises(InvalidToken) as refused:
            sessions.session_refresh(refresh=pair.refresh, caller=caller)
        assert refused.type is InvalidToken

    return _dead


@pytest.fixture
def admin_http(db) -> Client:
    """The Django admin, logged in as a superuser (the one admin of these tests)."""
    admin = UserFactory(email=ADMIN_EMAIL, is_staff=True, is_superuser=True)
    http = Client(HTTP_USER_AGENT=ADMIN_AGENT)
    http.force_login(admin)
    return http
