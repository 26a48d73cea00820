"""POST /api/oauth/introspect/ (RFC 7662) and /api/oauth/revoke/ (RFC 7009) through the test
client: what a live token says, every way a token is not live, and who may ask."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from http import HTTPStatus

import pytest

from accounts import clients, services
from tests.helpers import (
    BASIC_CHALLENGE,
    INACTIVE,
    INSUFFICIENT_SCOPE,
    INTROSPECT,
    INVALID_CLIENT,
    REVOKE,
    STORE_UNAVAILABLE,
    assert_alive,
    assert_dead,
    basic,
    claims_of,
    client_token,
    introspect,
    logout,
    other_ec_key,
    post_form,
    post_json,
    sign,
)
from tests.servers import free_port

pytestmark = pytest.mark.django_db

ACCESS_LIFETIME = timedelta(seconds=300)


@pytest.fixture
def inspector(service_account):
    """A resource server's client, allowed to introspect; (client id, secret)."""
    issued = service_account(scope="introspect", audience="orders-api", name="orders")
    return issued.client.client_id, issued.secret


def test_a_users_live_access_token_is_active_with_its_claims(api, user, login, inspector):
    pair = login(user)

    response = introspect(api, pair["access"], *inspector)

    assert response.status_code == HTTPStatus.OK, response.content
    claims = claims_of(pair["access"])
    assert response.json() == {
        "active": True,
        "sub": str(user.pk),
        "client_id": "auth-service",
        "exp": claims["exp"],
        "iat": claims["iat"],
        "iss": "auth-service",
        "aud": "auth-service",
        "token_type": "Bearer",
        "sid": claims["sid"],
        "jti": claims["jti"],
    }
    assert response["Cache-Control"] == "no-store"


def test_a_clients_live_token_is_active_with_its_scope(api, service_account, inspector):
    billing = service_account()
    access = client_token(api, billing.client.client_id, billing.secret).json()["access_token"]

    body = introspect(api, access, *inspector).json()

    claims = claims_of(access)
    assert body == {
        "active": True,
        "sub": billing.client.client_id,
        "client_id": billing.client.client_id,
        "scope": "read:invoices introspect",
        "exp": claims["exp"],
        "iat": claims["iat"],
        "iss": "auth-service",
        "aud": "billing-api",
        "token_type": "Bearer",
        "sid": billing.client.token_sid,
        "jti": claims["jti"],
    }


def test_a_logout_shows_at_once(api, user, login, inspector):
    """A resource server introspecting sees the logout the moment it happens, not when the
    access token expires. Expected: active, then {"active": false} right after the logout."""
    pair = login(user)
    assert introspect(api, pair["access"], *inspector).json()["active"] is True

    logout(api, pair["refresh"])

    assert introspect(api, pair["access"], *inspector).json() == INACTIVE


def test_a_disabled_clients_tokens_die_at_once(api, service_account, inspector):
    billing = service_account()
    access = client_token(api, billing.client.client_id, billing.secret).json()["access_token"]

    clients.client_disable(client=billing.client)

    assert introspect(api, access, *inspector).json() == INACTIVE
    # Enabled again, its old tokens stay dead; a new one works.
    clients.client_enable(client=billing.client)
    assert introspect(api, access, *inspector).json() == INACTIVE
    fresh = client_token(api, billing.client.client_id, billing.secret).json()["access_token"]
    assert introspect(api, fresh, *inspector).json()["active"] is True


def test_a_scope_change_ends_the_clients_tokens(api, service_account, inspector):
    billing = service_account()
    access = client_token(api, billing.client.client_id, billing.secret).json()["access_token"]

    clients.client_update(
        client=billing.client, name="billing", scope="introspect", audience="billing-api"
    )

    assert introspect(api, access, *inspector).json() == INACTIVE


def _ended_by_logout_all(api, user, login):
    pair = login(user)
    post_json(api, "/api/logout/all/", None, HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    return pair["access"]


def _forged(api, user, login):
    claims = claims_of(login(user)["access"])
    return sign(claims, key=other_ec_key())


@pytest.mark.parametrize(
    "token_of",
    [
        pytest.param(lambda api, user, login: login(user)["refresh"], id="refresh-token"),
        pytest.param(_ended_by_logout_all, id="ended-by-logout-all"),
        pytest.param(_forged, id="signed-by-another-key"),
        pytest.param(lambda api, user, login: "not-a-token", id="garbage"),
        pytest.param(lambda api, user, login: "é" * 40, id="not-ascii"),
        pytest.param(lambda api, user, login: login(user)["access"][:-4], id="truncated"),
    ],
)
def test_anything_but_a_live_access_token_is_inactive(api, user, login, inspector, token_of):
    """A refresh token (it belongs to this service's own login client, never to the one
    asking), an ended session, a forgery, a string that is no token. Expected: 200
    {"active": false}, nothing else."""
    response = introspect(api, token_of(api, user, login), *inspector)

    assert response.status_code == HTTPStatus.OK
    assert response.json() == INACTIVE


def test_an_expired_token_is_inactive(api, user, login, inspector, time_machine):
    time_machine.move_to(datetime(2031, 3, 1, 12, tzinfo=UTC), tick=False)
    pair = login(user)

    time_machine.move_to(datetime(2031, 3, 1, 12, tzinfo=UTC) + ACCESS_LIFETIME)

    assert introspect(api, pair["access"], *inspector).json() == INACTIVE


def test_a_deactivated_users_token_is_inactive(api, user, login, inspector):
    pair = login(user)

    services.user_deactivate(user=user)

    assert introspect(api, pair["access"], *inspector).json() == INACTIVE


def test_attack_a_client_without_introspect_scope_is_403(api, user, login, service_account):
    """Attack: a client that may not introspect (no `introspect` scope) probes a user's token.
    Expected: 403 insufficient_scope, and nothing about the token."""
    nosy = service_account(scope="read:invoices", name="nosy")
    pair = login(user)

    response = introspect(api, pair["access"], nosy.client.client_id, nosy.secret)

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json() == INSUFFICIENT_SCOPE


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-credentials"),
        pytest.param("wrong-secret", id="wrong-secret"),
        pytest.param("disabled", id="disabled-client"),
    ],
)
def test_attack_introspection_without_a_valid_client_is_401(
    api, user, login, service_account, headers
):
    """Attack: introspection with no client credentials, a wrong secret, or a disabled
    client's. Expected: 401 invalid_client with the Basic challenge."""
    issued = service_account(scope="introspect")
    if headers == "wrong-secret":
        headers = basic(issued.client.client_id, "sks_wrong")
    elif headers == "disabled":
        clients.client_disable(client=issued.client)
        headers = basic(issued.client.client_id, issued.secret)

    response = post_form(api, INTROSPECT, {"token": login(user)["access"]}, **headers)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == INVALID_CLIENT
    assert response["WWW-Authenticate"] == BASIC_CHALLENGE


# --- revocation (RFC 7009) ------------------------------------------------------------------


def _assert_revoked_answer(response) -> None:
    assert response.status_code == HTTPStatus.OK, response.content
    assert response.content == b""
    assert response["Cache-Control"] == "no-store"


def test_a_user_revokes_their_own_refresh_token_without_client_auth(api, user, login):
    pair = login(user)

    _assert_revoked_answer(post_form(api, REVOKE, {"token": pair["refresh"]}))

    assert_dead(api, pair)


def test_a_client_revokes_a_refresh_token_it_holds(api, user, login, inspector):
    pair = login(user)
    data = {"token": pair["refresh"], "token_type_hint": "refresh_token"}

    _assert_revoked_answer(post_form(api, REVOKE, data, **basic(*inspector)))

    assert_dead(api, pair)


@pytest.mark.parametrize(
    "token", ["", "rt1_AAAA", "not-a-token", "eyJhbGciOiJub25lIn0.e30."], ids=repr
)
def test_revoking_anything_else_is_200_all_the_same(api, db, token):
    """RFC 7009 2.2: an invalid token gets 200 too, so nothing tells what a string is."""
    if token == "":
        # Sent without a value is omitted (RFC 6749 3.2): the parameter is missing.
        response = post_form(api, REVOKE, {"token": token})
        assert response.status_code == HTTPStatus.BAD_REQUEST
        assert response.json()["error"] == "invalid_request"
        return
    _assert_revoked_answer(post_form(api, REVOKE, {"token": token}))


def test_an_access_token_sent_to_revoke_leaves_the_session_alone(api, user, login):
    pair = login(user)

    _assert_revoked_answer(post_form(api, REVOKE, {"token": pair["access"]}))

    assert_alive(api, pair)


def test_attack_revocation_with_a_wrong_client_secret_is_401_and_revokes_nothing(
    api, user, login, inspector
):
    """Attack: a client id with a guessed secret tries to revoke a user's session.
    Expected: 401 invalid_client, and the session still works."""
    pair = login(user)

    response = post_form(api, REVOKE, {"token": pair["refresh"]}, **basic(inspector[0], "sks_x"))

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == INVALID_CLIENT
    assert_alive(api, pair)


def test_introspection_fails_closed_without_the_token_store(api, user, login, inspector, settings):
    """Fault: the token store is down (a closed port). Expected: 503 token_store_unavailable
    with Retry-After, never an `active` answer a resource server could take for a yes or a no."""
    pair = login(user)
    settings.TOKEN_STORE_URL = f"redis://127.0.0.1:{free_port()}/0"

    response = introspect(api, pair["access"], *inspector)

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json() == STORE_UNAVAILABLE
    assert response["Retry-After"] == "5"
