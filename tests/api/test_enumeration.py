"""No enumeration: the reset request and registration answer an address with an account exactly
as one without (status, headers, body; and in time), and the owner of a taken address is mailed
instead (REGISTRATION_ENUMERATION=protected, the default)."""

from __future__ import annotations

import statistics
import time
import uuid
from http import HTTPStatus

import pytest
from django_tasks_db.models import DBTaskResult

from accounts.models import AuditEvent, User
from tests.factories import PASSWORD, UserFactory
from tests.helpers import post_json
from tests.mailer import secrets_of, text_of

pytestmark = pytest.mark.django_db

SAMPLES = 50
TOLERANCE = 0.10
ROUNDS = 3
_VARYING = {"id", "date_joined"}  # random or the clock's, for a new account as for a taken one


@pytest.fixture
def unthrottled(settings):
    settings.THROTTLE_MAIL_PER_ADDRESS_PER_HOUR = 0
    settings.THROTTLE_MAIL_PER_CLIENT_PER_HOUR = 0
    settings.THROTTLE_REGISTER_PER_MINUTE = 0


def _headers(response) -> dict[str, str]:
    return dict(response.headers)


def _interleaved_medians(first, second) -> tuple[float, float]:
    """Median seconds of SAMPLES calls of each, alternated (ABBA) so that a load change on the
    machine falls on both alike."""
    times: tuple[list[float], list[float]] = ([], [])
    for n in range(SAMPLES):
        order = (0, 1) if n % 2 == 0 else (1, 0)
        for which in order:
            call = (first, second)[which]
            started = time.perf_counter()
            call(n)
            times[which].append(time.perf_counter() - started)
    return statistics.median(times[0]), statistics.median(times[1])


def _assert_as_long(first, second) -> None:
    """Medians within TOLERANCE of each other. Another process on a shared machine can skew a
    round; a real difference skews every round: up to ROUNDS rounds, one must be within."""
    rounds = []
    for _ in range(ROUNDS):
        a, b = _interleaved_medians(first, second)
        rounds.append(f"{a * 1000:.2f} vs {b * 1000:.2f} ms")
        if abs(a - b) <= TOLERANCE * min(a, b):
            return
    raise AssertionError(f"medians differ by more than {TOLERANCE:.0%}: {rounds}")


def test_reset_answers_are_byte_identical_for_known_and_unknown_addresses(api, unthrottled):
    """Attack: telling which addresses have accounts from the reset form. Expected: the same
    202, the same headers and the same body bytes."""
    UserFactory(email="ada@example.com")

    known = post_json(api, "/api/password/reset/", {"email": "ada@example.com"})
    unknown = post_json(api, "/api/password/reset/", {"email": "nobody@example.com"})

    assert known.status_code == unknown.status_code == HTTPStatus.ACCEPTED
    assert known.content == unknown.content
    assert _headers(known) == _headers(unknown)
    # One job each: the worker, not the request, tells them apart.
    assert DBTaskResult.objects.count() == 2  # noqa: PLR2004


def test_reset_takes_as_long_for_known_and_unknown_addresses(api, unthrottled):
    """Attack: timing the reset form. Expected: medians over 50 interleaved requests within
    10% of each other."""
    known = [UserFactory(email=f"known{n}@example.com").email for n in range(SAMPLES * ROUNDS)]
    rounds = iter(range(SAMPLES * ROUNDS))

    def ask(email: str) -> None:
        response = post_json(api, "/api/password/reset/", {"email": email})
        assert response.status_code == HTTPStatus.ACCEPTED

    for n in range(5):  # warm-up: first requests pay for imports and connections
        ask(f"warm{n}@example.com")
    _assert_as_long(
        lambda n: ask(known[next(rounds)]), lambda n: ask(f"x{uuid.uuid4()}@example.com")
    )


def _register(api, email: str):
    return post_json(api, "/api/register/", {"email": email, "password": PASSWORD})


def test_registration_answers_a_taken_address_like_a_new_one(api, unthrottled):
    """Attack: testing which addresses have accounts by registering them. Expected: 201 with
    the same headers and a body of the same shape, the taken address as given; no second
    account; the attempt audited."""
    UserFactory(email="ada@example.com")

    taken = _register(api, "ADA@example.com")
    new = _register(api, "bob@example.com")

    assert taken.status_code == new.status_code == HTTPStatus.CREATED
    assert _headers(taken) == {**_headers(new), "Content-Length": taken["Content-Length"]}
    assert len(taken.content) == len(new.content) + len("ada") - len("bob")
    taken_body, new_body = taken.json(), new.json()
    assert set(taken_body) == set(new_body) == {"id", "email", "date_joined"}
    assert taken_body["email"] == "ada@example.com"
    assert {k: v for k, v in taken_body.items() if k not in _VARYING} == {
        "email": taken_body["email"]
    }
    assert not User.objects.filter(pk=taken_body["id"]).exists()
    assert User.objects.filter(email="ada@example.com").count() == 1
    assert AuditEvent.objects.filter(kind="register_taken", email="ada@example.com").exists()


def test_registration_takes_as_long_for_taken_and_new_addresses(api, unthrottled, argon2):
    """Attack: timing registrations. Expected: medians over 50 interleaved requests within 10%
    of each other, with the production hasher (Argon2id)."""
    taken = [UserFactory(email=f"taken{n}@example.com").email for n in range(SAMPLES * ROUNDS)]
    rounds = iter(range(SAMPLES * ROUNDS))

    def register(email: str) -> None:
        assert _register(api, email).status_code == HTTPStatus.CREATED

    for n in range(5):
        register(f"warm{n}@example.com")
    _assert_as_long(
        lambda n: register(taken[next(rounds)]), lambda n: register(f"{uuid.uuid4()}@example.com")
    )


def test_open_mode_answers_409(api, settings):
    settings.REGISTRATION_ENUMERATION = "open"
    UserFactory(email="ada@example.com")

    response = _register(api, "ada@example.com")

    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json() == {
        "detail": "An account with this email already exists.",
        "code": "email_taken",
    }


@pytest.mark.slow
def test_the_owner_of_a_taken_address_is_mailed_and_a_new_one_gets_a_verification(api, inbox):
    UserFactory(email="ada@example.com")

    assert _register(api, "ada@example.com").status_code == HTTPStatus.CREATED
    assert _register(api, "bob@example.com").status_code == HTTPStatus.CREATED

    (notice,) = inbox.wait_for("ada@example.com")
    (verification,) = inbox.wait_for("bob@example.com")
    assert notice["Subject"] == "Someone tried to register with your address"
    assert "ada@example.com, which already has an account" in text_of(notice)
    assert "token=" not in text_of(notice)
    assert verification["Subject"] == "Confirm your email address"
    assert secrets_of(verification)


@pytest.mark.slow
def test_the_owner_is_not_mail_bombed_by_registrations(api, inbox, settings):
    """Attack: registering someone's address over and over to flood their inbox. Expected:
    every answer 201 as before, at most THROTTLE_MAIL_PER_ADDRESS_PER_HOUR notices."""
    settings.THROTTLE_MAIL_PER_ADDRESS_PER_HOUR = 2
    UserFactory(email="ada@example.com")

    statuses = {_register(api, "ada@example.com").status_code for _ in range(5)}
    _register(api, "marker@example.com")
    inbox.wait_for("marker@example.com")  # the jobs run in order: the notices are done too

    assert statuses == {HTTPStatus.CREATED}
    assert len(inbox.to("ada@example.com")) == 2  # noqa: PLR2004
