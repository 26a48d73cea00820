"""The rules of the OAuth 2.0 endpoints for services: the client credentials grant (RFC 6749
4.4), token introspection (RFC 7662) and revocation (RFC 7009).

A service account's access token is an `at+jwt` like a user's, with `sub` = `client_id` = the
client and `sid` = the client's current token sid: it is live while the token store holds that
sid for the client (accounts/token_store/clients.py), so disabling the client ends it at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction

from accounts import clients, sessions, token_store, tokens
from accounts.audit import Kind, audit_record
from accounts.exceptions import (
    InsufficientScope,
    InvalidClient,
    InvalidInput,
    InvalidScope,
    InvalidToken,
    UnsupportedGrantType,
)
from accounts.models import APIClient
from accounts.types import Caller

CLIENT_CREDENTIALS = "client_credentials"
INACTIVE: dict[str, Any] = {"active": False}
# The store keeps a client's sid this much longer than its newest token lives: clocks differ.
_LIVE_MARGIN = timedelta(seconds=60)
_INTROSPECTED = ("sub", "client_id", "scope", "exp", "iat", "iss", "aud", "sid", "jti")


@dataclass(frozen=True)
class Credentials:
    """A client id and secret, however they came (HTTP Basic or the form)."""

    client_id: str
    secret: str


@dataclass(frozen=True)
class ClientToken:
    access_token: str
    expires_in: int  # seconds
    scope: str  # the scopes granted, space-separated


def client_credentials_grant(
    *, grant_type: str, credentials: Credentials | None, scope: str | None, caller: Caller
) -> ClientToken:
    """An access token for an authenticated, active client, with the scopes it asked for (all
    of its scopes if it named none); each issue audited."""
    if grant_type != CLIENT_CREDENTIALS:
        raise UnsupportedGrantType()
    client = _authenticated(credentials, caller)
    with transaction.atomic():
        # Locked, so that a disable cannot pass between the check and the store's write.
        locked = APIClient.objects.select_for_update().get(pk=client.pk)
        if not locked.is_active:
            raise InvalidClient()
        granted = _granted(locked, scope)
        lifetime = settings.ACCESS_TOKEN_LIFETIME + settings.JWT_LEEWAY + _LIVE_MARGIN
        token_store.client_tokens_live(
            client_id=locked.client_id,
            session_id=locked.token_sid,
            ttl_ms=int(lifetime.total_seconds() * 1000),
        )
        audit_record(
            kind=Kind.CLIENT_TOKEN,
            client_id=locked.client_id,
            caller=caller,
            detail=f"scope={granted!r}",
        )
    access = tokens.client_access_encode(
        client_id=locked.client_id,
        session_id=locked.token_sid,
        scope=granted,
        audience=locked.audience,
    )
    expires_in = int(settings.ACCESS_TOKEN_LIFETIME.total_seconds())
    return ClientToken(access_token=access, expires_in=expires_in, scope=granted)


def _authenticated(credentials: Credentials | None, caller: Caller) -> APIClient:
    if credentials is None:
        raise InvalidClient()
    return clients.client_authenticate(
        client_id=credentials.client_id, secret=credentials.secret, caller=caller
    )


def _granted(client: APIClient, scope: str | None) -> str:
    if scope is None:
        return client.scope
    try:
        requested = clients.scope_parse(scope)
    except InvalidInput as exc:
        raise InvalidScope() from exc
    if not requested or not set(requested) <= set(client.scopes):
        raise InvalidScope()
    return " ".join(requested)


def token_introspect(
    *, token: str, credentials: Credentials | None, caller: Caller
) -> dict[str, Any]:
    """RFC 7662: what a live access token says, or `{"active": false}` for anything else
    (expired, ended session, disabled client, refresh token, unknown). The caller must be a
    client with the `introspect` scope. Live means as this service checks on every request:
    a logout or a disabled client shows at once."""
    client = _authenticated(credentials, caller)
    if clients.INTROSPECT_SCOPE not in client.scopes:
        raise InsufficientScope()
    try:
        claims = tokens.access_inspect(token)
        live = _client_token_live(claims) if _is_client_token(claims) else _user_token_live(token)
    except InvalidToken:
        return INACTIVE
    if not live:
        return INACTIVE
    answer = {name: claims[name] for name in _INTROSPECTED if name in claims}
    return {"active": True, **answer, "token_type": "Bearer"}


def _is_client_token(claims: dict[str, Any]) -> bool:
    # RFC 9068 2.2: with no resource owner, `sub` is the client. A user's `sub` is a UUID.
    sub = claims["sub"]
    return bool(sub == claims["client_id"] and sub.startswith(clients.CLIENT_ID_PREFIX))


def _client_token_live(claims: dict[str, Any]) -> bool:
    return bool(
        token_store.client_token_is_live(client_id=claims["client_id"], session_id=claims["sid"])
    )


def _user_token_live(token: str) -> bool:
    # The check every authenticated request makes: signature, audience, user row, session.
    sessions.access_authenticate(token)
    return True


def token_revoke(*, token: str, credentials: Credentials | None, caller: Caller) -> None:
    """RFC 7009: end the session of a refresh token, whoever holds it (its user without client
    credentials, or an authenticated client); silent about any other string. Credentials that
    are given must be right (InvalidClient)."""
    if credentials is not None:
        clients.client_authenticate(
            client_id=credentials.client_id, secret=credentials.secret, caller=caller
        )
    sessions.session_logout(refresh=token, caller=caller)
