"""POST /api/register/: one account per address whatever its case, every problem listed at once."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http import HTTPStatus

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client

from accounts.models import User
from tests.factories import PASSWORD, UserFactory

REGISTER = "/api/register/"
EMAIL_TAKEN = {"detail": "An account with this email already exists.", "code": "email_taken"}


def _register(api: Client, email, password=PASSWORD, **extra):
    body = {"email": email, "password": password, **extra}
    return api.post(REGISTER, body, content_type="application/json")


def _invalid(*errors: tuple[str, str]) -> dict:
    return {
        "detail": "Invalid input.",
        "code": "invalid",
        "errors": [{"field": field, "message": message} for field, message in errors],
    }


@pytest.mark.django_db
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
    assert user.email == "ada.lovelace@example.com"
    assert user.password.startswith("argon2id$")
    assert user.check_password(PASSWORD)
    assert (user.is_active, user.is_staff, user.is_superuser) == (True, False, False)


@pytest.mark.django_db
@pytest.mark.parametrize("password", ["vq7#Lm2!", "vq7#Lm2!" * 16], ids=["8-chars", "128-chars"])
def test_register_accepts_passwords_of_8_to_128_characters(api, password):
    response = _register(api, "ada@example.com", password)

    assert response.status_code == HTTPStatus.CREATED
    assert User.objects.get().check_password(password)


TOO_SHORT = "This password is too short. It must contain at least 8 characters."
TOO_LONG = "This password is too long. It must contain at most 128 characters."
TOO_COMMON = "This password is too common."
NUMERIC = "This password is entirely numeric."
BAD_EMAIL = "Enter a valid email address."


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("email", "password", "errors"),
    [
        pytest.param(
            "not-an-email",
            "123",
            [
                ("email", BAD_EMAIL),
                ("password", TOO_SHORT),
                ("password", TOO_COMMON),
                ("password", NUMERIC),
            ],
            id="everything-wrong-at-once",
        ),
        pytest.param(
            "jonathan.smithers@example.com",
            "jonathan.smithers",
            [("password", "The password is too similar to the email address.")],
            id="similar-to-email",
        ),
        pytest.param(
            "ada@example.com", "vq7#Lm2!" * 16 + "x", [("password", TOO_LONG)], id="129-chars"
        ),
        pytest.param("ada@example.com", "password", [("password", TOO_COMMON)], id="common"),
        pytest.param("ada@example.com", "vq7#Lm2", [("password", TOO_SHORT)], id="7-chars"),
        pytest.param("ada@example.com", "83920175", [("password", NUMERIC)], id="numeric"),
        pytest.param(
            "a" * 243 + "@example.com",
            PASSWORD,
            [("email", "Enter an email address of at most 254 characters.")],
            id="email-over-254",
        ),
        pytest.param(
            "ada@example",
            "",
            [("email", BAD_EMAIL), ("password", TOO_SHORT)],
            id="no-tld-and-empty-password",
        ),
    ],
)
def test_register_lists_every_problem_in_one_400(api, email, password, errors):
    response = _register(api, email, password)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == _invalid(*errors)
    assert not User.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "variant", ["ada@example.com", "ADA@EXAMPLE.COM", "Ada@Example.com", "  ada@Example.com  "]
)
def test_register_a_taken_email_in_any_case_is_409(api, variant):
    UserFactory(email="ada@example.com")

    response = _register(api, variant)

    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json() == EMAIL_TAKEN
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_database_refuses_a_case_variant_inserted_around_normalization():
    """Attack: a row written straight through the ORM, skipping normalize_email.
    Expected: the database's Lower(email) constraint refuses it (IntegrityError)."""
    UserFactory(email="ada@example.com")

    with pytest.raises(IntegrityError, match="accounts_user_email_ci_unique"), transaction.atomic():
        User.objects.bulk_create([User(email="Ada@Example.COM", password="!")])

    assert list(User.objects.values_list("email", flat=True)) == ["ada@example.com"]


@pytest.mark.django_db
def test_database_refuses_an_update_to_a_case_variant():
    UserFactory(email="ada@example.com")
    other = UserFactory(email="grace@example.com")

    with pytest.raises(IntegrityError, match="accounts_user_email_ci_unique"), transaction.atomic():
        User.objects.filter(pk=other.pk).update(email="ADA@example.com")

    other.refresh_from_db()
    assert other.email == "grace@example.com"


@pytest.mark.django_db
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


def test_twenty_concurrent_registrations_of_one_address_make_one_account(transactional_db):
    """Race: 20 registrations of one address (in different cases) at once, each on its own
    database connection. Expected: exactly one row and one 201; the other 19 are 409."""
    variants = [
        "".join(c.upper() if (n >> i) & 1 else c for i, c in enumerate("race@example.com"))
        for n in range(20)
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
    assert statuses == {HTTPStatus.CREATED: 1, HTTPStatus.CONFLICT: 19}
    assert all(body == EMAIL_TAKEN for status, body in results if status == HTTPStatus.CONFLICT)
    assert list(User.objects.values_list("email", flat=True)) == ["race@example.com"]
