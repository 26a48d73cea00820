"""Django admin on the custom user: list, search, filter, add, change password, deactivate."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.core.management import call_command

from accounts.models import User
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

USERS = "/admin/accounts/user/"
NEW_PASSWORD = "a different passphrase 42"


def _login(api, email, password=PASSWORD):
    return api.post(
        "/api/token/", {"email": email, "password": password}, content_type="application/json"
    )


def _listed(response) -> set[str]:
    assert response.status_code == HTTPStatus.OK
    return {user.email for user in response.context["cl"].result_list}


def test_admin_user_is_a_superuser_with_an_email_login(admin_user):
    assert admin_user.email == "admin@example.com"
    assert (admin_user.is_staff, admin_user.is_superuser) == (True, True)


def test_admin_lists_searches_and_filters_users(admin_client, admin_user):
    UserFactory(email="ada@example.com")
    UserFactory(email="grace@example.com", is_active=False)
    UserFactory(email="linus@example.org", is_staff=True)
    everyone = {"admin@example.com", "ada@example.com", "grace@example.com", "linus@example.org"}

    assert _listed(admin_client.get(USERS)) == everyone
    assert _listed(admin_client.get(USERS, {"q": "ADA@example"})) == {"ada@example.com"}
    assert _listed(admin_client.get(USERS, {"q": "example.org"})) == {"linus@example.org"}
    assert _listed(admin_client.get(USERS, {"is_active__exact": "0"})) == {"grace@example.com"}
    assert _listed(admin_client.get(USERS, {"is_staff__exact": "1"})) == {
        "admin@example.com",
        "linus@example.org",
    }


def test_admin_pages_are_refused_to_non_staff(client):
    user = UserFactory()
    client.force_login(user)

    response = client.get(USERS)

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith("/admin/login/")


def test_admin_add_form_creates_a_user_who_can_log_in(admin_client, api):
    response = admin_client.post(
        f"{USERS}add/",
        {
            "email": "Bob@Example.COM",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "usable_password": "true",
            "_save": "Save",
        },
    )

    assert response.status_code == HTTPStatus.FOUND, response.context["adminform"].form.errors
    user = User.objects.get(email="bob@example.com")
    assert user.password.startswith("argon2id$")
    assert _login(api, "bob@example.com").status_code == HTTPStatus.OK


def test_admin_add_form_refuses_a_case_variant_of_an_existing_email(admin_client):
    UserFactory(email="bob@example.com")

    response = admin_client.post(
        f"{USERS}add/",
        {
            "email": "BOB@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "usable_password": "true",
            "_save": "Save",
        },
    )

    assert response.status_code == HTTPStatus.OK
    assert response.context["adminform"].form.errors
    assert User.objects.filter(email__iexact="bob@example.com").count() == 1


def test_admin_add_form_applies_the_password_rules(admin_client):
    response = admin_client.post(
        f"{USERS}add/",
        {
            "email": "bob@example.com",
            "password1": "12345678",
            "password2": "12345678",
            "usable_password": "true",
            "_save": "Save",
        },
    )

    assert response.status_code == HTTPStatus.OK
    assert not User.objects.filter(email="bob@example.com").exists()


def test_admin_password_change_sets_the_new_password_and_ends_sessions(admin_client, api):
    """An admin resets a password (say, of a compromised account): the new password logs in,
    the old one does not, and the sessions opened with the old password end."""
    user = UserFactory()
    before = _login(api, user.email).json()

    response = admin_client.post(
        f"{USERS}{user.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )

    assert response.status_code == HTTPStatus.FOUND
    assert _login(api, user.email).status_code == HTTPStatus.UNAUTHORIZED
    assert _login(api, user.email, NEW_PASSWORD).status_code == HTTPStatus.OK
    me = api.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {before['access']}")
    assert me.status_code == HTTPStatus.UNAUTHORIZED
    refresh = api.post(
        "/api/token/refresh/", {"refresh": before["refresh"]}, content_type="application/json"
    )
    assert refresh.status_code == HTTPStatus.UNAUTHORIZED


def _change_form(user: User, **changes) -> dict:
    data = {
        "email": user.email,
        "is_active": "on" if user.is_active else "",
        "is_staff": "on" if user.is_staff else "",
        "is_superuser": "on" if user.is_superuser else "",
        "_save": "Save",
        **changes,
    }
    return {name: value for name, value in data.items() if value != ""}


def test_admin_deactivation_stops_logins_and_live_tokens(admin_client, api):
    user = UserFactory()
    before = _login(api, user.email).json()

    response = admin_client.post(f"{USERS}{user.pk}/change/", _change_form(user, is_active=""))

    assert response.status_code == HTTPStatus.FOUND, response.context["adminform"].form.errors
    user.refresh_from_db()
    assert user.is_active is False
    assert _login(api, user.email).status_code == HTTPStatus.UNAUTHORIZED
    me = api.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {before['access']}")
    assert me.status_code == HTTPStatus.UNAUTHORIZED
    refresh = api.post(
        "/api/token/refresh/", {"refresh": before["refresh"]}, content_type="application/json"
    )
    assert refresh.status_code == HTTPStatus.UNAUTHORIZED


def test_admin_change_form_normalizes_a_new_email(admin_client):
    user = UserFactory()

    admin_client.post(f"{USERS}{user.pk}/change/", _change_form(user, email="New@Example.COM"))

    user.refresh_from_db()
    assert user.email == "new@example.com"


def test_createsuperuser_noinput_takes_email_and_password_from_the_environment(monkeypatch, api):
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "Root@Example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)

    call_command("createsuperuser", interactive=False, verbosity=0)

    root = User.objects.get()
    assert root.email == "root@example.com"
    assert (root.is_staff, root.is_superuser, root.is_active) == (True, True, True)
    assert _login(api, "root@example.com").status_code == HTTPStatus.OK
