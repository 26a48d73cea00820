"""The one helper vocabulary of the tests: expected bodies, API calls, checks, forged tokens.

Tokens are read and forged with PyJWT directly (the service's codec is not used to judge it).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import Client

from accounts import keys

# --- expected bodies, declared once --------------------------------------------------------

INVALID_TOKEN = {"detail": "Token is invalid or expired.", "code": "invalid_token"}
TOKEN_REUSED = {
    "detail": "Refresh token was already used; the session has been ended.",
    "code": "token_reused",
}
INVALID_CREDENTIALS = {
    "detail": "No active account found with the given credentials.",
    "code": "invalid_credentials",
}
EMAIL_TAKEN = {"detail": "An account with this email already exists.", "code": "email_taken"}
MIXED_SCRIPTS = (
    "Enter an email address that does not mix scripts (such as Latin and Cyrillic letters)."
)
SESSION_NOT_FOUND = {"detail": "Session not found.", "code": "not_found"}
STORE_UNAVAILABLE = {
    "detail": "Token service temporarily unavailable; retry shortly.",
    "code": "token_store_unavailable",
}
THROTTLED = {"detail": "Too many attempts; retry later.", "code": "throttled"}
CHALLENGE = 'Bearer error="invalid_token"'
TOKEN_FIELDS = {"access", "refresh", "token_type", "expires_in", "refresh_expires_in"}
# A fixed instant for tests that freeze the clock (far from the real one on purpose).
T0 = datetime(2031, 3, 1, 12, 0, 0, tzinfo=UTC)
NEW_PASSWORD = "a brand new passphrase 42"

# --- API calls (django.test.Client) ---------------------------------------------------------


def post_json(api: Client, path: str, body: Any, **extra: Any) -> Any:
    return api.post(path, body, content_type="application/json", **extra)


def login(api: Client, email: str, password: str, **extra: Any) -> Any:
    return post_json(api, "/api/token/", {"email": email, "password": password}, **extra)


def refresh(api: Client, token: str, **extra: Any) -> Any:
    return post_json(api, "/api/token/refresh/", {"refresh": token}, **extra)


def logout(api: Client, token: str, **extra: Any) -> Any:
    return post_json(api, "/api/logout/", {"refresh": token}, **extra)


def me(api: Client, access: str) -> Any:
    return api.get("/api/me/", **auth(access))


def auth(access: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {access}"}


def sid_of(pair: dict[str, Any]) -> str:
    """The session id of a token pair (from its access token's `sid`)."""
    return str(claims_of(pair["access"])["sid"])


# --- checks ---------------------------------------------------------------------------------


def assert_unauthorized(response: Any, body: dict[str, str] = INVALID_TOKEN) -> None:
    assert response.status_code == HTTPStatus.UNAUTHORIZED, response.content
    assert response.json() == body
    assert response["WWW-Authenticate"] == CHALLENGE


def assert_dead(api: Client, pair: dict[str, Any]) -> None:
    """Both tokens of a pair are refused: the access token by /me, the refresh by refresh."""
    assert_unauthorized(me(api, pair["access"]))
    assert_unauthorized(refresh(api, pair["refresh"]))


def assert_alive(api: Client, pair: dict[str, Any]) -> dict[str, Any]:
    """The access token works and the refresh token rotates; returns the successor pair."""
    assert me(api, pair["access"]).status_code == HTTPStatus.OK
    rotated = refresh(api, pair["refresh"])
    assert rotated.status_code == HTTPStatus.OK, rotated.content
    successor: dict[str, Any] = rotated.json()
    assert me(api, successor["access"]).status_code == HTTPStatus.OK
    return successor


# --- reading and forging JWTs ---------------------------------------------------------------


def claims_of(token: str) -> dict[str, Any]:
    """A JWT's claims, read without checking anything."""
    return jwt.decode(token, options={"verify_signature": False})


def header_of(token: str) -> dict[str, Any]:
    return jwt.get_unverified_header(token)


def signer() -> tuple[str, Any]:
    """The service's signing key (kid, private key): to forge tokens whose only flaw is a claim."""
    key = keys.keyset().signer
    return key.kid, key.key


def sign(claims: dict[str, Any], *, key: Any = None, kid: str | None = None, **headers: Any) -> str:
    """Claims signed with ES256 by `key` (default: the service's own) under `kid`, `typ: at+jwt`
    unless `typ` says otherwise (`typ=""` leaves it out)."""
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
    header = {"alg": "HS256", "typ": "at+jwt", "kid": kid}
    signing_input = ".".join(
        _b64(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def unsigned(claims: dict[str, Any]) -> str:
    """`alg: none`: no signature at all, with the right kid."""
    kid, _ = signer()
    return jwt.encode(claims, None, algorithm="none", headers={"kid": kid, "typ": "at+jwt"})


# --- OAuth endpoints (form bodies, client credentials) --------------------------------------

FORM = "application/x-www-form-urlencoded"
OAUTH_TOKEN, INTROSPECT, REVOKE = (
    "/api/oauth/token/",
    "/api/oauth/introspect/",
    "/api/oauth/revoke/",
)
BASIC_CHALLENGE = 'Basic realm="auth-service"'


def oauth_error(code: str, description: str) -> dict[str, str]:
    """RFC 6749 5.2's body, in the service's common shape too."""
    return {"detail": description, "code": code, "error": code, "error_description": description}


INVALID_CLIENT = oauth_error("invalid_client", "Client authentication failed.")
INSUFFICIENT_SCOPE = oauth_error(
    "insufficient_scope", "The client lacks the scope this endpoint requires."
)
INACTIVE = {"active": False}


def basic(client_id: str, secret: str) -> dict[str, str]:
    """The Authorization header of client_secret_basic (RFC 6749 2.3.1), for the test client."""
    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(pair).decode()}


def post_form(api: Client, path: str, data: dict[str, str], **extra: Any) -> Any:
    return api.post(path, urlencode(data), content_type=FORM, **extra)


def client_token(api: Client, client_id: str, secret: str, **params: str) -> Any:
    """A client credentials token request, credentials in the form (client_secret_post)."""
    data = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": secret,
        **params,
    }
    return post_form(api, OAUTH_TOKEN, data)


def introspect(api: Client, token: str, client_id: str, secret: str) -> Any:
    return post_form(api, INTROSPECT, {"token": token}, **basic(client_id, secret))


def through_asgi(method: str, path: str, *, hot: bool, **kwargs: Any) -> httpx.Response:
    """One request through the ASGI application (hot path on or off), in an event loop of its
    own whose asyncio pool and client are closed before it ends."""
    from api.hotpath import HotPath, close
    from config.asgi import django_application

    app = HotPath(django_application, enabled=hot)

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                return await c.request(method, path, **kwargs)
        finally:
            await close()

    return asyncio.run(call())
