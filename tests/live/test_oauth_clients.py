"""Service accounts and introspection over real HTTP, driven by a third-party OAuth client:
Authlib's httpx `OAuth2Client` fetches client credentials tokens (HTTP Basic and form
credentials, form-encoded as RFC 6749 says), introspects (RFC 7662) and revokes (RFC 7009)
against a running server; PyJWT's JWKS client verifies the token as a resource server would."""

from __future__ import annotations

from http import HTTPStatus

import httpx
import jwt
import pytest
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from jwt import PyJWKClient

from accounts import clients
from tests.helpers import BASIC_CHALLENGE, INACTIVE, INVALID_CLIENT
from tests.live.calls import HTTP_TIMEOUT, login, refresh, unique_email
from tests.live.calls import me as me_call

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TOKEN, INTROSPECT, REVOKE = "/api/oauth/token/", "/api/oauth/introspect/", "/api/oauth/revoke/"


def _authlib(server: str, issued: clients.IssuedSecret, method: str) -> OAuth2Client:
    return OAuth2Client(
        client_id=issued.client.client_id,
        client_secret=issued.secret,
        token_endpoint_auth_method=method,
        revocation_endpoint_auth_method=method,
        timeout=HTTP_TIMEOUT,
    )


@pytest.fixture
def billing(http):
    return clients.client_create(
        name="billing", scope="read:invoices introspect", audience="billing-api"
    )


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_authlib_fetches_a_token_a_resource_server_verifies(server, billing, method):
    with _authlib(server, billing, method) as oauth:
        token = oauth.fetch_token(f"{server}{TOKEN}", grant_type="client_credentials")

    assert token["token_type"] == "Bearer"
    assert token["scope"] == "read:invoices introspect"
    assert token["expires_in"] == 300  # noqa: PLR2004
    key = PyJWKClient(f"{server}/.well-known/jwks.json").get_signing_key_from_jwt(
        token["access_token"]
    )
    claims = jwt.decode(
        token["access_token"],
        key.key,
        algorithms=["ES256"],
        audience="billing-api",
        issuer="auth-service",
    )
    assert claims["sub"] == claims["client_id"] == billing.client.client_id
    assert jwt.get_unverified_header(token["access_token"])["typ"] == "at+jwt"


def test_authlib_reads_a_wrong_secret_as_invalid_client(server, billing):
    """Attack: a wrong secret, through a real OAuth client. Expected: Authlib raises its
    OAuthError with RFC 6749's `invalid_client`, read from the 401 body."""
    billing = clients.IssuedSecret(client=billing.client, secret="sks_wrong")
    with (
        _authlib(server, billing, "client_secret_basic") as oauth,
        pytest.raises(OAuthError) as refused,
    ):
        oauth.fetch_token(f"{server}{TOKEN}", grant_type="client_credentials")

    assert refused.value.error == "invalid_client"
    assert refused.value.description == "Client authentication failed."


def test_wrong_basic_secret_over_http_is_401_with_the_basic_challenge(server, http, billing):
    """Attack: a wrong secret by HTTP Basic. Expected: 401, RFC 6749 5.2's body in the common
    shape, `WWW-Authenticate: Basic`."""
    response = http.post(
        TOKEN,
        data={"grant_type": "client_credentials"},
        auth=(billing.client.client_id, "sks_wrong"),
    )

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == INVALID_CLIENT
    assert response.headers["WWW-Authenticate"] == BASIC_CHALLENGE


def test_a_json_body_is_415_over_http(server, http, billing):
    response = http.post(TOKEN, json={"grant_type": "client_credentials"})

    assert response.status_code == HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    assert response.json()["code"] == "unsupported_media_type"


def test_authlib_introspection_sees_a_logout_and_a_disabled_client_at_once(server, http, billing):
    """A resource server introspecting with Authlib: a user's token and a client's token are
    active, then inactive the moment the session ends or the client is disabled."""
    pair = login(http, _user(http))
    orders = clients.client_create(name="orders", scope="introspect", audience="orders-api")
    with _authlib(server, billing, "client_secret_basic") as oauth:
        client_access = oauth.fetch_token(f"{server}{TOKEN}", grant_type="client_credentials")
    with _authlib(server, orders, "client_secret_basic") as resource_server:
        for token in (pair["access"], client_access["access_token"]):
            answer = resource_server.introspect_token(f"{server}{INTROSPECT}", token=token)
            assert answer.status_code == HTTPStatus.OK, answer.text
            assert answer.json()["active"] is True

        http.post("/api/logout/", json={"refresh": pair["refresh"]})
        clients.client_disable(client=billing.client)

        for token in (pair["access"], client_access["access_token"]):
            answer = resource_server.introspect_token(f"{server}{INTROSPECT}", token=token)
            assert answer.status_code == HTTPStatus.OK, answer.text
            assert answer.json() == INACTIVE


def test_authlib_revokes_a_users_refresh_token(server, http, billing):
    """A client holding a user's refresh token revokes it with Authlib (RFC 7009): 200, and
    the session is over for both tokens."""
    pair = login(http, _user(http))
    with _authlib(server, billing, "client_secret_post") as oauth:
        answer = oauth.revoke_token(
            f"{server}{REVOKE}", token=pair["refresh"], token_type_hint="refresh_token"
        )

    assert answer.status_code == HTTPStatus.OK
    assert refresh(http, pair["refresh"]).status_code == HTTPStatus.UNAUTHORIZED
    assert me_call(http, pair["access"]).status_code == HTTPStatus.UNAUTHORIZED


def test_a_user_revokes_their_refresh_token_without_client_credentials(server, http):
    pair = login(http, _user(http))

    with httpx.Client(base_url=server, timeout=HTTP_TIMEOUT) as public_client:
        answer = public_client.post(REVOKE, data={"token": pair["refresh"]})

    assert answer.status_code == HTTPStatus.OK
    assert answer.content == b""
    assert refresh(http, pair["refresh"]).status_code == HTTPStatus.UNAUTHORIZED


def _user(http: httpx.Client) -> str:
    email = unique_email("oauth")
    created = http.post("/api/register/", json={"email": email, "password": PASSWORD})
    assert created.status_code == HTTPStatus.CREATED, created.text
    return email


PASSWORD = "correct horse battery staple"
