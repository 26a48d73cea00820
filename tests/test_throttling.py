"""Brute force and signup floods: refused with 429 before any password is hashed."""

from http import HTTPStatus

import pytest

from accounts.models import AuditEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

THROTTLED = {"detail": "Too many attempts; retry later.", "code": "throttled"}


def _login(api, email, password, ip="203.0.113.7"):
    return api.post(
        "/api/token/",
        {"email": email, "password": password},
        content_type="application/json",
        REMOTE_ADDR=ip,
    )


def test_password_guessing_on_one_account_is_refused_after_the_failure_limit(
    api, settings, password
):
    """Attack: many wrong passwords for one account from many addresses.
    Expected: after THROTTLE_ACCOUNT_FAILURES failures, 429 throttled with Retry-After,
    even for the right password, until the window ends."""
    settings.THROTTLE_ACCOUNT_FAILURES = 3
    user = UserFactory()
    for n in range(3):
        response = _login(api, user.email, "wrong password!", ip=f"198.51.100.{n}")
        assert response.status_code == HTTPStatus.UNAUTHORIZED
    blocked = _login(api, user.email, password, ip="198.51.100.99")
    assert blocked.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert blocked.json() == THROTTLED
    assert 0 < int(blocked["Retry-After"]) <= settings.THROTTLE_ACCOUNT_WINDOW_SECONDS
    # Refused before hashing: no further login_failed rows after the block.
    assert AuditEvent.objects.filter(kind="login_failed").count() == 3


def test_successful_logins_do_not_count_against_the_account(api, settings, password):
    settings.THROTTLE_ACCOUNT_FAILURES = 2
    user = UserFactory()
    for _ in range(4):
        assert _login(api, user.email, password).status_code == HTTPStatus.OK


def test_one_address_trying_many_accounts_is_refused_past_the_per_minute_limit(api, settings):
    """Attack: credential stuffing from one address across many accounts.
    Expected: past THROTTLE_LOGIN_PER_MINUTE attempts, 429 throttled."""
    settings.THROTTLE_LOGIN_PER_MINUTE = 5
    statuses = [_login(api, f"victim{n}@example.com", "guess-123456").status_code for n in range(6)]
    assert statuses == [HTTPStatus.UNAUTHORIZED] * 5 + [HTTPStatus.TOO_MANY_REQUESTS]
    other = _login(api, "victim0@example.com", "guess-123456", ip="192.0.2.1")
    assert other.status_code == HTTPStatus.UNAUTHORIZED


def test_signup_flood_from_one_address_is_refused(api, settings, password):
    """Attack: mass registration from one address. Expected: 429 throttled past the limit."""
    settings.THROTTLE_REGISTER_PER_MINUTE = 2
    statuses = [
        api.post(
            "/api/register/",
            {"email": f"bot{n}@example.com", "password": password},
            content_type="application/json",
            REMOTE_ADDR="203.0.113.50",
        ).status_code
        for n in range(3)
    ]
    assert statuses == [HTTPStatus.CREATED, HTTPStatus.CREATED, HTTPStatus.TOO_MANY_REQUESTS]


def test_zero_turns_a_limit_off(api, settings):
    settings.THROTTLE_LOGIN_PER_MINUTE = 0
    statuses = {_login(api, f"x{n}@example.com", "guess-123456").status_code for n in range(40)}
    assert statuses == {HTTPStatus.UNAUTHORIZED}


def test_counters_expire_and_do_not_store_addresses_in_clear(api, settings, token_store):
    settings.THROTTLE_ACCOUNT_FAILURES = 5
    _login(api, "secret.person@example.com", "guess-123456")
    keys = [key.decode() for key in token_store.keys("auth:{t:*")]
    assert len(keys) == 2
    assert not any("secret.person" in key for key in keys)
    assert all(token_store.pttl(key) > 0 for key in keys)


def test_guessing_the_current_password_with_a_stolen_access_token_is_throttled(
    api, settings, login, password
):
    """Attack: a stolen access token used to guess the password through password change.
    Expected: after THROTTLE_ACCOUNT_FAILURES wrong guesses, 429 throttled, even for the
    right password; and the guesses count against logins on that account too."""
    settings.THROTTLE_ACCOUNT_FAILURES = 2
    user = UserFactory()
    access = login(user)["access"]

    def change(current):
        return api.post(
            "/api/password/change/",
            {"current_password": current, "new_password": "a brand new passphrase"},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {access}",
        )

    assert [change("guess one!").status_code, change("guess two!").status_code] == [
        HTTPStatus.BAD_REQUEST,
        HTTPStatus.BAD_REQUEST,
    ]
    blocked = change(password)
    assert blocked.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert blocked.json() == THROTTLED
    assert _login(api, user.email, password).status_code == HTTPStatus.TOO_MANY_REQUESTS
    user.refresh_from_db()
    assert user.check_password(password)
