"""Ending sessions, listing them, and changing the password."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Router, Status

from accounts import services, tokens
from accounts.context import client_of
from accounts.token_store import SessionRecord
from api.auth import BearerAuth
from api.routers.tokens import token_out
from api.schemas import ErrorOut, PasswordChangeIn, RefreshIn, SessionOut, TokenOut

router = Router(tags=["sessions"])
_errors = {401: ErrorOut, 503: ErrorOut}


@router.post("/logout/", response={204: None, 400: ErrorOut, 503: ErrorOut})
def logout(request: HttpRequest, payload: RefreshIn) -> Status[None]:
    """End the session of this refresh token: it and the session's access tokens stop working.

    Answers 204 whatever the token (RFC 7009): nothing tells whether it named a live session.
    """
    tokens.session_logout(refresh=payload.refresh, client=client_of(request))
    return Status(204, None)


@router.post("/logout/all/", auth=BearerAuth(), response={204: None, **_errors})
def logout_all(request: HttpRequest) -> Status[None]:
    """End every session of the caller, on every device."""
    services.user_logout_all(user=request.auth, client=client_of(request))  # type: ignore[attr-defined]
    return Status(204, None)


@router.get("/sessions/", auth=BearerAuth(), response={200: list[SessionOut], **_errors})
def sessions_list(request: HttpRequest) -> list[SessionOut]:
    """The caller's live sessions, newest first."""
    current = request.token_claims.session_id  # type: ignore[attr-defined]
    return [_session_out(s, current) for s in tokens.sessions_list(user=request.auth)]  # type: ignore[attr-defined]


@router.delete(
    "/sessions/{session_id}/", auth=BearerAuth(), response={204: None, 404: ErrorOut, **_errors}
)
def session_delete(request: HttpRequest, session_id: str) -> Status[None]:
    """End one of the caller's sessions (404 for an id that is not theirs)."""
    tokens.session_end(user=request.auth, sid=session_id, client=client_of(request))  # type: ignore[attr-defined]
    return Status(204, None)


@router.post(
    "/password/change/", auth=BearerAuth(), response={200: TokenOut, 400: ErrorOut, **_errors}
)
def password_change(
    request: HttpRequest, payload: PasswordChangeIn, response: HttpResponse
) -> TokenOut:
    """Change the password. Every session ends; the response is a fresh pair for the caller."""
    pair = services.user_change_password(
        user=request.auth,  # type: ignore[attr-defined]
        current_password=payload.current_password,
        new_password=payload.new_password,
        client=client_of(request),
    )
    return token_out(response, pair)


def _session_out(record: SessionRecord, current_sid: str) -> SessionOut:
    return SessionOut(
        id=record.sid,
        created=record.created,
        last_used=record.last_used,
        expires=record.expires,
        user_agent=record.user_agent,
        ip=record.ip,
        current=record.sid == current_sid,
    )
