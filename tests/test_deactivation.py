"""Deactivating or deleting a user ends every live token of theirs at once."""

from http import HTTPStatus

import pytest
from django.test import Client

from accounts import services, sessions
from accounts.models import User
from tests.factories import UserFactory
from tests.lifecycle import assert_alive, assert_dead, assert_unauthorized, me, post_json

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_http():
    admin = UserFactory(email="root@example.com", is_staff=True, is_superuser=True)
    http = Client()
    http.force_login(admin)
    return http


def _change_form(user, **overrides):
    data = {"email": user.email, "is_active": "on", "is_staff": "", "is_superuser": ""}
    data.update(overrides)
    return {name: value for name, value in data.items() if value != ""}


def test_user_deactivate_ends_every_live_token_at_once(api, user, login):
    phone, laptop = login(user), login(user)
    bystander = login(UserFactory())

    services.user_deactivate(user=user)

    assert sessions.sessions_list(user=user) == []
    assert_dead(api, phone)
    assert_dead(api, laptop)
    assert_alive(api, bystander)


def test_a_deactivated_user_cannot_log_in(api, user, password):
    services.user_deactivate(user=user)

    response = post_json(api, "/api/token/", {"email": user.email, "password": password})

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == {
        "detail": "No active account found with the given credentials.",
        "code": "invalid_credentials",
    }


def test_reactivating_a_user_does_not_revive_old_tokens(api, user, login):
    pair = login(user)
    services.user_deactivate(user=user)

    User.objects.filter(pk=user.pk).update(is_active=True)

    assert_dead(api, pair)
    assert_alive(api, login(user))


def test_the_database_is_the_authority_even_without_the_service(api, user, login):
    """A user made inactive behind the service's back (plain UPDATE) is refused at once."""
    pair = login(user)

    User.objects.filter(pk=user.pk).update(is_active=False)

    assert_unauthorized(me(api, pair["access"]))
    assert_unauthorized(post_json(api, "/api/token/refresh/", {"refresh": pair["refresh"]}))
    User.objects.filter(pk=user.pk).update(is_active=True)
    # The refused refresh ended the session, so coming back does not revive it.
    assert_dead(api, pair)


def test_admin_unticking_active_ends_every_live_token(api, admin_http, user, login):
    phone, laptop = login(user), login(user)

    response = admin_http.post(
        f"/admin/accounts/user/{user.pk}/change/", _change_form(user, is_active="")
    )

    assert response.status_code == HTTPStatus.FOUND, response.content[:2000]
    assert User.objects.get(pk=user.pk).is_active is False
    assert sessions.sessions_list(user=user) == []
    assert_dead(api, phone)
    assert_dead(api, laptop)


def test_admin_saving_an_active_user_leaves_their_sessions_alone(api, admin_http, user, login):
    pair = login(user)

    response = admin_http.post(
        f"/admin/accounts/user/{user.pk}/change/", _change_form(user, is_staff="on")
    )

    assert response.status_code == HTTPStatus.FOUND, response.content[:2000]
    assert User.objects.get(pk=user.pk).is_staff is True
    assert len(sessions.sessions_list(user=user)) == 1
    assert_alive(api, pair)


def test_user_delete_ends_every_live_token_at_once(api, user, login):
    pair = login(user)
    bystander = login(UserFactory())

    services.user_delete(user=user)

    assert not User.objects.filter(pk=user.pk).exists()
    assert sessions.sessions_list(user=user) == []
    assert_dead(api, pair)
    assert_alive(api, bystander)


def test_admin_delete_ends_every_live_token(api, admin_http, user, login):
    pair = login(user)

    response = admin_http.post(f"/admin/accounts/user/{user.pk}/delete/", {"post": "yes"})

    assert response.status_code == HTTPStatus.FOUND
    assert not User.objects.filter(pk=user.pk).exists()
    assert sessions.sessions_list(user=user) == []
    assert_dead(api, pair)


def test_admin_bulk_delete_ends_every_live_token_of_each_user(api, admin_http, login):
    first, second = UserFactory(), UserFactory()
    bystander = UserFactory()
    pairs = [login(first), login(second)]
    kept = login(bystander)

    response = admin_http.post(
        "/admin/accounts/user/",
        {"action": "delete_selected", "_selected_action": [first.pk, second.pk], "post": "yes"},
    )

    assert response.status_code == HTTPStatus.FOUND
    assert User.objects.filter(pk=bystander.pk).exists()
    assert not User.objects.filter(pk__in=[first.pk, second.pk]).exists()
    assert sessions.sessions_list(user=first) == sessions.sessions_list(user=second) == []
    for pair in pairs:
        assert_dead(api, pair)
    assert_alive(api, kept)


def test_a_deleted_and_recreated_email_does_not_inherit_tokens(api, user, login, password):
    """Attack: old tokens of a deleted account used after the email is registered again."""
    pair = login(user)
    services.user_delete(user=user)
    post_json(api, "/api/register/", {"email": user.email, "password": password})

    assert_dead(api, pair)
