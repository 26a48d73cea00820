"""POST /api/password/change/: a fresh pair for the caller, every other session ends."""

from http import HTTPStatus

import pytest
from django.test import Client

from accounts.models import AuditEvent, User
from tests.factories import UserFactory
from tests.lifecycle import (
    INVALID_TOKEN,
    assert_alive,
    assert_dead,
    auth,
    claims,
    post_json,
)

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a different long passphrase"


def _change(api, access, current, new, **extra):
    body = {"current_password": current, "new_password": new}
    return post_json(api, "/api/password/change/", body, **auth(access), **extra)


def _login(api, email, password):
    return post_json(api, "/api/token/", {"email": email, "password": password})


def test_password_change_returns_a_working_pair_and_ends_every_other_session(
    api, user, login, password
):
    caller, other = login(user, agent="Phone/1.0"), login(user, agent="Laptop/2.0")

    response = _change(api, caller["access"], password, NEW_PASSWORD)

    assert response.status_code == HTTPStatus.OK, response.content
    body = response.json()
    assert set(body) == {"access", "refresh", "token_type", "expires_in"}
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 300)
    assert response["Cache-Control"] == "no-store"
    assert claims(body["access"])["sub"] == str(user.pk)
    assert claims(body["refresh"])["sid"] not in {
        claims(caller["refresh"])["sid"],
        claims(other["refresh"])["sid"],
    }
    assert_dead(api, caller)
    assert_dead(api, other)
    assert_alive(api, body)


def test_after_a_password_change_only_the_new_password_logs_in(api, user, login, password):
    caller = login(user)
    assert _change(api, caller["access"], password, NEW_PASSWORD).status_code == HTTPStatus.OK

    old = _login(api, user.email, password)
    new = _login(api, user.email, NEW_PASSWORD)

    assert old.status_code == HTTPStatus.UNAUTHORIZED
    assert old.json() == {
        "detail": "No active account found with the given credentials.",
        "code": "invalid_credentials",
    }
    assert new.status_code == HTTPStatus.OK
    assert_alive(api, new.json())


def test_password_change_leaves_other_users_sessions_alone(api, user, login, password):
    caller, bystander = login(user), login(UserFactory())

    _change(api, caller["access"], password, NEW_PASSWORD)

    assert_alive(api, bystander)


def test_wrong_current_password_is_400_and_changes_nothing(api, user, login, password):
    """Attack: a stolen access token changes the password without knowing it -> 400."""
    caller, other = login(user), login(user)

    response = _change(api, caller["access"], "not the password", NEW_PASSWORD)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {"detail": "Current password is incorrect.", "code": "wrong_password"}
    assert User.objects.get(pk=user.pk).check_password(password)
    assert_alive(api, caller)
    assert_alive(api, other)


WEAK = [
    ("abc12", "This password is too short. It must contain at least 8 characters."),
    ("password123", "This password is too common."),
    ("12345678901234", "This password is entirely numeric."),
    ("x" * 129, "This password is too long. It must contain at most 128 characters."),
]


@pytest.mark.parametrize(("weak", "message"), WEAK, ids=["short", "common", "numeric", "long"])
def test_a_weak_new_password_is_refused_as_at_registration(
    api, user, login, password, weak, message
):
    caller = login(user)

    response = _change(api, caller["access"], password, weak)
    registration = post_json(api, "/api/register/", {"email": "new@example.com", "password": weak})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {
        "detail": "Invalid input.",
        "code": "invalid",
        "errors": [{"field": "new_password", "message": message}],
    }
    assert registration.json()["errors"] == [{"field": "password", "message": message}]
    assert User.objects.get(pk=user.pk).check_password(password)
    assert_alive(api, caller)


def test_a_new_password_like_the_email_is_refused(api, login, password):
    user = UserFactory(email="marguerite.yourcenar@example.com")
    caller = login(user)

    response = _change(api, caller["access"], password, "marguerite.yourcenar")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["errors"] == [
        {"field": "new_password", "message": "The password is too similar to the email address."}
    ]


def test_password_change_needs_an_access_token(api, user, password):
    """Attack: change a password with no bearer token -> 401 invalid_token."""
    body = {"current_password": password, "new_password": NEW_PASSWORD}

    response = post_json(api, "/api/password/change/", body)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == INVALID_TOKEN
    assert User.objects.get(pk=user.pk).check_password(password)


def test_an_ended_sessions_access_token_cannot_change_the_password(api, user, login, password):
    """Attack: a logged-out session's access token changes the password -> 401."""
    pair = login(user)
    post_json(api, "/api/logout/", {"refresh": pair["refresh"]})

    response = _change(api, pair["access"], password, NEW_PASSWORD)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == INVALID_TOKEN
    assert User.objects.get(pk=user.pk).check_password(password)


def test_password_change_refuses_unknown_fields(api, user, login, password):
    caller = login(user)
    body = {"current_password": password, "new_password": NEW_PASSWORD, "is_staff": True}

    response = post_json(api, "/api/password/change/", body, **auth(caller["access"]))

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {
        "detail": "Invalid request.",
        "code": "invalid_request",
        "errors": [{"field": "is_staff", "message": "Unknown field."}],
    }
    assert not User.objects.get(pk=user.pk).is_staff


def test_an_admin_password_reset_ends_every_session(api, user, login):
    """Account recovery: an admin sets a new password -> the thief's sessions end too."""
    admin = UserFactory(is_staff=True, is_superuser=True)
    http = Client()
    http.force_login(admin)
    stolen = login(user)

    response = http.post(
        f"/admin/accounts/user/{user.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == HTTPStatus.FOUND, response.content[:3000]
    assert User.objects.get(pk=user.pk).check_password(NEW_PASSWORD)
    assert_dead(api, stolen)
    assert AuditEvent.objects.filter(kind="password_changed", user=user).count() == 1
