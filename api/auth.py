"""Bearer authentication for the API: signature, claims and session state on every request."""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer

from accounts import selectors, tokens
from accounts.exceptions import InvalidToken
from accounts.models import User


class BearerAuth(HttpBearer):
    def __call__(self, request: HttpRequest) -> User | None:
        # Ninja's own __call__ logs an unexpected header in DEBUG; a credential is never logged.
        scheme, _, token = request.headers.get(self.header, "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return self.authenticate(request, token.strip())

    def authenticate(self, request: HttpRequest, token: str) -> User:
        claims = tokens.access_verify(token)
        user = selectors.user_get_active(user_id=claims.user_id)
        if user is None:
            raise InvalidToken()
        request.token_claims = claims  # type: ignore[attr-defined]
        return user
