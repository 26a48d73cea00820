"""GET /api/auth/verify: forward auth for gateways (NGINX auth_request, Traefik ForwardAuth,
Caddy forward_auth). A live access token: 200, no body, the caller in X-Auth-* headers. Anything
else: 401 with the common body and `WWW-Authenticate: Bearer error="invalid_token"`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from http import HTTPStatus

import pytest
from django.contrib.auth.models import Group

from tests.factories import UserFactory
from tests.helpers import (
    INVALID_TOKEN,
    assert_unauthorized,
    auth,
    claims_of,
    logout,
    other_ec_key,
    sign,
)

pytestmark = pytest.mark.django_db

VERIFY = "/api/auth/verify"


def test_a_live_access_token_passes_with_the_caller_in_headers_and_no_body(api, login, settings):
    settings.JWT_GROUP_SCOPES = {"staff": ["users:read"]}
    user = UserFactory()
    user.groups.set([Group.objects.create(name=name) for name in ("staff", "billing")])
    access = login(user)["access"]

    response = api.get(VERIFY, **auth(access))

    assert response.status_code == HTTPStatus.OK
    assert response.content == b""
    assert response["X-Auth-User-Id"] == str(user.pk)
    assert response["X-Auth-Session-Id"] == claims_of(access)["sid"]
    assert response["X-Auth-Roles"] == "billing,staff"
    assert response["X-Auth-Scope"] == "users:read"
    assert response["Cache-Control"] == "no-store"
    assert "Content-Type" not in response


def test_a_user_in_no_group_passes_with_empty_roles(api, login, user):
    response = api.get(VERIFY, **auth(login(user)["access"]))

    assert response.status_code == HTTPStatus.OK
    assert (response["X-Auth-Roles"], response["X-Auth-Scope"]) == ("", "")


def test_role_names_that_would_break_the_list_are_percent_encoded(api, login):
    """A group name with a comma, a space, a percent sign or non-ASCII letters must not split
    into two roles or smuggle bytes into a header: each is percent-encoded (RFC 3986)."""
    user = UserFactory()
    names = ("admins,ops", "Support staff", "100%", "équipe", "team:read/write")
    user.groups.set([Group.objects.create(name=name) for name in names])

    response = api.get(VERIFY, **auth(login(user)["access"]))

    assert response["X-Auth-Roles"] == (
        "100%25,Support%20staff,admins%2Cops,team:read/write,%C3%A9quipe"
    )


def test_forward_auth_reads_no_sql(api, login, user, django_assert_num_queries):
    """One Redis round trip and no PostgreSQL: the session is checked against the user's
    generation floor in Redis, the roles come from the token."""
    access = login(user)["access"]

    with django_assert_num_queries(0):
        response = api.get(VERIFY, **auth(access))

    assert response.status_code == HTTPStatus.OK


def _expired(api, access, time_machine):
    time_machine.move_to(datetime.now(UTC) + timedelta(minutes=5, seconds=1))
    return {"HTTP_AUTHORIZATION": f"Bearer {access}"}


def _logged_out(api, pair):
    assert logout(api, pair["refresh"]).status_code == HTTPStatus.NO_CONTENT
    return auth(pair["access"])


BAD = {
    "no header": lambda api, pair, clock: {},
    "empty bearer": lambda api, pair, clock: {"HTTP_AUTHORIZATION": "Bearer "},
    "basic scheme": lambda api, pair, clock: {"HTTP_AUTHORIZATION": "Basic dXNlcjpwYXNz"},
    "garbage": lambda api, pair, clock: auth("not.a.token"),
    "refresh token": lambda api, pair, clock: auth(pair["refresh"]),
    "foreign key": lambda api, pair, clock: auth(
        sign(claims_of(pair["access"]), key=other_ec_key())
    ),
    "expired": lambda api, pair, clock: _expired(api, pair["access"], clock),
    "logged out": lambda api, pair, clock: _logged_out(api, pair),
}


@pytest.mark.parametrize("make_headers", BAD.values(), ids=BAD.keys())
def test_anything_but_a_live_access_token_is_401(api, login, user, time_machine, make_headers):
    """Attack: a gateway asks whether to let a request through with a missing, malformed,
    forged, expired, refresh or logged-out token. Expected: 401 invalid_token, with
    `WWW-Authenticate`, and no X-Auth-* header a gateway could copy upstream."""
    pair = login(user)

    response = api.get(VERIFY, **make_headers(api, pair, time_machine))

    assert_unauthorized(response, INVALID_TOKEN)
    assert not [name for name in response.headers if name.lower().startswith("x-auth-")]


def test_only_get_is_allowed(api, login, user):
    response = api.delete(VERIFY, **auth(login(user)["access"]))

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response.json() == {"detail": "Method not allowed.", "code": "method_not_allowed"}
