"""Writes of the accounts domain: registration, login, password and account changes."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import mail, metrics, selectors, sessions, throttling
from accounts.audit import Kind, audit_pseudonymise, audit_record
from accounts.exceptions import (
    EmailNotVerified,
    EmailTaken,
    InvalidCredentials,
    InvalidInput,
    Throttled,
    WrongPassword,
)
from accounts.hashing import hashing_slot
from accounts.identity import email_skeleton
from accounts.managers import normalize_email
from accounts.models import User
from accounts.types import Caller, TokenPair
from accounts.validators import validate_email_identity

EMAIL_MAX_LENGTH = 254


def _problems(field: str, error: ValidationError) -> list[dict[str, str]]:
    return [{"field": field, "message": message} for message in error.messages]


def password_problems(password: str, user: User, field: str) -> list[dict[str, str]]:
    """What the password policy has against a new password (empty: nothing)."""
    try:
        validate_password(password, user=user)
    except ValidationError as error:
        return _problems(field, error)
    return []


def email_problems(email: str, field: str = "email") -> list[dict[str, str]]:
    """What is wrong with an address as a login (empty: nothing)."""
    try:
        if len(email) > EMAIL_MAX_LENGTH:
            raise ValidationError("Enter an email address of at most 254 characters.")
        validate_email(email)
        validate_email_identity(email)
    except ValidationError as error:
        return _problems(field, error)
    return []


def user_register(*, email: str, password: str, caller: Caller | None = None) -> User:
    """Create an account and mail it a verification link; every rule the input breaks is
    reported at once.

    A taken address: EmailTaken with REGISTRATION_ENUMERATION=open; otherwise the owner is
    mailed and the answer is an account like a new one (never saved), so that registering
    tells nobody whether an address has an account.
    """
    if caller is not None:
        throttling.register_attempt(caller=caller)
    email = normalize_email(email)
    problems = email_problems(email) + password_problems(password, User(email=email), "password")
    if problems:
        raise InvalidInput(problems)
    caller = caller or Caller()
    language = mail.language_of(caller.accept_language)
    protected = settings.REGISTRATION_ENUMERATION != "open"
    # Counted for new and taken addresses alike (the same work, the same time); past the
    # per-address limit the owner of a taken one is not mailed again, and the answer is the same.
    notify = protected and throttling.mail_allowed(flow="register", email=email, caller=caller)
    user = User(email=email)
    with hashing_slot():
        user.set_password(password)
    try:
        with transaction.atomic():
            user.save(force_insert=True)
            mail.mail_queue(kind=mail.VERIFY_EMAIL, language=language, user_id=str(user.pk))
            audit_record(kind=Kind.EMAIL_VERIFY_REQUESTED, user=user, caller=caller)
    except IntegrityError as exc:
        # The address, or one that looks like it (the email_skeleton column), is taken.
        if not protected:
            raise EmailTaken() from exc
        with transaction.atomic():
            if notify:
                # The owner of the account in the way: of this address, or of its look-alike.
                owner = User.objects.filter(email_skeleton=email_skeleton(email)).first()
                to = owner.email if owner is not None else email
                mail.mail_queue(kind=mail.REGISTER_TAKEN, language=language, email=to)
            audit_record(kind=Kind.REGISTER_TAKEN, email=email, caller=caller)
        return User(email=email)
    return user


def user_authenticate(*, email: str, password: str, caller: Caller) -> User:
    """The active user these credentials belong to; every failure looks (and costs) the same."""
    user = selectors.user_get_by_email(email=email)
    with hashing_slot():
        if user is None:
            # Hash anyway, so that an unknown email takes as long as a wrong password.
            User().set_password(password)
        elif user.check_password(password) and user.is_active:
            return user
    reason = "unknown email" if user is None else "wrong password or inactive"
    audit_record(kind=Kind.LOGIN_FAILED, user=user, email=email, caller=caller, detail=reason)
    raise InvalidCredentials()


def user_credentials_check(*, email: str, password: str, caller: Caller) -> User:
    """The user these credentials log in, under the login's throttling (the API's and the
    admin's login alike); failures are audited."""
    try:
        throttling.login_attempt(email=email, caller=caller)
    except Throttled:
        metrics.login_counted("throttled")
        raise
    try:
        user = user_authenticate(email=email, password=password, caller=caller)
    except InvalidCredentials:
        metrics.login_counted("failed")
        throttling.login_failed(email=email, caller=caller)
        raise
    metrics.login_counted("ok")
    throttling.login_succeeded(email=email, caller=caller)
    return user


def user_login(*, email: str, password: str, caller: Caller) -> TokenPair:
    """Check credentials and open a session."""
    user = user_credentials_check(email=email, password=password, caller=caller)
    if settings.REQUIRE_VERIFIED_EMAIL and not user.email_verified:
        audit_record(kind=Kind.LOGIN_FAILED, user=user, caller=caller, detail="email not verified")
        raise EmailNotVerified()
    pair = sessions.session_start(user=user, caller=caller)
    User.objects.filter(pk=user.pk).update(last_login=timezone.now())
    audit_record(kind=Kind.LOGIN_OK, user=user, session_id=pair.session_id, caller=caller)
    return pair


def user_change_password(
    *, user: User, current_password: str, new_password: str, caller: Caller
) -> TokenPair:
    """Set a new password, end every session, and open a fresh one for the caller."""
    password_confirm(user=user, password=current_password, caller=caller)
    problems = password_problems(new_password, user, "new_password")
    if problems:
        raise InvalidInput(problems)
    user_set_password(user=user, password=new_password, caller=caller)
    return sessions.session_start(user=user, caller=caller)


def password_confirm(*, user: User, password: str, caller: Caller) -> None:
    """WrongPassword unless `password` is the user's (before a change the owner asks for)."""
    # Wrong current passwords count as this client's failed logins: a stolen access token is
    # no way to guess the password either.
    throttling.password_attempt(email=user.email, caller=caller)
    with hashing_slot():
        matches = user.check_password(password)
    if not matches:
        throttling.login_failed(email=user.email, caller=caller)
        raise WrongPassword()
    throttling.login_succeeded(email=user.email, caller=caller)


def user_set_password(
    *, user: User, password: str, caller: Caller | None = None, actor: User | None = None
) -> None:
    """Store a new password and end every session, in one transaction (API and admin)."""
    with hashing_slot():
        user.set_password(password)
    with transaction.atomic():
        user.save(update_fields=["password"])
        sessions.sessions_end_all(user=user, kind=Kind.PASSWORD_CHANGED, caller=caller, actor=actor)


def user_deactivate(*, user: User, caller: Caller | None = None, actor: User | None = None) -> None:
    """Mark the user inactive; every live token of theirs stops working at once."""
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(is_active=False)
        user.is_active = False
        sessions.sessions_end_all(user=user, kind=Kind.USER_DEACTIVATED, caller=caller, actor=actor)


def user_delete(*, user: User, caller: Caller | None = None, actor: User | None = None) -> None:
    """Delete the user; every live token of theirs stops working at once. The audit trail stays,
    its address replaced by a pseudonym."""
    with transaction.atomic():
        sessions.sessions_end_all(user=user, kind=Kind.USER_DELETED, caller=caller, actor=actor)
        audit_pseudonymise(user=user)
        user.delete()


def user_delete_own(*, user: User, password: str, caller: Caller) -> None:
    """The owner deletes their account (with their password); a confirmation is mailed."""
    password_confirm(user=user, password=password, caller=caller)
    email, language = user.email, mail.language_of(caller.accept_language)
    with transaction.atomic():
        user_delete(user=user, caller=caller)
        mail.mail_queue(kind=mail.ACCOUNT_DELETED, language=language, email=email)
