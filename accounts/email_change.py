"""Changing the login address: the owner asks (with the password), the new address confirms,
the old one is told. The address changes only on confirmation, and stays unique."""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction

from accounts import email_tokens, mail, selectors, services, throttling
from accounts.audit import Kind, audit_record
from accounts.email_tokens import Purpose
from accounts.exceptions import EmailTaken, InvalidCode, InvalidInput
from accounts.managers import normalize_email
from accounts.models import User
from accounts.types import Caller


def email_change_request(*, user: User, password: str, new_email: str, caller: Caller) -> None:
    """Mail a confirmation to `new_email` and a notice to the current address."""
    throttling.mail_attempt(flow="change", email=user.email, caller=caller)
    services.password_confirm(user=user, password=password, caller=caller)
    new_email = normalize_email(new_email)
    problems = services.email_problems(new_email, "new_email")
    if not problems and new_email == user.email:
        problems = [{"field": "new_email", "message": "This is the current address."}]
    if problems:
        raise InvalidInput(problems)
    taken = selectors.user_get_by_email(email=new_email) is not None
    if taken and settings.REGISTRATION_ENUMERATION == "open":
        raise EmailTaken()
    language = mail.language_of(caller.accept_language)
    with transaction.atomic():
        if not taken:  # protected: the same answer, and no mail to somebody else's address
            mail.mail_queue(
                kind=mail.EMAIL_CHANGE_CONFIRM,
                language=language,
                user_id=str(user.pk),
                new_email=new_email,
            )
        mail.mail_queue(
            kind=mail.EMAIL_CHANGE_NOTICE, language=language, email=user.email, new_email=new_email
        )
        audit_record(
            kind=Kind.EMAIL_CHANGE_REQUESTED, user=user, caller=caller, detail=f"to {new_email}"
        )


def email_change_confirm(
    *, caller: Caller, token: str | None = None, email: str | None = None, code: str | None = None
) -> User:
    """Set the address a mailed token (or the new address and its code) confirms; EmailTaken if
    another account took it meanwhile (of two claims on one address exactly one wins)."""
    throttling.confirm_attempt(caller=caller)
    try:
        token_id = email_tokens.token_find(
            purpose=Purpose.CHANGE, token=token, email=email, code=code
        )
        with transaction.atomic():
            row = email_tokens.token_lock(token_id=token_id)
            user, old = row.user, row.user.email
            user.email, user.email_verified = row.email, True
            try:
                with transaction.atomic():
                    user.save(update_fields=["email", "email_verified"])
            except IntegrityError as exc:
                raise EmailTaken() from exc
            email_tokens.token_use(row)
            audit_record(kind=Kind.EMAIL_CHANGED, user=user, caller=caller, detail=f"from {old}")
    except (InvalidCode, EmailTaken) as exc:
        detail = "address taken meanwhile" if isinstance(exc, EmailTaken) else "wrong or dead"
        audit_record(
            kind=Kind.EMAIL_CHANGE_FAILED,
            email=normalize_email(email or ""),
            caller=caller,
            detail=detail,
        )
        raise
    return user
