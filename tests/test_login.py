"""POST /api/token/: a token pair for the right password; every failure looks and costs the same."""

from __future__ import annotations

from datetime import UTC, datetime
from http import HTTPStatus
from unittest.mock import patch

import pytest
from django.conf import settings
from django.contrib.auth.hashers import make_password

from accounts.hashers import Argon2idHasher
from accounts.models import User
from tests.factories import PASSWORD, UserFactory
from tests.jwt_tools import claims_of, header_of, signer

pytestmark = pytest.mark.django_db

TOKEN = "/api/token/"
BAD_CREDENTIALS = {
    "detail": "No active account found with the given credentials.",
    "code": "invalid_credentials",
}


def _login(api, email, password=PASSWORD):
    return api.post(TOKEN, {"email": email, "password": password}, content_type="application/json")


def test_login_answers_a_bearer_pair_that_is_never_cached(api, user):
    response = _login(api, user.email)

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert set(body) == {"access", "refresh", "token_type", "expires_in"}
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 300)
    assert response["Cache-Control"] == "no-store"
    assert claims_of(body["access"])["sub"] == str(user.pk)
    assert body["refresh"].startswith("rt1_")
    assert access["exp"] - access["iat"] == 300
    assert refresh["exp"] - refresh["iat"] == 86400
    assert access["iss"] == refresh["iss"] == settings.JWT_ISSUER
    assert access["aud"] == refresh["aud"] == settings.JWT_AUDIENCE
    kid, _ = signer()
    assert header_of(body["access"]) == {"alg": "ES256", "kid": kid, "typ": "JWT"}


def test_login_email_is_case_insensitive(api):
    UserFactory(email="ada@example.com")

    assert _login(api, " ADA@Example.com ").status_code == HTTPStatus.OK


def test_unknown_email_wrong_password_and_inactive_user_get_the_same_401(api):
    """Attack: account enumeration through login answers.
    Expected: unknown email, wrong password and inactive user give byte-identical 401s."""
    UserFactory(email="known@example.com")
    UserFactory(email="inactive@example.com", is_active=False)

    responses = [
        _login(api, "nobody@example.com"),
        _login(api, "known@example.com", "not the password at all"),
        _login(api, "inactive@example.com"),  # right password
    ]

    for response in responses:
        assert response.status_code == HTTPStatus.UNAUTHORIZED
        assert response.json() == BAD_CREDENTIALS
        assert "access" not in response.json()
    assert len({(r.content, r.get("WWW-Authenticate")) for r in responses}) == 1


@pytest.mark.parametrize(
    ("email", "password"),
    [
        pytest.param("nobody@example.com", PASSWORD, id="unknown-email"),
        pytest.param("known@example.com", "not the password at all", id="wrong-password"),
        pytest.param("inactive@example.com", PASSWORD, id="inactive-user"),
        pytest.param("known@example.com", PASSWORD, id="success"),
    ],
)
def test_every_login_path_runs_exactly_one_argon2id_computation(api, email, password):
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
    ):
        _login(api, email, password)

    assert encode.call_count + verify.call_count == 1
    for call in encode.call_args_list:
        assert call.args[1] == password  # the real input is hashed, not a constant
    for call in verify.call_args_list:
        assert call.args[2].startswith("argon2id$argon2id$v=19$m=19456,t=2,p=1$")


def test_login_records_last_login(api, user, time_machine):
    moment = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
    time_machine.move_to(moment, tick=False)
    assert user.last_login is None

    assert _login(api, user.email).status_code == HTTPStatus.OK

    user.refresh_from_db()
    assert user.last_login == moment


def test_failed_login_does_not_touch_last_login(api, user):
    _login(api, user.email, "not the password at all")

    user.refresh_from_db()
    assert user.last_login is None


def _argon2_parameters(encoded: str) -> tuple[str, str, str, str]:
    prefix, variant, version, params, _salt, _hash = encoded.split("$")
    return prefix, variant, version, params


def test_new_passwords_are_argon2id_at_owasp_minimum_cost(api):
    api.post(
        "/api/register/",
        {"email": "ada@example.com", "password": PASSWORD},
        content_type="application/json",
    )

    stored = User.objects.get().password
    assert _argon2_parameters(stored) == ("argon2id", "argon2id", "v=19", "m=19456,t=2,p=1")


@pytest.mark.parametrize("hasher", ["pbkdf2_sha256", "argon2"])
def test_an_older_hash_still_verifies_and_is_upgraded_on_login(api, hasher):
    legacy = make_password(PASSWORD, hasher=hasher)
    user = User.objects.create(email="old@example.com", password=legacy)
    assert legacy.startswith(f"{hasher}$")

    assert _login(api, "old@example.com").status_code == HTTPStatus.OK

    user.refresh_from_db()
    assert _argon2_parameters(user.password) == ("argon2id", "argon2id", "v=19", "m=19456,t=2,p=1")
    assert user.check_password(PASSWORD)


def test_a_wrong_password_does_not_upgrade_an_older_hash(api):
    legacy = make_password(PASSWORD, hasher="pbkdf2_sha256")
    user = User.objects.create(email="old@example.com", password=legacy)

    assert _login(api, "old@example.com", "not the password").status_code == 401

    user.refresh_from_db()
    assert user.password == legacy
