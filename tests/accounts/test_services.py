"""The accounts services called directly: register, authenticate, login, password, deactivate,
delete. Hashing itself is the subject only where the `argon2` fixture is asked for."""

from __future__ import annotations

from contextlib import suppress
from datetime import timedelta
from unittest.mock import patch

import pytest
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction

from accounts import services, sessions
from accounts.exceptions import (
    EmailTaken,
    InvalidCredentials,
    InvalidInput,
    InvalidToken,
    WrongPassword,
)
from accounts.hashers import Argon2idHasher
from accounts.models import AuditEvent, User
from tests.factories import PASSWORD, UserFactory
from tests.helpers import NEW_PASSWORD, T0, claims_of

pytestmark = pytest.mark.django_db

ACCESS_SECONDS = 300
REFRESH_SECONDS = 86_400
LOGIN_QUERIES = 3  # the user by email, last_login, the audit row
OWASP_ARGON2ID = ("argon2id_nfkc", "argon2id", "v=19", "m=19456,t=2,p=1")
TOO_SHORT = "This password is too short. It must contain at least 8 characters."
TOO_LONG = "This password is too long. It must contain at most 128 characters."
TOO_COMMON = "This password is too common."
NUMERIC = "This password is entirely numeric."
BAD_EMAIL = "Enter a valid email address."
LIKE_EMAIL = "The password is too similar to the email address."


def _argon2_parameters(encoded: str) -> tuple[str, str, str, str]:
    prefix, variant, version, params, _salt, _hash = encoded.split("$")
    return prefix, variant, version, params


# --- register --------------------------------------------------------------------------------


def test_register_creates_a_normalized_ordinary_user(clock):
    user = services.user_register(email="  Ada.Lovelace@Example.COM ", password=PASSWORD)

    stored = User.objects.get()
    assert stored == user
    assert stored.email == "ada.lovelace@example.com"
    assert stored.date_joined == T0
    assert stored.check_password(PASSWORD)
    assert (stored.is_active, stored.is_staff, stored.is_superuser) == (True, False, False)


@pytest.mark.parametrize("password", ["vq7#Lm2!", "vq7#Lm2!" * 16], ids=["8-chars", "128-chars"])
def test_register_accepts_passwords_of_8_to_128_characters(password):
    user = services.user_register(email="ada@example.com", password=password)

    assert user.check_password(password)


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
            [("password", LIKE_EMAIL)],
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
def test_register_reports_every_problem_at_once(email, password, errors):
    with pytest.raises(InvalidInput) as refused:
        services.user_register(email=email, password=password)

    assert refused.value.errors == [{"field": f, "message": m} for f, m in errors]
    assert not User.objects.exists()


@pytest.mark.parametrize(
    "variant", ["ada@example.com", "ADA@EXAMPLE.COM", "Ada@Example.com", "  ada@Example.com  "]
)
def test_register_refuses_a_taken_email_in_any_case(variant, settings):
    settings.REGISTRATION_ENUMERATION = "open"
    UserFactory(email="ada@example.com")

    with pytest.raises(EmailTaken):
        services.user_register(email=variant, password=PASSWORD)

    assert User.objects.count() == 1


def test_the_database_refuses_a_case_variant_inserted_around_normalization():
    """Attack: a row written straight through the ORM, skipping normalize_email.
    Expected: the database's Lower(email) constraint refuses it (IntegrityError)."""
    UserFactory(email="ada@example.com")

    with pytest.raises(IntegrityError, match="accounts_user_email_ci_unique"), transaction.atomic():
        User.objects.bulk_create([User(email="Ada@Example.COM", password="!")])

    assert list(User.objects.values_list("email", flat=True)) == ["ada@example.com"]


def test_the_database_refuses_an_update_to_a_case_variant():
    UserFactory(email="ada@example.com")
    other = UserFactory(email="grace@example.com")

    with pytest.raises(IntegrityError, match="accounts_user_email_ci_unique"), transaction.atomic():
        User.objects.filter(pk=other.pk).update(email="ADA@example.com")

    other.refresh_from_db()
    assert other.email == "grace@example.com"


# --- authenticate and login ------------------------------------------------------------------


def test_login_opens_a_session_in_three_queries(user, caller, django_assert_num_queries):
    with django_assert_num_queries(LOGIN_QUERIES):
        pair = services.user_login(email=user.email, password=PASSWORD, caller=caller)

    assert (pair.expires_in, pair.refresh_expires_in) == (ACCESS_SECONDS, REFRESH_SECONDS)
    assert claims_of(pair.access)["sub"] == str(user.pk)
    assert claims_of(pair.access)["sid"] == pair.session_id
    assert sessions.access_authenticate(pair.access).user == user


def test_login_email_is_case_insensitive(caller):
    user = UserFactory(email="ada@example.com")

    pair = services.user_login(email=" ADA@Example.com ", password=PASSWORD, caller=caller)

    assert claims_of(pair.access)["sub"] == str(user.pk)


def test_login_records_last_login(user, caller, clock):
    assert user.last_login is None

    services.user_login(email=user.email, password=PASSWORD, caller=caller)

    user.refresh_from_db()
    assert user.last_login == T0


@pytest.mark.parametrize(
    ("email", "password"),
    [
        pytest.param("nobody@example.com", PASSWORD, id="unknown-email"),
        pytest.param("known@example.com", "not the password at all", id="wrong-password"),
        pytest.param("inactive@example.com", PASSWORD, id="inactive-user"),
    ],
)
def test_every_failed_login_is_the_same_invalid_credentials(caller, email, password):
    """Attack: account enumeration through login. Expected: the same InvalidCredentials for an
    unknown email, a wrong password and an inactive user; no session, last_login untouched."""
    UserFactory(email="known@example.com")
    UserFactory(email="inactive@example.com", is_active=False)

    with pytest.raises(InvalidCredentials) as refused:
        services.user_login(email=email, password=password, caller=caller)

    assert (refused.value.code, refused.value.detail) == (
        "invalid_credentials",
        "No active account found with the given credentials.",
    )
    assert not User.objects.filter(last_login__isnull=False).exists()
    assert not AuditEvent.objects.filter(kind=AuditEvent.Kind.LOGIN_OK).exists()


@pytest.mark.parametrize(
    ("email", "password"),
    [
        pytest.param("nobody@example.com", PASSWORD, id="unknown-email"),
        pytest.param("known@example.com", "not the password at all", id="wrong-password"),
        pytest.param("inactive@example.com", PASSWORD, id="inactive-user"),
        pytest.param("known@example.com", PASSWORD, id="success"),
    ],
)
def test_every_login_path_runs_exactly_one_argon2id_computation(argon2, caller, email, password):
    """Attack: timing oracle, telling unknown emails by a faster answer.
    Expected: every path, the unknown email included, runs one Argon2id hash or verify at
    the configured cost (counted by spying on the hasher, not by timing)."""
    UserFactory(email="known@example.com")
    UserFactory(email="inactive@example.com", is_active=False)
    with (
        patch.object(
            Argon2idHasher, "encode", autospec=True, side_effect=Argon2idHasher.encode
        ) as encode,
        patch.object(
            Argon2idHasher, "verify", autospec=True, side_effect=Argon2idHasher.verify
        ) as verify,
        suppress(InvalidCredentials),
    ):
        services.user_login(email=email, password=password, caller=caller)

    assert encode.call_count + verify.call_count == 1
    for call in encode.call_args_list:
        assert call.args[1] == password  # the real input is hashed, not a constant
    for call in verify.call_args_list:
        assert call.args[2].startswith("argon2id_nfkc$argon2id$v=19$m=19456,t=2,p=1$")


def test_new_passwords_are_argon2id_at_owasp_minimum_cost(argon2):
    user = services.user_register(email="ada@example.com", password=PASSWORD)

    assert _argon2_parameters(user.password) == OWASP_ARGON2ID


@pytest.mark.parametrize("hasher", ["pbkdf2_sha256", "argon2", "argon2id"])
def test_an_older_hash_still_verifies_and_is_upgraded_on_login(argon2, caller, hasher):
    legacy = make_password(PASSWORD, hasher=hasher)
    user = User.objects.create(email="old@example.com", password=legacy)
    assert legacy.startswith(f"{hasher}$")

    services.user_login(email="old@example.com", password=PASSWORD, caller=caller)

    user.refresh_from_db()
    assert _argon2_parameters(user.password) == OWASP_ARGON2ID
    assert user.check_password(PASSWORD)


def test_a_wrong_password_does_not_upgrade_an_older_hash(argon2, caller):
    legacy = make_password(PASSWORD, hasher="pbkdf2_sha256")
    user = User.objects.create(email="old@example.com", password=legacy)

    with pytest.raises(InvalidCredentials):
        services.user_login(email="old@example.com", password="not the password", caller=caller)

    user.refresh_from_db()
    assert user.password == legacy


# --- change and set password -----------------------------------------------------------------


def test_change_password_ends_every_session_and_opens_a_fresh_one(user, caller, start, dead):
    mine, other = start(user), start(user)
    bystander = start(UserFactory())

    fresh = services.user_change_password(
        user=user, current_password=PASSWORD, new_password=NEW_PASSWORD, caller=caller
    )

    assert fresh.session_id not in {mine.session_id, other.session_id}
    assert sessions.access_authenticate(fresh.access).user == user
    dead(mine)
    dead(other)
    assert sessions.access_authenticate(bystander.access).claims.session_id == (
        bystander.session_id
    )
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert not user.check_password(PASSWORD)


def test_after_a_password_change_only_the_new_password_logs_in(user, caller):
    services.user_change_password(
        user=user, current_password=PASSWORD, new_password=NEW_PASSWORD, caller=caller
    )

    with pytest.raises(InvalidCredentials):
        services.user_login(email=user.email, password=PASSWORD, caller=caller)
    assert services.user_login(email=user.email, password=NEW_PASSWORD, caller=caller).access


def test_a_wrong_current_password_changes_nothing(user, caller, start, alive):
    """Attack: a stolen access token changes the password without knowing it.
    Expected: WrongPassword; the password and every session stay."""
    pair = start(user)

    with pytest.raises(WrongPassword):
        services.user_change_password(
            user=user, current_password="not the password", new_password=NEW_PASSWORD,
            caller=caller,
        )  # fmt: skip

    assert User.objects.get(pk=user.pk).check_password(PASSWORD)
    alive(pair)


@pytest.mark.parametrize(
    ("weak", "message"),
    [
        ("abc12", TOO_SHORT),
        ("password123", TOO_COMMON),
        ("12345678901234", NUMERIC),
        ("x" * 129, TOO_LONG),
    ],
    ids=["short", "common", "numeric", "long"],
)
def test_a_weak_new_password_is_refused_as_at_registration(
    user, caller, start, alive, weak, message
):
    pair = start(user)

    with pytest.raises(InvalidInput) as refused:
        services.user_change_password(
            user=user, current_password=PASSWORD, new_password=weak, caller=caller
        )
    with pytest.raises(InvalidInput) as registration:
        services.user_register(email="new@example.com", password=weak)

    assert refused.value.errors == [{"field": "new_password", "message": message}]
    assert registration.value.errors == [{"field": "password", "message": message}]
    assert User.objects.get(pk=user.pk).check_password(PASSWORD)
    alive(pair)


def test_a_new_password_like_the_email_is_refused(caller):
    user = UserFactory(email="marguerite.yourcenar@example.com")

    with pytest.raises(InvalidInput) as refused:
        services.user_change_password(
            user=user, current_password=PASSWORD, new_password="marguerite.yourcenar",
            caller=caller,
        )  # fmt: skip

    assert refused.value.errors == [{"field": "new_password", "message": LIKE_EMAIL}]


def test_set_password_stores_it_and_ends_every_session(user, start, dead):
    pair = start(user)

    services.user_set_password(user=user, password=NEW_PASSWORD)

    assert User.objects.get(pk=user.pk).check_password(NEW_PASSWORD)
    dead(pair)
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.PASSWORD_CHANGED, user=user).count() == 1


# --- deactivate and delete -------------------------------------------------------------------


def test_deactivate_ends_every_live_token_at_once(user, start, dead, alive):
    phone, laptop = start(user), start(user)
    bystander = start(UserFactory())

    services.user_deactivate(user=user)

    user.refresh_from_db()
    assert user.is_active is False
    assert sessions.sessions_list(user=user) == []
    dead(phone)
    dead(laptop)
    alive(bystander)


def test_a_deactivated_user_cannot_log_in(user, caller):
    services.user_deactivate(user=user)

    with pytest.raises(InvalidCredentials):
        services.user_login(email=user.email, password=PASSWORD, caller=caller)


def test_reactivating_a_user_does_not_revive_old_tokens(user, caller, start, dead, alive):
    pair = start(user)
    services.user_deactivate(user=user)

    User.objects.filter(pk=user.pk).update(is_active=True)

    dead(pair)
    alive(services.user_login(email=user.email, password=PASSWORD, caller=caller))


def test_the_database_is_the_authority_even_without_the_service(user, caller, start, dead):
    """A user made inactive behind the service's back (plain UPDATE) is refused at once."""
    pair = start(user)

    User.objects.filter(pk=user.pk).update(is_active=False)

    with pytest.raises(InvalidToken):
        sessions.access_authenticate(pair.access)
    with pytest.raises(InvalidToken):
        sessions.session_refresh(refresh=pair.refresh, caller=caller)
    User.objects.filter(pk=user.pk).update(is_active=True)
    # The refused refresh ended the session, so coming back does not revive it.
    dead(pair)


def test_delete_ends_every_live_token_at_once(user, start, dead, alive):
    pair = start(user)
    bystander = start(UserFactory())

    services.user_delete(user=user)

    assert not User.objects.filter(pk=user.pk).exists()
    dead(pair)
    alive(bystander)


def test_a_deleted_and_recreated_email_does_not_inherit_tokens(user, start, dead):
    """Attack: old tokens of a deleted account used after the email is registered again.
    Expected: refused; the new account starts with no session."""
    pair = start(user)
    services.user_delete(user=user)

    again = services.user_register(email=user.email, password=PASSWORD)

    dead(pair)
    assert sessions.sessions_list(user=again) == []


def test_login_lifetimes_are_read_at_call_time(user, caller, settings):
    settings.ACCESS_TOKEN_LIFETIME = timedelta(minutes=1)
    settings.REFRESH_TOKEN_LIFETIME = timedelta(minutes=10)

    pair = services.user_login(email=user.email, password=PASSWORD, caller=caller)

    assert (pair.expires_in, pair.refresh_expires_in) == (60, 600)
