"""Identities that look alike, below the API: the stored form and look-alike key of an address,
the database's unique key, the migration of existing rows, and passwords hashed in their NFKC
form while hashes made before still verify."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts import services
from accounts.exceptions import InvalidCredentials
from accounts.identity import email_normalize, email_skeleton
from accounts.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LIGATURE = "\ufb01nest passphrase 42"  # LATIN SMALL LIGATURE FI: NFKC is "finest ..."
MIGRATION = importlib.import_module("accounts.migrations.0005_email_normalised")


@pytest.mark.parametrize(
    ("email", "stored", "key"),
    [
        pytest.param(" Ada@Example.COM ", "ada@example.com", "ada@example.com", id="case"),
        pytest.param("\u212aate@x.io", "kate@x.io", "kate@x.io", id="kelvin-sign"),
        pytest.param("Straße@x.de", "strasse@x.de", "strasse@x.de", id="sharp-s"),
        pytest.param("ada@XN--EXMPLE-CUA.com", "ada@exämple.com", "ada@exämple.com", id="punycode"),
        pytest.param(
            "ada\uff20example.com", "ada@example.com", "ada@example.com", id="full-width-at"
        ),
        pytest.param("m\u0131ke@x.io", "m\u0131ke@x.io", "rnike@x.io", id="dotless-i"),
        pytest.param("ada@exa_mple.com", "ada@exa_mple.com", "ada@exa_mple.com", id="no-idna"),
        pytest.param("no-at-sign", "no-at-sign", "no-at-sign", id="no-at"),
    ],
)
def test_the_stored_form_and_the_lookalike_key(email, stored, key):
    assert email_normalize(email) == stored
    assert email_skeleton(email) == key
    assert email_normalize(stored) == stored  # idempotent


def test_the_database_refuses_a_lookalike_written_around_the_service():
    """Attack: `mike@` spelt with a dotless i, saved straight through the ORM, beside `mike@`.
    Expected: the unique email_skeleton column refuses it (IntegrityError)."""
    UserFactory(email="mike@example.com")

    with pytest.raises(IntegrityError, match="email_skeleton"), transaction.atomic():
        User(email="m\u0131ke@example.com").save()

    assert list(User.objects.values_list("email", flat=True)) == ["mike@example.com"]


def test_the_admin_form_check_names_a_lookalike():
    UserFactory(email="mike@example.com")
    user = User(email="M\u0131ke@Example.com")

    with pytest.raises(Exception, match="one that looks like it"):
        user.full_clean(exclude=["password"])


def test_a_legacy_hash_of_a_non_nfkc_password_logs_in_and_is_upgraded(argon2, caller):
    """A hash made before NFKC (Argon2id over the password as typed) still verifies with the
    password as typed, and is then re-hashed over its NFKC form, after which either spelling
    logs in."""
    legacy = make_password(LIGATURE, hasher="argon2id")
    assert legacy.startswith("argon2id$")
    user = UserFactory(email="old@example.com", password="!")
    User.objects.filter(pk=user.pk).update(password=legacy)

    with pytest.raises(InvalidCredentials):  # the old hash was made over the ligature
        services.user_login(email="old@example.com", password="finest passphrase 42", caller=caller)
    services.user_login(email="old@example.com", password=LIGATURE, caller=caller)

    user.refresh_from_db()
    assert user.password.startswith("argon2id_nfkc$argon2id$")
    for spelling in (LIGATURE, "finest passphrase 42"):
        assert services.user_login(email="old@example.com", password=spelling, caller=caller)


def test_new_hashes_are_made_over_the_nfkc_form(argon2):
    user = services.user_register(email="ada@example.com", password=LIGATURE)

    assert user.password.startswith("argon2id_nfkc$")
    assert user.check_password("finest passphrase 42")
    assert not user.check_password("finest passphrase 43")


def _write_raw(email: str) -> User:
    """A row as the code before 0005 left it: the email as it was, no look-alike key yet."""
    user = UserFactory()
    User.objects.filter(pk=user.pk).update(email=email, email_skeleton=f"old-{user.pk}")
    return user


def test_the_migration_normalises_existing_addresses():
    ada, kate = _write_raw("ada@XN--EXMPLE-CUA.com"), _write_raw("\u212aate@example.com")

    MIGRATION._normalise(apps, None)

    ada.refresh_from_db()
    kate.refresh_from_db()
    assert (ada.email, ada.email_skeleton) == ("ada@exämple.com", "ada@exämple.com")
    assert (kate.email, kate.email_skeleton) == ("kate@example.com", "kate@example.com")


def test_the_migration_stops_on_two_rows_that_become_one_identity():
    """`lower` kept `straße@` and `strasse@` apart; case folding makes them one. The migration
    merges nothing: it stops, naming both, and changes no row."""
    first, second = _write_raw("strasse@example.de"), _write_raw("Straße@example.de")

    with pytest.raises(RuntimeError) as stopped:
        MIGRATION._normalise(apps, None)

    assert f"strasse@example.de (id {first.pk}), Straße@example.de (id {second.pk})" in str(
        stopped.value
    )
    second.refresh_from_db()
    assert second.email == "Straße@example.de"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40), st.text(max_size=20))
def test_the_stored_form_never_raises_and_is_stable(local, domain):
    """Any text is looked up without an error, and the stored form is its own stored form (a
    login with the stored address finds the account)."""
    stored = email_normalize(f"{local}@{domain}")

    assert email_normalize(stored) == stored
    assert email_skeleton(stored) == email_skeleton(f"{local}@{domain}")
