"""Secrets sent by mail (reset, verification, email change): minted by the mail worker, checked
by the services. Only hashes are stored; a secret works once, until it expires, for at most
MAX_CODE_ATTEMPTS wrong codes, and only under the password it was issued with.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.exceptions import InvalidCode
from accounts.managers import normalize_email
from accounts.models import EmailToken, User

Purpose = EmailToken.Purpose
MAX_CODE_ATTEMPTS = 5
CODE_DIGITS = 6
TOKEN_BYTES = 32  # 256 bits from the CSPRNG


@dataclass(frozen=True)
class Minted:
    """A new secret, in clear: only ever put in the mail it was minted for."""

    token: str
    code: str


def _keyed(value: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _password_mark(user: User) -> str:
    """Changes whenever the password does (by any path): the secret then dies."""
    return _keyed(f"password:{user.password}")


def _code_hash(token_hash: str, code: str) -> str:
    # Keyed and salted with its token: a leaked table gives no 6-digit code away.
    return _keyed(f"code:{token_hash}:{code}")


def lifetime(purpose: str) -> timedelta:
    seconds = (
        settings.PASSWORD_RESET_TIMEOUT
        if purpose == Purpose.PASSWORD_RESET
        else settings.EMAIL_TOKEN_TIMEOUT
    )
    return timedelta(seconds=seconds)


def token_mint(*, user: User, purpose: str, email: str) -> Minted:
    """A new secret for `purpose`, sent to `email`; the user's earlier ones of it die."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    digest = _token_hash(token)
    now = timezone.now()
    with transaction.atomic():
        EmailToken.objects.filter(user=user, purpose=purpose, used_at=None).delete()
        EmailToken.objects.create(
            user=user,
            purpose=purpose,
            email=normalize_email(email),
            token_hash=digest,
            code_hash=_code_hash(digest, code),
            password_mark=_password_mark(user),
            created_at=now,
            expires_at=now + lifetime(purpose),
        )
    return Minted(token=token, code=code)


def token_find(
    *, purpose: str, token: str | None = None, email: str | None = None, code: str | None = None
) -> int:
    """The id of the live secret matching a token, or an address and its code; InvalidCode
    otherwise. Call it outside a transaction: a wrong code is counted (and committed) here, and
    the MAX_CODE_ATTEMPTS-th wrong one kills the secret. Then take it with `token_lock`."""
    with transaction.atomic():
        if token:
            row = _live(EmailToken.objects.filter(purpose=purpose, token_hash=_token_hash(token)))
        elif email and code:
            row = _live(EmailToken.objects.filter(purpose=purpose, email=normalize_email(email)))
            if row is not None and not hmac.compare_digest(
                row.code_hash, _code_hash(row.token_hash, code)
            ):
                row.code_attempts += 1
                row.save(update_fields=["code_attempts"])
                row = None
        else:
            row = None
    if row is None:
        raise InvalidCode()
    return row.pk


def token_lock(*, token_id: int) -> EmailToken:
    """The secret found by `token_find`, locked, if it is still live; inside the transaction that
    uses it (`token_use`), so that of concurrent uses exactly one wins."""
    row = _live(EmailToken.objects.filter(pk=token_id))
    if row is None:
        raise InvalidCode()
    return row


def _live(rows: QuerySet[EmailToken]) -> EmailToken | None:
    row = (
        rows.select_for_update(of=("self",))
        .select_related("user")
        .filter(used_at=None, expires_at__gt=timezone.now(), code_attempts__lt=MAX_CODE_ATTEMPTS)
        .order_by("-created_at")
        .first()
    )
    if row is None or not row.user.is_active:
        return None
    if not hmac.compare_digest(row.password_mark, _password_mark(row.user)):
        return None
    return row


def token_use(row: EmailToken) -> None:
    """Mark a secret used, so that it never works again."""
    row.used_at = timezone.now()
    row.save(update_fields=["used_at"])
