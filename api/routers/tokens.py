"""Registration, login and refresh."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Router, Status

from accounts import services, sessions
from accounts.models import User
from accounts.types import TokenPair
from api.caller import caller_of
from api.schemas import ErrorOut, LoginIn, RefreshIn, RegisterIn, TokenOut, UserOut

router = Router(tags=["auth"])

_errors = {400: ErrorOut, 401: ErrorOut, 429: ErrorOut, 503: ErrorOut}


def token_out(response: HttpResponse, pair: TokenPair) -> TokenOut:
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return TokenOut(
        access=pair.access,
        refresh=pair.refresh,
        expires_in=pair.expires_in,
        refresh_expires_in=pair.refresh_expires_in,
    )


@router.post(
    "/register/",
    response={201: UserOut, 400: ErrorOut, 409: ErrorOut, 429: ErrorOut, 503: ErrorOut},
)
def register(request: HttpRequest, payload: RegisterIn) -> Status[User]:
    """Create an account. Email is the login, unique whatever its case."""
    user = services.user_register(
        email=payload.email, password=payload.password, caller=caller_of(request)
    )
    return Status(201, user)


@router.post("/token/", response={200: TokenOut, **_errors})
def token_obtain(request: HttpRequest, payload: LoginIn, response: HttpResponse) -> TokenOut:
    """Log in: an access and a refresh token for a new session."""
    pair = services.user_login(
        email=payload.email, password=payload.password, caller=caller_of(request)
    )
    return token_out(response, pair)


@router.post("/token/refresh/", response={200: TokenOut, **_errors})
def token_refresh(request: HttpRequest, payload: RefreshIn, response: HttpResponse) -> TokenOut:
    """Trade a refresh token for a new pair; it works once, and a replay ends the session."""
    pair = sessions.session_refresh(refresh=payload.refresh, caller=caller_of(request))
    return token_out(response, pair)
