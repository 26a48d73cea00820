"""POST /api/register/ over HTTP: 201 with the user, 400 listing every problem, 409 for a
taken address, unknown fields refused. (The rules themselves: tests/accounts/test_services.py.)"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http import HTTPStatus

import pytest
from django.db import connection
from django.test import Client

from accounts.models import User
from tests.factories import PASSWORD, UserFactory
from tests.helpers import post_json

pytestmark = pytest.mark.django_db

REGISTER = "/api/register/"
EMAIL_TAKEN = {"detail": "An account with this email already exists.", "code": "email_taken"}
RACERS = 20
UNSAFE_TEXT = "Must not contain NUL, control characters or lone surrogates."
# What PostgreSQL cannot store (NUL), what has no UTF-8 form to hash (a lone surrogate), and a
# control character that has no business in an address or a password.
UNSAFE = [
    pytest.param("\x00", id="nul"),
    pytest.param("\ud800", id="lone-surrogate"),
    pytest.param("\x1b", id="escape"),
]
EMAIL_MAX = 254
PASSWORD_MAX = 4096


def _invalid_request(field: str, message: str) -> dict:
    return {
        "detail": "Invalid request.",
        "code": "invalid_request",
        "errors": [{"field": field, "message": message}],
    }


def _register(api: Client, email: str, password: str = PASSWORD, **extra):
    return post_json(api, REGISTER, {"email": email, "password": password, **extra})


def test_register_answers_201_with_the_normalized_user(api, time_machine):
    time_machine.move_to(datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC), tick=False)

    response = _register(api, "  Ada.Lovelace@Example.COM ")

    assert response.status_code == HTTPStatus.CREATED
    user = User.objects.get()
    assert response.json() == {
        "id": str(user.pk),
        "email": "ada.lovelace@example.com",
        "date_joined": "2030-01-02T03:04:05Z",
    }


def test_register_lists_every_problem_in_one_400(api):
    response = _register(api, "not-an-email", "123")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {
        "detail": "Invalid input.",
        "code": "invalid",
        "errors": [
            {"field": "email", "message": "Enter a valid email address."},
            {
                "field": "password",
                "message": "This password is too short. It must contain at least 8 characters.",
            },
            {"field": "password", "message": "This password is too common."},
            {"field": "password", "message": "This password is entirely numeric."},
        ],
    }
    assert not User.objects.exists()


def test_register_a_taken_email_is_409_when_enumeration_is_open(api, settings):
    settings.REGISTRATION_ENUMERATION = "open"
    UserFactory(email="ada@example.com")

    response = _register(api, "ADA@Example.com")

    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json() == EMAIL_TAKEN


def test_register_refuses_an_is_staff_field(api):
    """Attack: mass assignment, a body that tries to set is_staff / is_superuser.
    Expected: 400 invalid_request naming each unknown field, and no user (staff or not)."""
    response = _register(api, "mallory@example.com", is_staff=True, is_superuser=True)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {
        "detail": "Invalid request.",
        "code": "invalid_request",
        "errors": [
            {"field": "is_staff", "message": "Unknown field."},
            {"field": "is_superuser", "message": "Unknown field."},
        ],
    }
    assert not User.objects.exists()


def test_twenty_concurrent_registrations_of_one_address_make_one_account(
    transactional_db, settings
):
    """Race: 20 registrations of one address (in different cases) at once, each on its own
    database connection (REGISTRATION_ENUMERATION=open). Expected: exactly one row and one 201;
    the other 19 are 409. (Protected: tests/api/test_register_enumeration.py.)"""
    settings.REGISTRATION_ENUMERATION = "open"
    variants = [
        "".join(c.upper() if (n >> i) & 1 else c for i, c in enumerate("race@example.com"))
        for n in range(RACERS)
    ]
    barrier = threading.Barrier(len(variants))

    def register(email: str):
        try:
            barrier.wait(timeout=10)
            response = _register(Client(), email)
            return response.status_code, response.json()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(variants)) as pool:
        results = list(pool.map(register, variants))

    statuses = Counter(status for status, _ in results)
    assert statuses == {HTTPStatus.CREATED: 1, HTTPStatus.CONFLICT: RACERS - 1}
    assert all(body == EMAIL_TAKEN for status, body in results if status == HTTPStatus.CONFLICT)
    assert list(User.objects.values_list("email", flat=True)) == ["race@example.com"]


@pytest.mark.parametrize("char", UNSAFE)
@pytest.mark.parametrize("field", ["email", "password"])
def test_register_refuses_nul_control_characters_and_lone_surrogates(api, settings, field, char):
    """Attack: a NUL, a lone surrogate (sent as the JSON escape) or a control character in the
    email or password, which used to reach PostgreSQL or the hasher and answer 500.
    Expected: 400 invalid_request naming the field, no user, and the throttle not counting it."""
    settings.THROTTLE_REGISTER_PER_MINUTE = 1
    body = {"email": "ada@example.com", "password": PASSWORD}
    body[field] = body[field][:2] + char + body[field][2:]

    response = post_json(api, REGISTER, body)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == _invalid_request(field, UNSAFE_TEXT)
    assert not User.objects.exists()
    assert _register(api, "ada@example.com").status_code == HTTPStatus.CREATED


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        pytest.param(
            "email",
            "a" * (EMAIL_MAX - len("@example.com") + 1) + "@example.com",
            f"String should have at most {EMAIL_MAX} characters",
            id="email-too-long",
        ),
        pytest.param(
            "password",
            "p" * (PASSWORD_MAX + 1),
            f"String should have at most {PASSWORD_MAX} characters",
            id="password-too-long",
        ),
        pytest.param("email", "", "String should have at least 1 character", id="email-empty"),
    ],
)
def test_register_refuses_a_field_past_its_length_before_any_hashing(
    api, monkeypatch, field, value, message
):
    """Attack: a password of megabytes to hash, an address past RFC 5321's limit.
    Expected: 400 invalid_request naming the field, refused before the service is called."""
    monkeypatch.setattr("accounts.services.user_register", _never_called)

    response = _register(api, **{"email": "ada@example.com", "password": PASSWORD, field: value})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == _invalid_request(field, message)


def _never_called(**kwargs):
    raise AssertionError("the service must not be reached")
