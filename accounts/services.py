"""Writes of the accounts domain: registration, login, password and account changes."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import selectors, tokens
from accounts.exceptions import EmailTaken, InvalidCredentials, InvalidInput
from accounts.managers import normalize_email
from accounts.models import User


def _problems(field: str, error: ValidationError) -> list[dict[str, str]]:
    return [{"field": field, "message": message} for message in error.messages]


def _validate_new_user(email: str, password: str) -> list[dict[str, str]]:
    problems: list[dict[str, str]] = []
    try:
        if len(email) > 254:
            raise ValidationError("Enter an email address of at most 254 characters.")
        validate_email(email)
    except ValidationError as error:
        problems += _problems("email", error)
    try:
        validate_password(password, user=User(email=email))
    except ValidationError as error:
        problems += _problems("password", error)
    return problems


def user_register(*, email: str, password: str) -> User:
    """Create an account; every rule the input breaks is reported at once."""
    email = normalize_email(email)
    problems = _validate_new_user(email, password)
    if problems:
        raise InvalidInput(problems)
    user = User(email=email)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save(force_insert=True)
    except IntegrityError as exc:
        raise EmailTaken() from exc
    return user


def user_authenticate(*, email: str, password: str) -> User:
    """The active user these credentials belong to; every failure looks (and costs) the same."""
    user = selectors.user_get_by_email(email=email)
    if user is None:
        # Hash anyway, so that an unknown email takes as long as a wrong password.
        User().set_password(password)
        raise InvalidCredentials()
    if not user.check_password(password) or not user.is_active:
        raise InvalidCredentials()
    return user


def user_login(*, email: str, password: str, client: tokens.Client) -> tokens.TokenPair:
    """Check credentials and open a session."""
    user = user_authenticate(email=email, password=password)
    pair = tokens.session_start(user=user, client=client)
    User.objects.filter(pk=user.pk).update(last_login=timezone.now())
    return pair
