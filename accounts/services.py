"""Writes of the accounts domain: registration, login, password and account changes."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import selectors, sessions, throttling
from accounts.audit import Kind, audit_record
from accounts.exceptions import EmailTaken, InvalidCredentials, InvalidInput, WrongPassword
from accounts.hashing import hashing_slot
from accounts.managers import normalize_email
from accounts.models import User
from accounts.types import Caller, TokenPair
from accounts.validators import validate_email_identity

EMAIL_MAX_LENGTH = 254


def _problems(field: str, error: ValidationError) -> list[dict[str, str]]:
    return [{"field": field, "message": message} for message in error.messages]


def _password_problems(password: str, user: User, field: str) -> list[dict[str, str]]:
    try:
        validate_password(password, user=user)
    except ValidationError as error:
        return _problems(field, error)
    return []


def _validate_new_user(email: str, password: str) -> list[dict[str, str]]:
    problems: list[dict[str, str]] = []
    try:
        if len(email) > EMAIL_MAX_LENGTH:
            raise ValidationError("Enter an email address of at most 254 characters.")
        validate_email(email)
        validate_email_identity(email)
    except ValidationError as error:
        problems += _problems("email", error)
    return problems + _password_problems(password, User(email=email), "password")


def user_register(*, email: str, password: str, caller: Caller | None = None) -> User:
    """Create an account; every rule the input breaks is reported at once."""
    if caller is not None:
        throttling.register_attempt(caller=caller)
    email = normalize_email(email)
    problems = _validate_new_user(email, password)
    if problems:
        raise InvalidInput(problems)
    user = User(email=email)
    with hashing_slot():
        user.set_password(password)
    try:
        with transaction.atomic():
            user.save(force_insert=True)
    except IntegrityError as exc:
        # The address, or one that looks like it (the email_skeleton column), is taken.
        raise EmailTaken() from exc
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
    throttling.login_attempt(email=email, caller=caller)
    try:
        user = user_authenticate(email=email, password=password, caller=caller)
    except InvalidCredentials:
        throttling.login_failed(email=email, caller=caller)
        raise
    throttling.login_succeeded(email=email, caller=caller)
    return user


def user_login(*, email: str, password: str, caller: Caller) -> TokenPair:
    """Check credentials and open a session."""
    user = user_credentials_check(email=email, password=password, caller=caller)
    pair = sessions.session_start(user=user, caller=caller)
    User.objects.filter(pk=user.pk).update(last_login=timezone.now())
    audit_record(kind=Kind.LOGIN_OK, user=user, session_id=pair.session_id, caller=caller)
    return pair


def user_change_password(
    *, user: User, current_password: str, new_password: str, caller: Caller
) -> TokenPair:
    """Set a new password, end every session, and open a fresh one for the caller."""
    # Wrong current passwords count as this client's failed logins: a stolen access token is
    # no way to guess the password either.
    throttling.password_attempt(email=user.email, caller=caller)
    with hashing_slot():
        matches = user.check_password(current_password)
    if not matches:
        throttling.login_failed(email=user.email, caller=caller)
        raise WrongPassword()
    throttling.login_succeeded(email=user.email, caller=caller)
    problems = _password_problems(new_password, user, "new_password")
    if problems:
        raise InvalidInput(problems)
    user_set_password(user=user, password=new_password, caller=caller)
    return sessions.session_start(user=user, caller=caller)


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
    """Delete the user; every live token of theirs stops working at once."""
    with transaction.atomic():
        sessions.sessions_end_all(user=user, kind=Kind.USER_DELETED, caller=caller, actor=actor)
        user.delete()
