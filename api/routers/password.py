"""Changing the password."""

from __future__ import annotations

from django.http import HttpResponse
from ninja import Router

from accounts import services
from api.auth import AuthedRequest, BearerAuth
from api.caller import caller_of
from api.routers.tokens import token_out
from api.schemas import ErrorOut, PasswordChangeIn, TokenOut

router = Router(tags=["password"])


@router.post(
    "/password/change/",
    auth=BearerAuth(),
    response={200: TokenOut, 400: ErrorOut, 401: ErrorOut, 429: ErrorOut, 503: ErrorOut},
)
def password_change(
    request: AuthedRequest, payload: PasswordChangeIn, response: HttpResponse
) -> TokenOut:
    """Change the password. Every session ends; the response is a fresh pair for the caller."""
    pair = services.user_change_password(
        user=request.auth.user,
        current_password=payload.current_password,
        new_password=payload.new_password,
        caller=caller_of(request),
    )
    return token_out(response, pair)
