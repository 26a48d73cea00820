"""Registration, login and refresh."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Router, Status

from accounts import services, tokens
from accounts.context import client_of
from accounts.models import User
from api.schemas import ErrorOut, LoginIn, RefreshIn, RegisterIn, TokenOut, UserOut

router = Router(tags=["auth"])

_errors = {400: ErrorOut, 401: ErrorOut, 429: ErrorOut, 503: ErrorOut}


def token_out(response: HttpResponse, pair: tokens.TokenPair) -> TokenOut:
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return TokenOut(access=pair.access, refresh=pair.refresh, expires_in=pair.expires_in)


@router.post(
    "/register/",
    response={201: UserOut, 400: ErrorOut, 409: ErrorOut, 429: ErrorOut, 503: ErrorOut},
)
def register(request: HttpRequest, payload: RegisterIn) -> Status[User]:
    """Create an account. Email is the login, unique whatever its case."""
    user = services.user_register(
        email=payload.email, password=payload.password, client=client_of(request)
    )
    return Status(201, user)


@router.post("/token/", response={200: TokenOut, **_errors})
def token_obtain(request: HttpRequest, payload: LoginIn, response: HttpResponse) -> TokenOut:
    """Log in: an access and a refresh token for a new session."""
    pair = services.user_login(
        email=payload.email, password=payload.password, client=client_of(request)
    )
    return token_out(response, pair)


@router.post("/token/refresh/", response={200: TokenOut, **_errors})
def token_refresh(request: HttpRequest, payload: RefreshIn, response: HttpResponse) -> TokenOut:
    """Trade a refresh token for a new pair; it works once, and a replay ends the session."""
    pair = tokens.session_refresh(refresh=payload.refresh, client=client_of(request))
    return token_out(response, pair)
