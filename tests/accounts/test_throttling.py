"""Brute force without lock-out: per (account, client) back-off, the account's threshold and
hard cap, known clients, the admin's clear, and signup floods. Services are called directly on
the real Redis; the clock is stopped (the `clock` fixture) and moved, never slept.
(The 429 answer itself: tests/api/test_throttling_http.py.)"""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from redis.crc import key_slot

from accounts import services
from accounts.exceptions import InvalidCredentials, Throttled, WrongPassword
from accounts.models import AuditEvent
from accounts.types import Caller
from tests.factories import PASSWORD, UserFactory
from tests.helpers import NEW_PASSWORD

pytestmark = pytest.mark.django_db

OWNER = Caller(user_agent="owner", ip="203.0.113.7")
ATTACKER = Caller(user_agent="attacker", ip="198.51.100.66")
NEW_PLACE = Caller(user_agent="owner", ip="192.0.2.44")
WRONG = "wrong password!"
OK, BAD, WAIT = "ok", "invalid_credentials", "throttled"
FREE = 5  # THROTTLE_PAIR_FREE_FAILURES
CAP_SECONDS = 900  # THROTTLE_BACKOFF_MAX_SECONDS
THRESHOLD = 10  # THROTTLE_ACCOUNT_FAILURES
WINDOW_SECONDS = 900  # THROTTLE_ACCOUNT_WINDOW_SECONDS
HARD_CAP = 100  # THROTTLE_ACCOUNT_MAX_FAILURES
ATTACK = 50
# The waits after failures 5, 6, 7, ... of one pair: 1 s doubled, capped at 15 minutes.
BACKOFF = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]


def _login(email, password, caller):
    return services.user_login(email=email, password=password, caller=caller)


def _outcome(email, password, caller) -> str:
    try:
        _login(email, password, caller)
    except (InvalidCredentials, Throttled) as exc:
        return exc.code
    return OK


def _retry_after(email, password, caller) -> int:
    with pytest.raises(Throttled) as refused:
        _login(email, password, caller)
    return refused.value.retry_after


def _patient_failures(clock, email, caller, times) -> list[int]:
    """`times` wrong passwords from `caller`, each after waiting as told; the waits told."""
    waits = []
    for _ in range(times):
        try:
            _login(email, WRONG, caller)
        except Throttled as refused:
            waits.append(refused.retry_after)
            clock.shift(refused.retry_after)
            assert _outcome(email, WRONG, caller) == BAD
        except InvalidCredentials:
            pass
    return waits


def _from(n: int) -> Caller:
    return Caller(user_agent="botnet", ip=f"10.0.{n // 250}.{n % 250 + 1}")


def _locks() -> list[str]:
    return list(
        AuditEvent.objects.filter(kind="account_locked")
        .order_by("id")
        .values_list("detail", flat=True)
    )


def test_a_stranger_failing_50_times_does_not_lock_the_owner_out_of_a_known_address(clock):
    """Attack: one address tries 50 wrong passwords, waiting out every back-off, to lock the
    owner out. Expected: the attacker backs off (1 s, doubling, 900 s at most), every
    allowed guess is answered invalid_credentials, and the owner, from the address they
    logged in from before, logs in at once."""
    user = UserFactory()
    assert _outcome(user.email, PASSWORD, OWNER) == OK

    waits = _patient_failures(clock, user.email, ATTACKER, ATTACK)

    assert _outcome(user.email, PASSWORD, OWNER) == OK
    assert waits
    assert max(waits) == CAP_SECONDS
    assert AuditEvent.objects.filter(kind="login_failed").count() == ATTACK


def test_after_the_50_failures_the_owner_gets_in_from_a_new_address_too(clock):
    """Attack: 50 patient failures from one address. Expected: the owner from an address
    never used before is not locked out for good: it logs in (its own first try is free)."""
    user = UserFactory()
    _patient_failures(clock, user.email, ATTACKER, ATTACK)

    assert _outcome(user.email, PASSWORD, NEW_PLACE) == OK


def test_a_known_address_backs_off_after_its_free_failures_doubling_up_to_the_cap(clock):
    """Attack: guessing from the owner's own address. Expected: 5 free failures, then each
    attempt waits 1, 2, 4, ... s up to 900 s (Retry-After exactly that), and never a lock:
    the right password after the wait logs in."""
    user = UserFactory()
    assert _outcome(user.email, PASSWORD, OWNER) == OK

    free = [_outcome(user.email, WRONG, OWNER) for _ in range(FREE)]
    waits = _patient_failures(clock, user.email, OWNER, len(BACKOFF))
    told = _retry_after(user.email, PASSWORD, OWNER)
    clock.shift(told)

    assert free == [BAD] * FREE
    assert (waits, told) == (BACKOFF, CAP_SECONDS)
    assert _outcome(user.email, PASSWORD, OWNER) == OK


def test_an_unknown_address_backs_off_from_its_first_failure_once_the_account_is_attacked(
    clock,
):
    """Attack: 10 addresses fail once each (the account's threshold in 15 minutes).
    Expected: a new address gets no free failures: after one wrong password it waits 1 s,
    after a second 2 s; the owner's known address is not held back at all."""
    user = UserFactory()
    assert _outcome(user.email, PASSWORD, OWNER) == OK
    assert {_outcome(user.email, WRONG, _from(n)) for n in range(THRESHOLD)} == {BAD}

    assert _outcome(user.email, WRONG, NEW_PLACE) == BAD
    first = _retry_after(user.email, PASSWORD, NEW_PLACE)
    clock.shift(first)
    assert _outcome(user.email, WRONG, NEW_PLACE) == BAD
    second = _retry_after(user.email, PASSWORD, NEW_PLACE)
    clock.shift(second)

    assert (first, second) == (1, 2)
    assert _outcome(user.email, PASSWORD, NEW_PLACE) == OK
    assert [_outcome(user.email, WRONG, OWNER) for _ in range(FREE)] == [BAD] * FREE


def test_a_success_resets_the_pair(clock):
    user = UserFactory()
    _patient_failures(clock, user.email, OWNER, FREE + 2)
    clock.shift(_retry_after(user.email, PASSWORD, OWNER))
    assert _outcome(user.email, PASSWORD, OWNER) == OK

    again = [_outcome(user.email, WRONG, OWNER) for _ in range(FREE + 1)]

    assert again == [BAD] * FREE + [WAIT]


def test_the_account_window_ends(clock):
    """Past the window, the account's failures no longer take an unknown pair's free ones."""
    user = UserFactory()
    assert {_outcome(user.email, WRONG, _from(n)) for n in range(THRESHOLD)} == {BAD}
    clock.shift(WINDOW_SECONDS)

    assert [_outcome(user.email, WRONG, NEW_PLACE) for _ in range(FREE)] == [BAD] * FREE


def test_past_100_consecutive_failures_unknown_clients_are_refused_known_ones_get_in(clock):
    """Attack: 100 addresses (a botnet) fail once each, to reach the hard cap.
    Expected: past 100 consecutive failures, every unknown address is refused (Throttled,
    900 s) even with the right password and before any hashing; the owner's known address
    logs in, which ends the run of failures: unknown addresses may try again. The lock is
    audited twice: the window's threshold, then the cap."""
    user = UserFactory()
    assert _outcome(user.email, PASSWORD, OWNER) == OK
    assert {_outcome(user.email, WRONG, _from(n)) for n in range(HARD_CAP)} == {BAD}

    refused = _retry_after(user.email, PASSWORD, NEW_PLACE)
    assert _outcome(user.email, PASSWORD, OWNER) == OK

    assert refused == CAP_SECONDS
    assert AuditEvent.objects.filter(kind="login_failed").count() == HARD_CAP
    assert _locks() == ["10 failures in 900 s", "100 consecutive failures"]
    assert _outcome(user.email, PASSWORD, NEW_PLACE) == OK


def test_throttle_clear_lifts_the_cap_and_is_audited(settings, clock):
    """Attack: the hard cap reached. Expected: `manage.py throttle_clear EMAIL` clears it
    (an unknown address logs in at once), and an account_unlocked event records it."""
    settings.THROTTLE_ACCOUNT_MAX_FAILURES = small_cap = 3
    user = UserFactory()
    assert {_outcome(user.email, WRONG, _from(n)) for n in range(small_cap)} == {BAD}
    assert _outcome(user.email, PASSWORD, NEW_PLACE) == WAIT
    out = StringIO()

    call_command("throttle_clear", user.email.upper(), stdout=out)

    assert out.getvalue() == f"cleared the failed logins of {user.email.upper()}\n"
    unlocked = AuditEvent.objects.get(kind="account_unlocked")
    assert (unlocked.user, unlocked.email, unlocked.detail) == (
        user,
        user.email,
        "failures cleared",
    )
    assert _outcome(user.email, PASSWORD, NEW_PLACE) == OK


def test_throttle_clear_of_an_account_with_no_failures_says_so(db):
    out = StringIO()

    call_command("throttle_clear", "nobody@example.com", stdout=out)

    assert out.getvalue() == "no failed logins were counted on nobody@example.com\n"
    assert AuditEvent.objects.get(kind="account_unlocked").detail == "no failures counted"


def test_the_lock_is_audited_once_per_window(clock):
    user = UserFactory()
    for n in range(THRESHOLD + FREE):
        _outcome(user.email, WRONG, _from(n))
    clock.shift(WINDOW_SECONDS)
    for n in range(THRESHOLD):
        _outcome(user.email, WRONG, _from(THRESHOLD + FREE + n))

    locks = AuditEvent.objects.filter(kind="account_locked")

    assert _locks() == ["10 failures in 900 s"] * 2
    assert {(event.user, event.email) for event in locks} == {(user, user.email)}


def test_unknown_emails_are_throttled_the_same_way(clock):
    """Attack: probing an email that has no account. Expected: the same back-off (nothing
    tells it apart from a real account)."""
    outcomes = [_outcome("nobody@example.com", WRONG, ATTACKER) for _ in range(FREE + 1)]

    assert outcomes == [BAD] * FREE + [WAIT]


def test_successful_logins_do_not_count_against_the_account(settings, clock):
    settings.THROTTLE_ACCOUNT_FAILURES = 2
    user = UserFactory()

    assert [_outcome(user.email, PASSWORD, _from(n)) for n in range(4)] == [OK] * 4


def test_one_address_trying_many_accounts_is_refused_past_the_per_minute_limit(settings):
    """Attack: credential stuffing from one address across many accounts.
    Expected: past THROTTLE_LOGIN_PER_MINUTE attempts, Throttled; other addresses go on."""
    settings.THROTTLE_LOGIN_PER_MINUTE = 5

    outcomes = [_outcome(f"victim{n}@example.com", "guess-123456", ATTACKER) for n in range(6)]

    assert outcomes == [BAD] * 5 + [WAIT]
    assert _outcome("victim0@example.com", "guess-123456", NEW_PLACE) == BAD


def test_signup_flood_from_one_address_is_refused(settings):
    """Attack: mass registration from one address. Expected: Throttled past the limit."""
    settings.THROTTLE_REGISTER_PER_MINUTE = 2
    for n in range(2):
        services.user_register(email=f"bot{n}@example.com", password=PASSWORD, caller=ATTACKER)

    with pytest.raises(Throttled):
        services.user_register(email="bot2@example.com", password=PASSWORD, caller=ATTACKER)


def test_zero_turns_a_limit_off(settings):
    settings.THROTTLE_LOGIN_PER_MINUTE = 0
    settings.THROTTLE_BACKOFF_BASE_SECONDS = 0

    outcomes = {_outcome("x@example.com", "guess-123456", ATTACKER) for _ in range(40)}

    assert outcomes == {BAD}


def test_keys_hold_no_email_or_address_in_clear_expire_and_share_a_slot_per_account(
    token_store,
):
    user = UserFactory(email="secret.person@example.com")
    _outcome(user.email, WRONG, OWNER)
    _outcome(user.email, PASSWORD, OWNER)
    services.user_register(email="other@example.com", password=PASSWORD, caller=OWNER)

    keys = [key.decode() for key in token_store.keys("auth:{t:*")]
    account = [key for key in keys if key.startswith("auth:{t:acct:")]

    assert not any("secret.person" in key or OWNER.ip in key for key in keys)
    assert all(token_store.pttl(key) > 0 for key in keys)
    assert len(account) == len(["state", "known marker"])
    assert len({key_slot(key.encode()) for key in account}) == 1


def test_guessing_the_current_password_with_a_stolen_access_token_is_throttled(clock):
    """Attack: a stolen access token used to guess the password through password change.
    Expected: after 5 wrong guesses from that address, Throttled (1 s) even for the right
    password, and logins from that address back off too; the owner's own known address
    is not held back."""
    user = UserFactory()
    assert _outcome(user.email, PASSWORD, OWNER) == OK

    def change(current):
        return services.user_change_password(
            user=user, current_password=current, new_password=NEW_PASSWORD, caller=ATTACKER
        )

    for _ in range(FREE):
        with pytest.raises(WrongPassword):
            change(WRONG)
    with pytest.raises(Throttled) as refused:
        change(PASSWORD)

    assert refused.value.retry_after == 1
    assert _outcome(user.email, PASSWORD, ATTACKER) == WAIT
    assert _outcome(user.email, PASSWORD, OWNER) == OK
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
