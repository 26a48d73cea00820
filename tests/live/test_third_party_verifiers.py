"""A real third-party verifier consumes our tokens: PyJWT's JWKS client against a live server,
the way an API gateway or another service checks a bearer token without calling us back.

Authlib is not installed in the environment (no dependency is added for it), so PyJWT is the
one third-party verifier here.
"""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from django.conf import settings
from jwt import PyJWKClient

from tests.factories import UserFactory
from tests.live.calls import login

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ALGORITHMS = ["ES256"]


def _gateway(base: str, token: str) -> dict[str, Any]:
    """What a gateway does: the key named by `kid` from our JWKS, then a pinned verification."""
    key = PyJWKClient(f"{base}/.well-known/jwks.json").get_signing_key_from_jwt(token)
    return jwt.decode(
        token,
        key.key,
        algorithms=ALGORITHMS,
        issuer=settings.JWT_ISSUER,
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
