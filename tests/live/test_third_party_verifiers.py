"""Real third-party verifiers consume our tokens against a live server, the way an API gateway
or another service checks a bearer token without calling us back: PyJWT's `PyJWKClient` on the
JWKS, and Authlib's RFC 9068 resource-server validator configured from the discovery document
(RFC 8414), both validated by Authlib's own metadata model.

For each: a valid access token is accepted, a refresh token is refused, and a token signed by a
key that was rotated out (`manage.py jwtkeys rotate`, then `prune`) is refused once the service
runs on the new set.
"""

from __future__ import annotations

from typing import Any

import httpx
import jwt
import pytest
from authlib.oauth2.rfc6750 import InvalidTokenError as AuthlibInvalidToken
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from authlib.oauth2.rfc9068 import JWTBearerTokenValidator
from django.conf import settings
from django.contrib.auth.models import Group
from joserfc.jwk import KeySet
from jwt import PyJWKClient

from tests.factories import UserFactory
from tests.live.calls import HTTP_TIMEOUT, login
from tests.live.consumers import GROUP_SCOPES

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ALGORITHMS = ["ES256"]
METADATA = "/.well-known/oauth-authorization-server"


def _gateway(base: str, token: str, issuer: str = settings.JWT_ISSUER) -> dict[str, Any]:
    """What a gateway does: the key named by `kid` from our JWKS, then a pinned verification."""
    key = PyJWKClient(f"{base}/.well-known/jwks.json").get_signing_key_from_jwt(token)
    return jwt.decode(
        token,
        key.key,
        algorithms=ALGORITHMS,
        issuer=issuer,
        audience=settings.JWT_AUDIENCE,
        options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]},
    )


def test_pyjwt_through_the_jwks_accepts_the_access_token(server, http):
    """A gateway verifying through the JWKS, with issuer and audience. Expected: the access
    token is accepted, its header says `typ: at+jwt` and names a published key, and its claims
    name the user and the session."""
    user = UserFactory()
    pair = login(http, user.email)

    claims = _gateway(server, pair["access"])

    header = jwt.get_unverified_header(pair["access"])
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "ES256"
    published = http.get("/.well-known/jwks.json").json()["keys"]
    assert header["kid"] in {key["kid"] for key in published}
    assert claims["sub"] == str(user.pk)
    assert claims["sid"]


def test_pyjwt_through_the_jwks_refuses_the_refresh_token(server, http):
    """Attack: a refresh token presented to a gateway that verifies through the JWKS with
    issuer and audience. Expected: refused (DecodeError: it is not a JWT at all), by the key
    lookup and by a verification with every published key."""
    pair = login(http, UserFactory().email)

    with pytest.raises(jwt.exceptions.DecodeError):
        _gateway(server, pair["refresh"])
    for key in PyJWKClient(f"{server}/.well-known/jwks.json").get_signing_keys():
        with pytest.raises(jwt.exceptions.InvalidTokenError):
            jwt.decode(
                pair["refresh"],
                key.key,
                algorithms=ALGORITHMS,
                issuer=settings.JWT_ISSUER,
                audience=settings.JWT_AUDIENCE,
            )


# --- Authlib, configured from the discovery document ------------------------------------------


def _metadata(base: str) -> AuthorizationServerMetadata:
    """The document, checked by Authlib's RFC 8414 model: every field but
    response_types_supported, which RFC 8414 requires and Authlib wants non-empty, and which
    is truthfully empty here (no authorization endpoint)."""
    metadata = AuthorizationServerMetadata(httpx.get(base + METADATA, timeout=HTTP_TIMEOUT).json())
    for key in metadata.REGISTRY_KEYS:
        if key != "response_types_supported":
            getattr(metadata, f"validate_{key}")()
    assert metadata["response_types_supported"] == []
    return metadata


def _authlib(base: str) -> JWTBearerTokenValidator:
    """A resource server's RFC 9068 validator: issuer and JWKS from the discovery document,
    our audience as its resource server identifier."""
    metadata = _metadata(base)
    jwks = KeySet.import_key_set(httpx.get(metadata["jwks_uri"], timeout=HTTP_TIMEOUT).json())

    class Validator(JWTBearerTokenValidator):
        def get_jwks(self) -> KeySet:
            return jwks

    return Validator(issuer=metadata["issuer"], resource_server=settings.JWT_AUDIENCE)


def _authlib_accepts(validator: JWTBearerTokenValidator, token: str, **required: Any) -> Any:
    claims = validator.authenticate_token(token)
    validator.validate_token(claims, required.pop("scopes", None), None, **required)
    return claims


@pytest.fixture
def insecure_transport(monkeypatch):
    """Authlib insists on https URLs in metadata; the live server is plain HTTP on loopback."""
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")


def test_authlib_reads_the_discovery_document_and_accepts_the_access_token(
    insecure_transport, keyed_server, keyed_http
):
    """A resource server set up from /.well-known/oauth-authorization-server alone. Expected:
    the document passes Authlib's RFC 8414 checks and names this server as the issuer; the
    access token passes RFC 9068 validation, and its roles and scope authorise a request that
    asks for them."""
    user = UserFactory()
    user.groups.add(Group.objects.create(name="staff"))
    access = login(keyed_http, user.email)["access"]
    validator = _authlib(keyed_server)

    claims = _authlib_accepts(validator, access, scopes=["users:write"], roles=["staff"])

    assert validator.issuer == keyed_server
    assert claims["sub"] == str(user.pk)
    assert claims["roles"] == ["staff"]
    assert claims["scope"] == " ".join(GROUP_SCOPES["staff"])


def test_authlib_refuses_the_refresh_token_and_a_missing_role(
    insecure_transport, keyed_server, keyed_http
):
    """Attack: a refresh token as a bearer token; and a user's valid token for a resource that
    needs a role they lack. Expected: both refused with Authlib's invalid_token."""
    pair = login(keyed_http, UserFactory().email)
    validator = _authlib(keyed_server)
    assert _authlib_accepts(validator, pair["access"])["sid"]  # good for what needs no role

    with pytest.raises(AuthlibInvalidToken):
        _authlib_accepts(validator, pair["refresh"])
    with pytest.raises(AuthlibInvalidToken):
        _authlib_accepts(validator, pair["access"], roles=["staff"])


# --- key rotation --------------------------------------------------------------------------------


def test_after_a_rotation_both_refuse_a_token_of_the_rotated_out_key(insecure_transport, rotating):
    """Attack: a token signed by a key that has been rotated out of the set (a stolen old token,
    or a leaked retired key). Expected: once the service runs on the new set, PyJWT cannot find
    its key (PyJWKClientError) and Authlib refuses it (invalid_token); tokens of the new key
    pass both."""
    email = UserFactory().email
    with rotating.start() as base, httpx.Client(base_url=base, timeout=HTTP_TIMEOUT) as http:
        old = login(http, email)["access"]
        assert _gateway(base, old, issuer=base)["iss"] == base
        _authlib_accepts(_authlib(base), old)

    dropped = rotating.rotate_out()

    with rotating.start() as base, httpx.Client(base_url=base, timeout=HTTP_TIMEOUT) as http:
        new = login(http, email)["access"]
        assert jwt.get_unverified_header(old)["kid"] == dropped
        assert jwt.get_unverified_header(new)["kid"] != dropped
        assert _gateway(base, new, issuer=base)["iss"] == base
        _authlib_accepts(_authlib(base), new)
        with pytest.raises(jwt.PyJWKClientError, match="Unable to find a signing key"):
            _gateway(base, old, issuer=base)
        with pytest.raises(AuthlibInvalidToken):
            _authlib_accepts(_authlib(base), old)
