"""Domain errors: one base class; each error carries what its answer needs (field errors, a
wait); the API maps each class to a status once (api/api.py), the domain never knows HTTP."""

from __future__ import annotations

from typing import Any

from django.conf import settings


class AccountsError(Exception):
    """Base of every error the domain raises on purpose."""

    code = "error"
    default_message = "Request failed."
    # What the caller is told; the message itself (str(exc)) may say more, for the log.
    public_message: str | None = None
    logged = False

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)
        self.retry_after: int | None = None

    @property
    def detail(self) -> str:
        return self.public_message or str(self)

    def extras(self) -> dict[str, Any]:
        """Fields the error adds to the common `{"detail", "code"}` body."""
        return {}


class InvalidInput(AccountsError):
    """Input broke one or more rules; `errors` lists every problem."""

    code = "invalid"
    default_message = "Invalid input."

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__()
        self.errors = errors

    def extras(self) -> dict[str, Any]:
        return {"errors": self.errors}


class EmailTaken(AccountsError):
    """An account with this email (in any case, any Unicode spelling or a look-alike) exists."""

    code = "email_taken"
    default_message = "An account with this email already exists."


class InvalidCredentials(AccountsError):
    """Login failed; deliberately silent about why."""

    code = "invalid_credentials"
    default_message = "No active account found with the given credentials."


class InvalidToken(AccountsError):
    """A token is malformed, forged, expired, of the wrong kind, or its session is over."""

    code = "invalid_token"
    default_message = "Token is invalid or expired."


class TokenReused(InvalidToken):
    """A refresh token was presented twice: its whole session was ended."""

    code = "token_reused"
    default_message = "Refresh token was already used; the session has been ended."


class WrongPassword(AccountsError):
    """The current password given for a password change is not the user's."""

    code = "wrong_password"
    default_message = "Current password is incorrect."


class InvalidCode(AccountsError):
    """A mailed link's token or code is wrong, used, expired, tried too often, or outlived by a
    password change; deliberately silent about which."""

    code = "invalid_code"
    default_message = "The link or code is invalid or has expired."


class EmailNotVerified(AccountsError):
    """The credentials are right, but REQUIRE_VERIFIED_EMAIL holds the login until the address
    is verified."""

    code = "email_not_verified"
    default_message = "Verify your email address before logging in."


class AlreadyVerified(AccountsError):
    """The address is verified already: there is nothing to send."""

    code = "already_verified"
    default_message = "The email address is already verified."


class SessionNotFound(AccountsError):
    """No live session with this id belongs to the caller."""

    code = "not_found"
    default_message = "Session not found."


class Throttled(AccountsError):
    """Too many attempts from this address or on this account; retry after `retry_after` s."""

    code = "throttled"
    default_message = "Too many attempts; retry later."

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.retry_after = retry_after


class Unavailable(AccountsError):
    """A dependency did not answer; nothing was issued or accepted. Retry shortly."""

    dependency = "other"  # the label of the 503 in the metrics

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = settings.RETRY_AFTER_SECONDS


class StoreUnavailable(Unavailable):
    """The token store (Redis) did not answer."""

    code = "token_store_unavailable"
    dependency = "token_store"
    default_message = "Token service temporarily unavailable; retry shortly."


class HasherBusy(Unavailable):
    """Every password-hashing slot is taken; the request was refused rather than queued."""

    code = "busy"
    dependency = "hasher"
    default_message = "Too many logins in progress; retry shortly."


class KeyConfigurationError(Unavailable):
    """The signing key set is missing, unreadable or inconsistent."""

    code = "key_configuration"
    dependency = "signing_keys"
    default_message = "Signing keys are misconfigured."
    public_message = "Token signing is unavailable."
    logged = True


class DatabaseUnavailable(Unavailable):
    """PostgreSQL did not answer a read of the hot path (the async pool, accounts/pg.py)."""

    code = "database_unavailable"
    dependency = "database"
    default_message = "Service temporarily unavailable; retry shortly."
    public_message = default_message  # the log gets the driver's error class, the caller not
    logged = True


class OAuthError(AccountsError):
    """An error of the OAuth endpoints: its body adds RFC 6749 section 5.2's `error` fields."""

    def extras(self) -> dict[str, Any]:
        return {"error": self.code, "error_description": self.detail}


class InvalidClient(OAuthError):
    """Client authentication failed: unknown client, wrong secret, or a disabled client."""

    code = "invalid_client"
    default_message = "Client authentication failed."


class InvalidOAuthRequest(OAuthError):
    """A parameter is missing, repeated, or credentials came by more than one method."""

    code = "invalid_request"
    default_message = "Invalid request."


class UnsupportedGrantType(OAuthError):
    """The grant type is not one this service issues tokens for (client_credentials)."""

    code = "unsupported_grant_type"
    default_message = "Only grant_type=client_credentials is supported."


class InvalidScope(OAuthError):
    """A requested scope is malformed or not one the client may be granted."""

    code = "invalid_scope"
    default_message = "The requested scope is invalid or not allowed for this client."


class InsufficientScope(OAuthError):
    """The client is authenticated but lacks the scope this endpoint needs."""

    code = "insufficient_scope"
    default_message = "The client lacks the scope this endpoint requires."
