"""Ending sessions and listing them."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Status

from accounts import sessions
from accounts.audit import Kind
from accounts.types import Session
from api.auth import AuthedRequest, BearerAuth
from api.caller import caller_of
from api.schemas import ErrorOut, LogoutIn, SessionId, SessionOut

router = Router(tags=["sessions"])
_errors = {401: ErrorOut, 503: ErrorOut}


@router.post("/logout/", response={204: None, 400: ErrorOut, 503: ErrorOut})
def logout(request: HttpRequest, payload: LogoutIn) -> Status[None]:
    """End the session of this refresh token: it and the session's access tokens stop working.

    Answers 204 whatever the token (RFC 7009): nothing tells whether it named a live session.
    """
    sessions.session_logout(refresh=payload.refresh, caller=caller_of(request))
    return Status(204, None)


@router.post("/logout/all/", auth=BearerAuth(), response={204: None, **_errors})
def logout_all(request: AuthedRequest) -> Status[None]:
    """End every session of the caller, on every device."""
    sessions.sessions_end_all(
        user=request.auth.user, kind=Kind.LOGOUT_ALL, caller=caller_of(request)
    )
    return Status(204, None)


@router.get("/sessions/", auth=BearerAuth(), response={200: list[SessionOut], **_errors})
def sessions_list(request: AuthedRequest) -> list[SessionOut]:
    """The caller's live sessions, newest first."""
    current = request.auth.claims.session_id
    return [_session_out(s, current) for s in sessions.sessions_list(user=request.auth.user)]


@router.delete(
    "/sessions/{session_id}/", auth=BearerAuth(), response={204: None, 404: ErrorOut, **_errors}
)
def session_delete(request: AuthedRequest, session_id: SessionId) -> Status[None]:
    """End one of the caller's sessions (404 for an id that is not theirs)."""
    sessions.session_end(user=request.auth.user, session_id=session_id, caller=caller_of(request))
    return Status(204, None)


def _session_out(session: Session, current_session_id: str) -> SessionOut:
    return SessionOut(
        id=session.session_id,
        created=session.created,
        last_used=session.last_used,
        expires=session.expires,
        user_agent=session.user_agent,
        ip=session.ip,
        current=session.session_id == current_session_id,
    )
