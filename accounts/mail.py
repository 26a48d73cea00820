"""Mail: queued in the caller's transaction, composed and sent by the worker (accounts/tasks.py).

A job holds what a mail is about (a user id, an address, the language), never a secret: the
worker mints the link's token when it sends, in the same transaction as the send, so a failed
send leaves no live token behind and a retry mints a new one. Templates are
`mail/<language>/<kind>.txt` (first line: the subject) and `.html`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import trans_real

from accounts import email_tokens
from accounts.email_tokens import Purpose
from accounts.models import User

logger = logging.getLogger(__name__)

PASSWORD_RESET = "password_reset"
VERIFY_EMAIL = "verify_email"
REGISTER_TAKEN = "register_taken"
EMAIL_CHANGE_CONFIRM = "email_change_confirm"
EMAIL_CHANGE_NOTICE = "email_change_notice"
ACCOUNT_DELETED = "account_deleted"


def language_of(accept_language: str) -> str:
    """The mail language an Accept-Language header asks for (LANGUAGES), else LANGUAGE_CODE."""
    for tag, _ in trans_real.parse_accept_lang_header(accept_language[:256]):
        if tag == "*":
            break
        try:
            return str(translation.get_supported_language_variant(tag))
        except LookupError:
            continue
    return str(settings.LANGUAGE_CODE)


def mail_queue(*, kind: str, language: str, **params: str) -> None:
    """Queue one mail. With the database backend the job is a row written in the caller's
    transaction (it exists if and only if the change that asks for it commits); other backends
    run the job once that transaction commits."""
    from accounts.tasks import deliver

    enqueue = partial(deliver.enqueue, kind=kind, language=language, attempt=1, **params)
    if deliver.get_backend().supports_defer:
        enqueue()
    else:
        transaction.on_commit(enqueue)


def retry_delay(attempt: int) -> timedelta | None:
    """How long after failed attempt number `attempt` the next one runs; None: no more."""
    if attempt >= settings.MAIL_MAX_ATTEMPTS:
        return None
    return timedelta(seconds=settings.MAIL_RETRY_BASE_SECONDS * 2 ** (attempt - 1))


def mail_deliver(*, kind: str, language: str, **params: str) -> str:
    """Compose and send one mail (the worker's side); what was done, for the job's result.

    Raises what the mail backend raises (smtplib.SMTPException, OSError) when it cannot send:
    the token minted for the mail is rolled back with it.
    """
    build = _BUILDERS[kind]
    with transaction.atomic(), translation.override(language):
        built = build(**params)
        if built is None:
            return "nothing to send"
        to, context = built
        _send(kind, language, to, context)
    return "sent"


def _send(kind: str, language: str, to: str, context: dict[str, Any]) -> None:
    text = render_to_string(f"mail/{language}/{kind}.txt", context)
    subject, _, body = text.partition("\n")
    html = render_to_string(f"mail/{language}/{kind}.html", {**context, "language": language})
    message = EmailMultiAlternatives(subject.strip(), body.strip() + "\n", to=[to])
    message.attach_alternative(html, "text/html")
    message.send()


def _link(path: str, token: str) -> str:
    return settings.FRONTEND_URL + path.replace("{token}", token)


def _minutes(purpose: str) -> int:
    return int(email_tokens.lifetime(purpose).total_seconds() // 60)


def _user(user_id: str) -> User | None:
    try:
        return User.objects.filter(pk=uuid.UUID(user_id), is_active=True).first()
    except ValueError:
        return None


Built = tuple[str, dict[str, Any]] | None


def _password_reset(*, email: str) -> Built:
    user = User.objects.filter(email=email, is_active=True).first()
    if user is None:
        return None  # no account: nobody to mail, and the request was answered the same
    secret = email_tokens.token_mint(user=user, purpose=Purpose.PASSWORD_RESET, email=user.email)
    link = _link(settings.PASSWORD_RESET_PATH, secret.token)
    minutes = _minutes(Purpose.PASSWORD_RESET)
    return user.email, {"link": link, "code": secret.code, "minutes": minutes}


def _verify_email(*, user_id: str) -> Built:
    user = _user(user_id)
    if user is None or user.email_verified:
        return None
    secret = email_tokens.token_mint(user=user, purpose=Purpose.VERIFY, email=user.email)
    link = _link(settings.EMAIL_VERIFY_PATH, secret.token)
    return user.email, {"link": link, "code": secret.code, "minutes": _minutes(Purpose.VERIFY)}


def _email_change_confirm(*, user_id: str, new_email: str) -> Built:
    user = _user(user_id)
    if user is None:
        return None
    secret = email_tokens.token_mint(user=user, purpose=Purpose.CHANGE, email=new_email)
    link = _link(settings.EMAIL_CHANGE_PATH, secret.token)
    context = {"link": link, "code": secret.code, "minutes": _minutes(Purpose.CHANGE)}
    return new_email, {**context, "old_email": user.email}


def _notice(*, email: str, **context: str) -> Built:
    return email, {"email": email, "frontend_url": settings.FRONTEND_URL, **context}


_BUILDERS: dict[str, Callable[..., Built]] = {
    PASSWORD_RESET: _password_reset,
    VERIFY_EMAIL: _verify_email,
    EMAIL_CHANGE_CONFIRM: _email_change_confirm,
    REGISTER_TAKEN: _notice,
    EMAIL_CHANGE_NOTICE: _notice,
    ACCOUNT_DELETED: _notice,
}
