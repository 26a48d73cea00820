"""The authorization server's metadata (RFC 8414) at /.well-known/oauth-authorization-server and
/.well-known/openid-configuration: one document, only what is true, cached like the JWKS."""

from __future__ import annotations

from http import HTTPStatus

import pytest

PATHS = ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]
CLIENT_AUTH = ["client_secret_basic", "client_secret_post"]


def _expected(issuer: str, base: str, scopes: list[str]) -> dict[str, object]:
    return {
        "issuer": issuer,
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "token_endpoint": f"{base}/api/oauth/token/",
        "introspection_endpoint": f"{base}/api/oauth/introspect/",
        "revocation_endpoint": f"{base}/api/oauth/revoke/",
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": CLIENT_AUTH,
        "introspection_endpoint_auth_methods_supported": CLIENT_AUTH,
        "revocation_endpoint_auth_methods_supported": CLIENT_AUTH,
        "scopes_supported": scopes,
        "access_token_signing_alg_values_supported": ["ES256"],
    }


@pytest.mark.parametrize("path", PATHS)
def test_an_issuer_url_is_the_base_of_every_endpoint(api, settings, path):
    settings.JWT_ISSUER = "https://auth.example.com"
    settings.JWT_GROUP_SCOPES = {"staff": ["users:write", "users:read"], "ops": ["users:read"]}

    response = api.get(path)

    assert response.status_code == HTTPStatus.OK
    assert response["Cache-Control"] == f"public, max-age={settings.JWKS_MAX_AGE}"
    assert response.json() == _expected(
        "https://auth.example.com",
        "https://auth.example.com",
        ["introspect", "users:read", "users:write"],
    )


def test_an_issuer_that_is_no_url_leaves_the_endpoints_to_the_requests_host(api, settings):
    """JWT_ISSUER's default, `auth-service`: the document still names it as the issuer (it is
    what tokens carry), and the endpoints are where the request came to."""
    assert settings.JWT_ISSUER == "auth-service"

    response = api.get(PATHS[0], HTTP_HOST="localhost")

    assert response.json() == _expected("auth-service", "http://localhost", ["introspect"])


def test_a_host_outside_allowed_hosts_gets_no_document(api, settings):
    """Attack: a Host header of the attacker's choosing, hoping for a cached document that
    points verifiers at their key set. Expected: 400, as for any other request."""
    response = api.get(PATHS[0], HTTP_HOST="evil.example")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {"detail": "Bad request.", "code": "bad_request"}


def test_the_document_is_the_same_at_both_paths(api):
    first, second = (api.get(path).json() for path in PATHS)

    assert first == second


def test_the_document_is_read_only(api):
    response = api.post(PATHS[0], {}, content_type="application/json")

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
