"""Account recovery and address verification by mail: request (a mail is queued), confirm (the
mailed token or code is used once). Requests answer the same whether or not an account exists;
mails go out later, from the worker (accounts/mail.py)."""

from __future__ import annotations

from django.db import transaction

from accounts import email_tokens, mail, selectors, services, sessions, throttling
from accounts.audit import Kind, audit_record
from accounts.email_tokens import Purpose
from accounts.exceptions import AlreadyVerified, InvalidCode, InvalidInput
from accounts.hashing import hashing_slot
from accounts.managers import normalize_email
from accounts.models import User
from accounts.types import Caller, TokenPair


def password_reset_request(
    *, email: str, caller: Caller, actor: User | None = None, throttle: bool = True
) -> None:
    """Queue a reset mail to `email` if it has an active account; the same work either way.
    Something that is no address at all is refused (400 invalid), whoever asks."""
    email = normalize_email(email)
    problems = services.email_problems(email)
    if problems:
        raise InvalidInput(problems)
    if throttle:
        throttling.mail_attempt(flow="reset", email=email, caller=caller)
    user = selectors.user_get_by_email(email=email)
    language = mail.language_of(caller.accept_language)
    with transaction.atomic():
        # Queued for every address: the worker finds the account, so the request's work (and
        # time) does not depend on whether there is one.
        mail.mail_queue(kind=mail.PASSWORD_RESET, language=language, email=email)
        audit_record(
            kind=Kind.PASSWORD_RESET_REQUESTED, user=user, email=email, caller=caller, actor=actor
        )


def password_reset_confirm(
    *,
    new_password: str,
    caller: Caller,
    token: str | None = None,
    email: str | None = None,
    code: str | None = None,
) -> TokenPair:
    """Set a new password with a mailed token (or address and code): every session ends, and
    a new one opens for the caller."""
    throttling.confirm_attempt(caller=caller)
    token_id = _find(Purpose.PASSWORD_RESET, Kind.PASSWORD_RESET_FAILED, caller, token, email, code)
    with transaction.atomic():
        row = email_tokens.token_lock(token_id=token_id)
        user = row.user
        problems = services.password_problems(new_password, user, "new_password")
        if problems:
            raise InvalidInput(problems)
        email_tokens.token_use(row)
        with hashing_slot():
            user.set_password(new_password)
        # The mail reached the address: it is the owner's.
        user.email_verified = user.email_verified or row.email == user.email
        user.save(update_fields=["password", "email_verified"])
        sessions.sessions_end_all(user=user, kind=Kind.PASSWORD_RESET, caller=caller)
    return sessions.session_start(user=user, caller=caller)


def email_verify_request(
    *, user: User, caller: Caller, actor: User | None = None, throttle: bool = True
) -> None:
    """Queue another verification mail to the user's address."""
    if user.email_verified:
        raise AlreadyVerified()
    if throttle:
        throttling.mail_attempt(flow="verify", email=user.email, caller=caller)
    language = mail.language_of(caller.accept_language)
    with transaction.atomic():
        mail.mail_queue(kind=mail.VERIFY_EMAIL, language=language, user_id=str(user.pk))
        audit_record(kind=Kind.EMAIL_VERIFY_REQUESTED, user=user, caller=caller, actor=actor)


def email_verify_confirm(
    *, caller: Caller, token: str | None = None, email: str | None = None, code: str | None = None
) -> User:
    """Mark the address verified with a mailed token (or address and code)."""
    throttling.confirm_attempt(caller=caller)
    token_id = _find(Purpose.VERIFY, Kind.EMAIL_VERIFY_FAILED, caller, token, email, code)
    with transaction.atomic():
        row = email_tokens.token_lock(token_id=token_id)
        user = row.user
        if row.email != user.email:
            raise InvalidCode()  # the address changed since the mail was sent
        email_tokens.token_use(row)
        user.email_verified = True
        user.save(update_fields=["email_verified"])
        audit_record(kind=Kind.EMAIL_VERIFIED, user=user, caller=caller)
    return user


def _find(
    purpose: str,
    failed: str,
    caller: Caller,
    token: str | None,
    email: str | None,
    code: str | None,
) -> int:
    try:
        return email_tokens.token_find(purpose=purpose, token=token, email=email, code=code)
    except InvalidCode:
        # Never the token or the code: only that an attempt failed, and the address if given.
        detail = "wrong or dead code" if code else "wrong or dead token"
        audit_record(kind=failed, email=normalize_email(email or ""), caller=caller, detail=detail)
        raise
