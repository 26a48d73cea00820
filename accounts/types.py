"""Domain types that cross the boundary to the API: what the services take and return."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from accounts.models import User


@dataclass(frozen=True)
class Caller:
    """Who is calling, as recorded with sessions and audit events."""

    user_agent: str = ""
    ip: str = ""
    # The request's Accept-Language as sent: the language of any mail the request queues.
    accept_language: str = ""


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str
    expires_in: int  # seconds the access token is valid
    refresh_expires_in: int  # seconds until the session ends unless refreshed again
    session_id: str


@dataclass(frozen=True)
class AccessClaims:
    """What a verified access token says: whose it is, of which session, until when, and the
    roles and scope it carries (a gateway authorises with them, without a database read)."""

    user_id: str
    session_id: str
    expires_at: int  # seconds since the epoch
    roles: tuple[str, ...] = ()  # the user's group names when the token was issued
    scope: str = ""  # space-separated scopes JWT_GROUP_SCOPES granted those roles


@dataclass(frozen=True)
class Principal:
    """The caller of an authenticated request: the user, and the token that proved it."""

    user: User
    claims: AccessClaims


@dataclass(frozen=True)
class Session:
    """A live session, as a session list shows it."""

    session_id: str
    created_ms: int
    last_used_ms: int
    expires_ms: int  # when it ends unless refreshed again
    user_agent: str
    ip: str

    @property
    def created(self) -> datetime:
        return _datetime(self.created_ms)

    @property
    def last_used(self) -> datetime:
        return _datetime(self.last_used_ms)

    @property
    def expires(self) -> datetime:
        return _datetime(self.expires_ms)


def _datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)
