"""The back-off over HTTP: 429 `throttled` with the exact Retry-After, per (account, address).
(The rules themselves: tests/accounts/test_throttling.py.)"""

from __future__ import annotations

from http import HTTPStatus

import pytest

from tests.factories import PASSWORD, UserFactory
from tests.helpers import INVALID_CREDENTIALS, T0, THROTTLED, login

pytestmark = pytest.mark.django_db

ATTACKER = {"REMOTE_ADDR": "198.51.100.66"}
OWNER = {"REMOTE_ADDR": "203.0.113.7"}
FREE = 5  # THROTTLE_PAIR_FREE_FAILURES
FIRST_WAIT, SECOND_WAIT = 1, 2  # seconds: THROTTLE_BACKOFF_BASE_SECONDS, then doubled


def test_past_the_free_failures_an_address_gets_429_with_the_exact_wait(api, time_machine):
    """Attack: wrong passwords from one address. Expected: 5 answered 401
    invalid_credentials; then 429 THROTTLED with Retry-After: 1 even for the right password;
    after 1 s one more guess is allowed, and then Retry-After: 2. Another address of the
    owner's logs in meanwhile (200)."""
    time_machine.move_to(T0, tick=False)
    user = UserFactory()
    assert login(api, user.email, PASSWORD, **OWNER).status_code == HTTPStatus.OK
    guesses = [login(api, user.email, "wrong password!", **ATTACKER) for _ in range(FREE)]

    first = login(api, user.email, PASSWORD, **ATTACKER)
    time_machine.shift(FIRST_WAIT)
    after_wait = login(api, user.email, "wrong password!", **ATTACKER)
    second = login(api, user.email, PASSWORD, **ATTACKER)

    for response in (*guesses, after_wait):
        assert response.status_code == HTTPStatus.UNAUTHORIZED
        assert response.json() == INVALID_CREDENTIALS
    for response, wait in ((first, FIRST_WAIT), (second, SECOND_WAIT)):
        assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
        assert response.json() == THROTTLED
        assert response["Retry-After"] == str(wait)
    assert login(api, user.email, PASSWORD, **OWNER).status_code == HTTPStatus.OK
