"""Issue, verify, rotate and revoke JWTs: the only module that touches PyJWT and ninja-jwt.

Token classes come from django-ninja-jwt; signing goes through our key set (a `kid` in every
header, algorithms pinned per key by configuration, never read from the token).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
from django.conf import settings
from ninja_jwt.backends import TokenBackend
from ninja_jwt.exceptions import TokenBackendError, TokenError
from ninja_jwt.tokens import Token

from accounts import keys, selectors, token_store
from accounts.audit import Kind, audit_record
from accounts.context import Client
from accounts.exceptions import InvalidToken, SessionNotFound, TokenReused
from accounts.models import User

_REQUIRED_CLAIMS = ["exp", "iat", "jti", "sub", "sid", "iss", "aud"]


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str
    expires_in: int
    session_id: str


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    session_id: str


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
        return jwt.encode(claims, signer.key, algorithm=signer.alg, headers={"kid": signer.kid})

    def decode(self, token: Any, verify: bool = True) -> dict[str, Any]:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = keys.keyset().verifier(kid)
            if key is None:
                raise TokenBackendError("Unknown signing key")
            public = key.key.public_key() if key.can_sign else key.key
            return jwt.decode(
                token,
                public,
                algorithms=[key.alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.get_leeway(),
                options={"require": _REQUIRED_CLAIMS},
            )
        except jwt.InvalidTokenError as exc:
            raise TokenBackendError("Token is invalid or expired") from exc


class _ServiceToken(Token):
    def get_token_backend(self) -> TokenBackend:
        return _KeySetBackend()


class AccessToken(_ServiceToken):
    token_type = "access"
    lifetime = timedelta(seconds=1)  # replaced per instance from settings

    def __init__(self, token: Any = None, verify: bool = True) -> None:
        self.lifetime = settings.ACCESS_TOKEN_LIFETIME
        super().__init__(token, verify)


class RefreshToken(_ServiceToken):
    token_type = "refresh"
    lifetime = timedelta(seconds=1)

    def __init__(self, token: Any = None, verify: bool = True) -> None:
        self.lifetime = settings.REFRESH_TOKEN_LIFETIME
        super().__init__(token, verify)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _ms(delta: timedelta) -> int:
    return int(delta.total_seconds() * 1000)


def _decode(raw: str, token_class: type[_ServiceToken]) -> _ServiceToken:
    try:
        token = token_class(raw)
    except (TokenError, TokenBackendError) as exc:
        raise InvalidToken() from exc
    if not all(isinstance(token.get(claim), str) for claim in ("sub", "sid", "jti")):
        raise InvalidToken()
    return token


def _access_for(user_id: str, sid: str) -> str:
    access = AccessToken()
    access["sub"], access["sid"] = user_id, sid
    return str(access)


def _refresh_for(user_id: str, sid: str, jti: str, iat_ms: int, exp_ms: int) -> str:
    refresh = RefreshToken()
    refresh.payload.update(sub=user_id, sid=sid, jti=jti, iat=iat_ms // 1000, exp=exp_ms // 1000)
    return str(refresh)


def _pair(user_id: str, sid: str, jti: str, iat_ms: int, exp_ms: int) -> TokenPair:
    lifetime = settings.ACCESS_TOKEN_LIFETIME
    return TokenPair(
        access=_access_for(user_id, sid),
        refresh=_refresh_for(user_id, sid, jti, iat_ms, exp_ms),
        expires_in=int(lifetime.total_seconds()),
        session_id=sid,
    )


def session_start(*, user: User, client: Client) -> TokenPair:
    """Open a new session for an authenticated user and return its first token pair."""
    user_id, sid, jti, now = str(user.pk), uuid.uuid4().hex, uuid.uuid4().hex, _now_ms()
    abs_exp = now + _ms(settings.SESSION_MAX_LIFETIME)
    exp = min(now + _ms(settings.REFRESH_TOKEN_LIFETIME), abs_exp)
    token_store.session_create(
        sid=sid,
        user_id=user_id,
        jti=jti,
        now_ms=now,
        exp_ms=exp,
        abs_exp_ms=abs_exp,
        user_agent=client.user_agent[:256],
        ip=client.ip,
        max_lifetime_ms=_ms(settings.SESSION_MAX_LIFETIME),
    )
    return _pair(user_id, sid, jti, now, exp)


def session_refresh(*, refresh: str, client: Client) -> TokenPair:
    """Rotate a refresh token: of concurrent uses exactly one wins; a replay ends the session."""
    token = _decode(refresh, RefreshToken)
    user_id, sid = token["sub"], token["sid"]
    user = selectors.user_get_active(user_id=user_id)
    if user is None:
        token_store.session_end(sid=sid, user_id=user_id)
        raise InvalidToken()
    rotation = token_store.session_rotate(
        sid=sid,
        user_id=user_id,
        presented_jti=token["jti"],
        new_jti=uuid.uuid4().hex,
        now_ms=_now_ms(),
        refresh_lifetime_ms=_ms(settings.REFRESH_TOKEN_LIFETIME),
        grace_ms=_ms(settings.REFRESH_REUSE_GRACE),
        user_agent=client.user_agent[:256],
        ip=client.ip,
    )
    if rotation.outcome == "reused":
        audit_record(kind=Kind.REFRESH_REUSE, user=user, session_id=sid, client=client)
        raise TokenReused()
    if rotation.outcome == "missing":
        raise InvalidToken()
    return _pair(user_id, sid, rotation.jti, rotation.iat_ms, rotation.exp_ms)


def access_verify(raw: str) -> AccessClaims:
    """Check an access token's signature, claims and session (one Redis round trip)."""
    token = _decode(raw, AccessToken)
    claims = AccessClaims(user_id=token["sub"], session_id=token["sid"])
    if not token_store.session_is_live(sid=claims.session_id, user_id=claims.user_id,
                                       now_ms=_now_ms()):  # fmt: skip
        raise InvalidToken()
    return claims


def session_logout(*, refresh: str, client: Client) -> None:
    """End the session a refresh token belongs to; silent about tokens that name none."""
    try:
        token = _decode(refresh, RefreshToken)
    except InvalidToken:
        return
    user_id, sid = token["sub"], token["sid"]
    if token_store.session_end(sid=sid, user_id=user_id):
        user = selectors.user_get_active(user_id=user_id)
        audit_record(kind=Kind.LOGOUT, user=user, session_id=sid, client=client)


def session_end(*, user: User, sid: str, client: Client) -> None:
    """End one of the user's sessions; SessionNotFound if it is not theirs or not live."""
    if not token_store.session_end(sid=sid, user_id=str(user.pk)):
        raise SessionNotFound()
    audit_record(kind=Kind.SESSION_ENDED, user=user, session_id=sid, client=client)


def sessions_end_all(*, user: User) -> None:
    """End every session of the user: each token issued before now stops working."""
    token_store.sessions_end_all(
        user_id=str(user.pk), max_lifetime_ms=_ms(settings.SESSION_MAX_LIFETIME)
    )


def sessions_list(*, user: User) -> list[token_store.SessionRecord]:
    """The user's live sessions, newest first."""
    return token_store.sessions_list(user_id=str(user.pk), now_ms=_now_ms())


def jwks() -> dict[str, Any]:
    """The public key set other services verify tokens with."""
    return keys.keyset().jwks()
