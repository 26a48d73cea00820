"""The address: verify it, change it (confirmed by the new address); delete the account."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Status

from accounts import email_change, recovery, services
from accounts.models import User
from api.auth import AuthedRequest, BearerAuth
from api.caller import caller_of
from api.schemas import (
    AcceptedOut,
    EmailChangeIn,
    EmailVerifiedOut,
    ErrorOut,
    MailSecretIn,
    PasswordIn,
)

router = Router(tags=["email"])

_errors = {400: ErrorOut, 401: ErrorOut, 429: ErrorOut, 503: ErrorOut}


@router.post("/email/verify/", response={200: EmailVerifiedOut, 400: ErrorOut, 429: ErrorOut})
def email_verify(request: HttpRequest, payload: MailSecretIn) -> User:
    """Verify the address with the mail's `token`, or its `email` and `code`."""
    return recovery.email_verify_confirm(
        token=payload.token, email=payload.email, code=payload.code, caller=caller_of(request)
    )


@router.post(
    "/email/verify/resend/",
    auth=BearerAuth(),
    response={202: AcceptedOut, 409: ErrorOut, **_errors},
)
def email_verify_resend(request: AuthedRequest) -> Status[AcceptedOut]:
    """Mail another verification link and code to the caller's address."""
    recovery.email_verify_request(user=request.auth.user, caller=caller_of(request))
    return Status(202, AcceptedOut(detail="A verification mail is on its way."))


@router.post(
    "/email/change/", auth=BearerAuth(), response={202: AcceptedOut, 409: ErrorOut, **_errors}
)
def email_change_request(request: AuthedRequest, payload: EmailChangeIn) -> Status[AcceptedOut]:
    """Ask to change the address: the new one gets a confirmation link, the old one a notice.
    Nothing changes until the new address confirms."""
    email_change.email_change_request(
        user=request.auth.user,
        password=payload.password,
        new_email=payload.new_email,
        caller=caller_of(request),
    )
    detail = "A confirmation mail is on its way to the new address."
    return Status(202, AcceptedOut(detail=detail))


@router.post(
    "/email/change/confirm/",
    response={200: EmailVerifiedOut, 400: ErrorOut, 409: ErrorOut, 429: ErrorOut},
)
def email_change_confirm(request: HttpRequest, payload: MailSecretIn) -> User:
    """Confirm the new address with the mail's `token`, or the new `email` and its `code`."""
    return email_change.email_change_confirm(
        token=payload.token, email=payload.email, code=payload.code, caller=caller_of(request)
    )


@router.post("/me/delete/", auth=BearerAuth(), response={204: None, **_errors})
def account_delete(request: AuthedRequest, payload: PasswordIn) -> Status[None]:
    """Delete the caller's account (with the current password): every session ends at once,
    the audit trail keeps a pseudonym, and a confirmation is mailed."""
    services.user_delete_own(
        user=request.auth.user, password=payload.password, caller=caller_of(request)
    )
    return Status(204, None)
