"""Forgotten passwords: ask for a reset mail, then set a new password with its token or code."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Router, Status

from accounts import recovery
from api.caller import caller_of
from api.routers.tokens import token_out
from api.schemas import AcceptedOut, ErrorOut, PasswordResetConfirmIn, PasswordResetIn, TokenOut

router = Router(tags=["password"])

RESET_ACCEPTED = "If the address has an account, a mail with a reset link is on its way."


@router.post("/password/reset/", response={202: AcceptedOut, 400: ErrorOut, 429: ErrorOut})
def password_reset(request: HttpRequest, payload: PasswordResetIn) -> Status[AcceptedOut]:
    """Mail a reset link and code. The answer is the same whether or not the address has an
    account, and whether or not the mail can be delivered (it goes out later, from a worker)."""
    recovery.password_reset_request(email=payload.email, caller=caller_of(request))
    return Status(202, AcceptedOut(detail=RESET_ACCEPTED))


@router.post(
    "/password/reset/confirm/",
    response={200: TokenOut, 400: ErrorOut, 429: ErrorOut, 503: ErrorOut},
)
def password_reset_confirm(
    request: HttpRequest, payload: PasswordResetConfirmIn, response: HttpResponse
) -> TokenOut:
    """Set a new password with the mail's `token`, or its `email` and `code`. Every session
    ends; the answer is a fresh pair. A token works once; a code allows 5 wrong tries."""
    pair = recovery.password_reset_confirm(
        new_password=payload.new_password,
        token=payload.token,
        email=payload.email,
        code=payload.code,
        caller=caller_of(request),
    )
    return token_out(response, pair)
