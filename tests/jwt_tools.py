"""Reading and forging JWTs in tests, with PyJWT directly (the service's own code is not used)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from accounts import keys


def claims_of(token: str) -> dict[str, Any]:
    """A token's claims, read without checking anything."""
    return jwt.decode(token, options={"verify_signature": False})


def header_of(token: str) -> dict[str, Any]:
    return jwt.get_unverified_header(token)


def signer():
    """The service's signing key (kid, private key): to forge tokens whose only flaw is a claim."""
    key = keys.keyset().signer
    return key.kid, key.key


def sign(claims: dict[str, Any], *, key: Any = None, kid: str | None = None, **headers: Any) -> str:
    """Claims signed with ES256 by `key` (default: the service's own key) under `kid`."""
    real_kid, real_key = signer()
    header = {"kid": real_kid if kid is None else kid, "typ": "at+jwt", **headers}
    header = {name: value for name, value in header.items() if value is not None}
    return jwt.encode(claims, key or real_key, algorithm="ES256", headers=header)


def other_ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_with_public_key(claims: dict[str, Any]) -> str:
    """Algorithm confusion: an HS256 token whose HMAC secret is the service's public key PEM.

    PyJWT refuses to build this one (it will not use a PEM as an HMAC secret), so it is
    assembled by hand, the way an attacker would.
    """
    kid, private = signer()
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": kid}
    signing_input = ".".join(
        _b64(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def unsigned(claims: dict[str, Any]) -> str:
    """`alg: none`: no signature at all, with the right kid."""
    kid, _ = signer()
    return jwt.encode(claims, None, algorithm="none", headers={"kid": kid})
