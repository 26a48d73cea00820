"""The token codec: access tokens (RFC 9068 JWTs) and opaque refresh tokens. No DB, no audit.

The only module besides keys.py that touches PyJWT and django-ninja-jwt.

- An access token is a JWT with `typ: at+jwt` in its header, signed by the key set's signer
  with its `kid`; issuer, audience, `typ` and algorithm (pinned per key by configuration, never
  read from the token) are verified on the way in. A token verified once is remembered (a
  small LRU) so that its signature is not checked again; its expiry is, every time.
- A refresh token is not a JWT: `rt1_` and the base64url of the user id, the session id and the
  session's rotation counter, with an HMAC-SHA256 over them under a key derived from
  SECRET_KEY. No JWT verifier accepts it, checking it costs no signature, and the same
  (user, session, counter) always gives the byte-identical token (the grace window's answer).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import time
import uuid
from collections.abc import Sequence
from typing import Any

import jwt
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from ninja_jwt.backends import TokenBackend
from ninja_jwt.tokens import Token

from accounts import keys, metrics
from accounts.exceptions import InvalidToken
from accounts.types import AccessClaims

ACCESS_TYP = "at+jwt"
_REQUIRED = ["exp", "iat", "jti", "sub", "sid", "iss", "aud", "client_id"]
_REFRESH_PREFIX = "rt1_"
_MAC_BYTES = 32
_COUNTER_BYTES = 8
_REFRESH_BYTES = 16 + 16 + _COUNTER_BYTES + _MAC_BYTES
_VERIFIED_CACHE_SIZE = 4096
# A token we issue is under 1 KB of ASCII; anything longer or not ASCII is refused unparsed.
_ACCESS_MAX = 4096


class _KeySetBackend(TokenBackend):
    """ninja-jwt's backend, signing with the key set's signer and verifying by `kid`."""

    def __init__(self) -> None:
        super().__init__(
            settings.JWT_ALGORITHM,
            audience=settings.JWT_AUDIENCE,
            issuer=settings.JWT_ISSUER,
            leeway=settings.JWT_LEEWAY,
        )

    def encode(self, payload: dict[str, Any]) -> str:
        signer = keys.keyset().signer
        claims = {**payload, "iss": self.issuer, "aud": self.audience}
        headers = {"kid": signer.kid, "typ": ACCESS_TYP}
        return jwt.encode(claims, signer.key, algorithm=signer.alg, headers=headers)

    def decode(self, token: Any, verify: bool = True) -> dict[str, Any]:
        """The claims of a valid access token; InvalidToken for anything else."""
        return self.decode_for(token, self.audience)

    def decode_for(self, token: Any, audience: str | None) -> dict[str, Any]:
        """decode, for `audience`; None: any audience (the claim is still required)."""
        try:
            header = jwt.get_unverified_header(token)
            key = keys.keyset().verifier(header.get("kid"))
            if key is None or header.get("typ") != ACCESS_TYP:
                raise InvalidToken()
            public = key.key.public_key() if key.can_sign else key.key
            return jwt.decode(
                token,
                public,
                algorithms=[key.alg],
                audience=audience,
                issuer=self.issuer,
                leeway=self.get_leeway(),
                options={"require": _REQUIRED, "verify_aud": audience is not None},
            )
        except jwt.InvalidTokenError as exc:
            raise InvalidToken() from exc


class AccessToken(Token):
    """ninja-jwt's token class (exp, iat, jti), with our backend and lifetime."""

    token_type = "access"

    def __init__(self) -> None:
        self.lifetime = settings.ACCESS_TOKEN_LIFETIME
        super().__init__()

    def get_token_backend(self) -> TokenBackend:
        return _backend()


@functools.cache
def _backend() -> _KeySetBackend:
    return _KeySetBackend()


def access_encode(*, user_id: str, session_id: str, roles: Sequence[str] | None = None) -> str:
    """A signed access token of this user's session, with `roles` (the user's group names) and
    the `scope` JWT_GROUP_SCOPES grants them. An empty claim is left out: RFC 9068 verifiers
    (Authlib) refuse a blank `roles`."""
    token = AccessToken()
    token.payload.update(sub=user_id, sid=session_id, client_id=settings.JWT_CLIENT_ID)
    if roles:
        token.payload["roles"] = list(roles)
        scope = scope_of(roles)
        if scope:
            token.payload["scope"] = scope
    encoded = str(token)
    metrics.token_issued("access")
    return encoded


def scope_of(roles: Sequence[str]) -> str:
    """The scope (RFC 8693: space-separated, sorted) that JWT_GROUP_SCOPES grants these roles."""
    mapping: dict[str, tuple[str, ...]] = settings.JWT_GROUP_SCOPES
    return " ".join(sorted({scope for role in roles for scope in mapping.get(role, ())}))


def access_decode(raw: str) -> AccessClaims:
    """Verify an access token (signature once, expiry every time); InvalidToken if bad."""
    if len(raw) > _ACCESS_MAX or not raw.isascii():
        raise InvalidToken()
    claims = _verified(raw)
    leeway = settings.JWT_LEEWAY.total_seconds()
    if claims.expires_at + leeway <= time.time():
        raise InvalidToken()
    return claims


@functools.lru_cache(maxsize=_VERIFIED_CACHE_SIZE)
def _verified(raw: str) -> AccessClaims:
    payload = _backend().decode(raw)
    sub, sid, exp = payload.get("sub"), payload.get("sid"), payload.get("exp")
    roles, scope = payload.get("roles", []), payload.get("scope", "")
    if not (isinstance(sub, str) and isinstance(sid, str) and isinstance(exp, int)):
        raise InvalidToken()
    if not (isinstance(roles, list) and all(isinstance(role, str) for role in roles)):
        raise InvalidToken()
    if not isinstance(scope, str):
        raise InvalidToken()
    return AccessClaims(
        user_id=sub, session_id=sid, expires_at=exp, roles=tuple(roles), scope=scope
    )


def client_access_encode(*, client_id: str, session_id: str, scope: str, audience: str) -> str:
    """A signed access token of a service account (client credentials): `sub` is the client."""
    token = AccessToken()
    token.payload.update(sub=client_id, sid=session_id, client_id=client_id, scope=scope)
    signer = keys.keyset().signer
    claims = {**token.payload, "iss": settings.JWT_ISSUER, "aud": audience}
    headers = {"kid": signer.kid, "typ": ACCESS_TYP}
    return jwt.encode(claims, signer.key, algorithm=signer.alg, headers=headers)


def access_inspect(raw: str) -> dict[str, Any]:
    """Every claim of a valid, unexpired access token of any audience (introspection); the
    signature is checked every time (no LRU). InvalidToken for anything else."""
    if len(raw) > _ACCESS_MAX or not raw.isascii():
        raise InvalidToken()
    claims = _backend().decode_for(raw, None)
    if not all(isinstance(claims.get(name), str) for name in ("sub", "sid", "client_id")):
        raise InvalidToken()
    return claims


def refresh_encode(*, user_id: str, session_id: str, counter: int) -> str:
    """The refresh token of a session at a rotation counter: the same inputs, the same token."""
    body = uuid.UUID(user_id).bytes + uuid.UUID(session_id).bytes
    body += counter.to_bytes(_COUNTER_BYTES, "big")
    token = body + _mac(body)
    metrics.token_issued("refresh")
    return _REFRESH_PREFIX + base64.urlsafe_b64encode(token).rstrip(b"=").decode()


def refresh_decode(raw: str) -> tuple[str, str, int]:
    """(user id, session id, counter) of a refresh token we issued; InvalidToken if not."""
    if not raw.startswith(_REFRESH_PREFIX) or len(raw) > _REFRESH_BYTES * 2:
        raise InvalidToken()
    encoded = raw[len(_REFRESH_PREFIX) :]
    try:
        token = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidToken() from exc
    body, mac = token[:-_MAC_BYTES], token[-_MAC_BYTES:]
    if len(token) != _REFRESH_BYTES or not hmac.compare_digest(mac, _mac(body)):
        raise InvalidToken()
    user_id, session_id = uuid.UUID(bytes=body[:16]), uuid.UUID(bytes=body[16:32])
    return str(user_id), session_id.hex, int.from_bytes(body[32:], "big")


def _mac(body: bytes) -> bytes:
    return hmac.new(_mac_key(settings.SECRET_KEY), body, hashlib.sha256).digest()


@functools.cache
def _mac_key(secret: str) -> bytes:
    # A key of its own, derived from SECRET_KEY: a MAC made here is no Django signature.
    return hmac.new(secret.encode(), b"auth-service refresh token v1", hashlib.sha256).digest()


def new_session_id() -> str:
    return uuid.uuid4().hex


def jwks() -> dict[str, Any]:
    """The public key set other services verify access tokens with."""
    return keys.keyset().jwks()


def signing_algorithms() -> list[str]:
    """The algorithms of the published keys, sorted (the discovery document lists them)."""
    return sorted({key.alg for key in keys.keyset().keys.values()})


@receiver(setting_changed)
def _forget(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("JWT_") or setting in {"ACCESS_TOKEN_LIFETIME", "SECRET_KEY"}:
        _verified.cache_clear()
        _backend.cache_clear()
        keys.keyset.cache_clear()
