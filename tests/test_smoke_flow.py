from http import HTTPStatus

import pytest

pytestmark = pytest.mark.django_db


def test_register_login_me_refresh(api, password):
    created = api.post(
        "/api/register/",
        {"email": "Ada@Example.com", "password": password},
        content_type="application/json",
    )
    assert created.status_code == HTTPStatus.CREATED
    assert created.json()["email"] == "ada@example.com"

    tokens = api.post(
        "/api/token/",
        {"email": "ADA@example.com", "password": password},
        content_type="application/json",
    )
    assert tokens.status_code == HTTPStatus.OK
    body = tokens.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300
    assert tokens["Cache-Control"] == "no-store"

    me = api.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert me.status_code == HTTPStatus.OK
    assert me.json()["email"] == "ada@example.com"

    refreshed = api.post(
        "/api/token/refresh/", {"refresh": body["refresh"]}, content_type="application/json"
    )
    assert refreshed.status_code == HTTPStatus.OK
    assert refreshed.json()["refresh"] != body["refresh"]
