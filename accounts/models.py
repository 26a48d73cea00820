"""The service's user: email is the login, unique whatever its case, its Unicode spelling or
its look-alikes (accounts/identity.py)."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.identity import email_skeleton
from accounts.managers import UserManager, normalize_email
from accounts.validators import validate_email_identity

LOOKALIKE_TAKEN = "An account with this email, or one that looks like it, already exists."


class User(AbstractBaseUser, PermissionsMixin):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # unique=True indexes the exact (normalized) lookups; the Lower() constraint makes case
    # variants impossible even for rows written around normalize_email.
    email = models.EmailField(
        "email address", max_length=254, unique=True, validators=[validate_email_identity]
    )
    # The look-alike key (UTS #39 skeleton of the local part, and the domain): unique, so that
    # `mike@` with a dotless i cannot join `mike@`, even in a race. Written by save().
    email_skeleton = models.CharField(max_length=1024, unique=True, editable=False)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    # Sessions opened in an older generation are dead: moving it ends every session at once,
    # in the same transaction as the change that calls for it (accounts/sessions.py).
    session_generation = models.PositiveBigIntegerField(default=0, editable=False)

    objects = UserManager()

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]
        ordering = ["-date_joined"]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = normalize_email(self.email)
        others = User.objects.exclude(pk=self.pk)
        if others.filter(email_skeleton=email_skeleton(self.email)).exists():
            raise ValidationError({"email": LOOKALIKE_TAKEN}, code="unique")

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.email_skeleton = email_skeleton(self.email)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "email" in update_fields:
            kwargs["update_fields"] = {*update_fields, "email_skeleton"}
        super().save(*args, **kwargs)


class AuditEvent(models.Model):
    """A security event. Never holds a token or a password."""

    class Kind(models.TextChoices):
        LOGIN_OK = "login_ok", "login succeeded"
        LOGIN_FAILED = "login_failed", "login failed"
        REFRESH_REUSE = "refresh_reuse", "refresh token reuse detected"
        LOGOUT = "logout", "logout"
        LOGOUT_ALL = "logout_all", "logout everywhere"
        SESSION_ENDED = "session_ended", "session ended"
        PASSWORD_CHANGED = "password_changed", "password changed"
        USER_DEACTIVATED = "user_deactivated", "user deactivated"
        USER_DELETED = "user_deleted", "user deleted"
        KEY_ROTATED = "key_rotated", "signing key rotated"
        ACCOUNT_LOCKED = "account_locked", "account locked against unknown clients"
        ACCOUNT_UNLOCKED = "account_unlocked", "account's failed logins cleared"

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    kind = models.CharField(max_length=32, choices=Kind.choices, db_index=True)
    user = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The address as given at the time: kept when the user is deleted, or unknown at login.
    email = models.CharField(max_length=254, blank=True)
    # The staff user who acted, for admin actions (empty for the user's own): the email stays
    # when that account is deleted.
    actor = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_email = models.CharField(max_length=254, blank=True)
    session_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=256, blank=True)
    detail = models.CharField(max_length=256, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.kind} {self.email}"
