"""GET /.well-known/jwks.json: the public keys another service verifies our tokens with."""

from __future__ import annotations

from http import HTTPStatus

import httpx
import jwt
import pytest

from accounts import keys
from tests.factories import PASSWORD

JWKS = "/.well-known/jwks.json"


def test_jwks_lists_the_public_es256_key_and_nothing_private(api, settings):
    response = api.get(JWKS)

    assert response.status_code == HTTPStatus.OK
    assert response["Cache-Control"] == f"public, max-age={settings.JWKS_MAX_AGE}"
    (jwk,) = response.json()["keys"]
    signer = keys.keyset().signer
    assert set(jwk) == {"kty", "crv", "x", "y", "kid", "alg", "use"}  # no "d"
    assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"]) == ("EC", "P-256", "ES256", "sig")
    assert jwk["kid"] == signer.kid == keys.thumbprint(jwk)
    public = jwt.PyJWK(jwk).key
    assert public.public_numbers() == signer.key.public_key().public_numbers()


@pytest.mark.slow
def test_a_token_verifies_with_pyjwkclient_pointed_at_the_jwks(live_server_url):
    """How another service checks our tokens: fetch the key by kid, pin the algorithm,
    verify issuer and audience. A token for another audience fails the same check."""
    with httpx.Client(base_url=live_server_url) as http:
        http.post("/api/register/", json={"email": "ada@example.com", "password": PASSWORD})
        pair = http.post("/api/token/", json={"email": "ada@example.com", "password": PASSWORD})
        user_id = http.get(
            "/api/me/", headers={"Authorization": f"Bearer {pair.json()['access']}"}
        ).json()["id"]
    access = pair.json()["access"]
    client = jwt.PyJWKClient(f"{live_server_url}{JWKS}")

    key = client.get_signing_key_from_jwt(access)
    claims = jwt.decode(
        access, key, algorithms=["ES256"], audience="auth-service", issuer="auth-service"
    )

    assert claims["sub"] == user_id
    assert claims["token_type"] == "access"
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(access, key, algorithms=["ES256"], audience="billing", issuer="auth-service")
