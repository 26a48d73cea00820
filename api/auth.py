"""Bearer authentication for the API: signature, claims, user and session on every request."""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer

from accounts import sessions
from accounts.types import AccessClaims, Principal


class AuthedRequest(HttpRequest):
    """The type of a request that passed BearerAuth: `auth` is who made it."""

    auth: Principal


class VerifiedRequest(HttpRequest):
    """The type of a request that passed ClaimsBearerAuth: `auth` is what the token says."""

    auth: AccessClaims


def bearer_token(header: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` value (any case), or None."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class BearerAuth(HttpBearer):
    def __call__(self, request: HttpRequest) -> Principal | AccessClaims | None:
        # Ninja's own __call__ logs an unexpected header in DEBUG; a credential is never logged.
        token = bearer_token(request.headers.get(self.header, ""))
        return None if token is None else self.authenticate(request, token)

    def authenticate(self, request: HttpRequest, token: str) -> Principal | AccessClaims:
        return sessions.access_authenticate(token)


class ClaimsBearerAuth(BearerAuth):
    """Forward auth's: the token and its session, no user read (sessions.access_verify)."""

    def authenticate(self, request: HttpRequest, token: str) -> AccessClaims:
        return sessions.access_verify(token)
