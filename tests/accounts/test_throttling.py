"""Brute force and signup floods: Throttled before any password is hashed, counted in Redis.
(The 429 answer itself: tests/api/test_token.py.)"""

from __future__ import annotations

import pytest

from accounts import services
from accounts.exceptions import InvalidCredentials, Throttled, WrongPassword
from accounts.models import AuditEvent
from accounts.types import Caller
from tests.factories import PASSWORD, UserFactory
from tests.helpers import NEW_PASSWORD

pytestmark = pytest.mark.django_db

FROM = Caller(user_agent="pytest", ip="203.0.113.7")
FAILURE_LIMIT = 3
THROTTLE_KEYS_PER_LOGIN = 2  # the address's counter and the account's


def _login(email, password, caller=FROM):
    return services.user_login(email=email, password=password, caller=caller)


def _outcome(email, password, caller=FROM) -> str:
    try:
        _login(email, password, caller)
    except (InvalidCredentials, Throttled) as exc:
        return exc.code
    return "ok"


def test_password_guessing_on_one_account_is_refused_after_the_failure_limit(settings):
    """Attack: many wrong passwords for one account from many addresses.
    Expected: after THROTTLE_ACCOUNT_FAILURES failures, Throttled with a retry_after within
    the window, even for the right password, and refused before hashing (no more rows)."""
    settings.THROTTLE_ACCOUNT_FAILURES = FAILURE_LIMIT
    user = UserFactory()
    guesses = [
        _outcome(user.email, "wrong password!", Caller(ip=f"198.51.100.{n}"))
        for n in range(FAILURE_LIMIT)
    ]

    with pytest.raises(Throttled) as refused:
        _login(user.email, PASSWORD, Caller(ip="198.51.100.99"))

    assert guesses == ["invalid_credentials"] * FAILURE_LIMIT
    assert 0 < refused.value.retry_after <= settings.THROTTLE_ACCOUNT_WINDOW_SECONDS
    assert AuditEvent.objects.filter(kind="login_failed").count() == FAILURE_LIMIT


def test_successful_logins_do_not_count_against_the_account(settings):
    settings.THROTTLE_ACCOUNT_FAILURES = 2
    user = UserFactory()

    assert [_outcome(user.email, PASSWORD) for _ in range(4)] == ["ok"] * 4


def test_one_address_trying_many_accounts_is_refused_past_the_per_minute_limit(settings):
    """Attack: credential stuffing from one address across many accounts.
    Expected: past THROTTLE_LOGIN_PER_MINUTE attempts, Throttled; other addresses go on."""
    settings.THROTTLE_LOGIN_PER_MINUTE = 5

    outcomes = [_outcome(f"victim{n}@example.com", "guess-123456") for n in range(6)]

    assert outcomes == ["invalid_credentials"] * 5 + ["throttled"]
    other = _outcome("victim0@example.com", "guess-123456", Caller(ip="192.0.2.1"))
    assert other == "invalid_credentials"


def test_signup_flood_from_one_address_is_refused(settings):
    """Attack: mass registration from one address. Expected: Throttled past the limit."""
    settings.THROTTLE_REGISTER_PER_MINUTE = 2
    for n in range(2):
        services.user_register(email=f"bot{n}@example.com", password=PASSWORD, caller=FROM)

    with pytest.raises(Throttled):
        services.user_register(email="bot2@example.com", password=PASSWORD, caller=FROM)


def test_zero_turns_a_limit_off(settings):
    settings.THROTTLE_LOGIN_PER_MINUTE = 0

    outcomes = {_outcome(f"x{n}@example.com", "guess-123456") for n in range(40)}

    assert outcomes == {"invalid_credentials"}


def test_counters_expire_and_do_not_store_addresses_in_clear(settings, token_store):
    settings.THROTTLE_ACCOUNT_FAILURES = 5
    _outcome("secret.person@example.com", "guess-123456")

    keys = [key.decode() for key in token_store.keys("auth:{t:*")]

    assert len(keys) == THROTTLE_KEYS_PER_LOGIN
    assert not any("secret.person" in key for key in keys)
    assert all(token_store.pttl(key) > 0 for key in keys)


def test_guessing_the_current_password_with_a_stolen_access_token_is_throttled(settings):
    """Attack: a stolen access token used to guess the password through password change.
    Expected: after THROTTLE_ACCOUNT_FAILURES wrong guesses, Throttled even for the right
    password; and the guesses count against logins on that account too."""
    settings.THROTTLE_ACCOUNT_FAILURES = 2
    user = UserFactory()

    def change(current):
        return services.user_change_password(
            user=user, current_password=current, new_password=NEW_PASSWORD, caller=FROM
        )

    for guess in ("guess one!", "guess two!"):
        with pytest.raises(WrongPassword):
            change(guess)
    with pytest.raises(Throttled):
        change(PASSWORD)
    assert _outcome(user.email, PASSWORD) == "throttled"
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
