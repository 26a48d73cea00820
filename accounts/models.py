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
    # Set when the owner followed a verification (or reset, or email-change) mail to `email`.
    email_verified = models.BooleanField(default=False)

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
        CLIENT_CREATED = "client_created", "API client created"
        CLIENT_UPDATED = "client_updated", "API client's scope or audience changed"
        CLIENT_DISABLED = "client_disabled", "API client disabled"
        CLIENT_ENABLED = "client_enabled", "API client enabled"
        CLIENT_SECRET_ROTATED = "client_secret_rotated", "API client's secret rotated"
        CLIENT_TOKEN = "client_token", "API client token issued"
        CLIENT_AUTH_FAILED = "client_auth_failed", "API client authentication failed"
        PASSWORD_RESET_REQUESTED = "password_reset_requested", "password reset requested"
        PASSWORD_RESET = "password_reset", "password reset completed"
        PASSWORD_RESET_FAILED = "password_reset_failed", "password reset failed"
        EMAIL_VERIFY_REQUESTED = "email_verify_requested", "email verification requested"
        EMAIL_VERIFIED = "email_verified", "email address verified"
        EMAIL_VERIFY_FAILED = "email_verify_failed", "email verification failed"
        EMAIL_CHANGE_REQUESTED = "email_change_requested", "email change requested"
        EMAIL_CHANGED = "email_changed", "email address changed"
        EMAIL_CHANGE_FAILED = "email_change_failed", "email change failed"
        REGISTER_TAKEN = "register_taken", "registration with a taken address"

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
    # The API client (service account) the event is about, if any.
    client_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=256, blank=True)
    detail = models.CharField(max_length=256, blank=True)
    # X-Request-ID of the request that wrote the row: joins it to the access log and traces.
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.kind} {self.email}"


class APIClient(models.Model):
    """A service account: a client of the client credentials grant (RFC 6749 4.4).

    Its secret is never stored, only its SHA-256 (accounts/clients.py says why that is enough);
    after a rotation the previous secret still works until `previous_secret_until`.
    """

    id = models.BigAutoField(primary_key=True)
    name = models.CharField(max_length=100)
    client_id = models.CharField(max_length=64, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    previous_secret_hash = models.CharField(max_length=64, blank=True, editable=False)
    previous_secret_until = models.DateTimeField(null=True, blank=True, editable=False)
    # Space-separated scopes the client may be granted (RFC 6749 3.3); `introspect` lets it
    # call the introspection endpoint.
    scope = models.CharField(max_length=1024, blank=True)
    # The `aud` of its tokens: the service(s) they are meant for.
    audience = models.CharField(max_length=255)
    is_active = models.BooleanField(default=True)
    # The `sid` its tokens carry, live in the token store while it is this one: a new value
    # ends every token issued before (disable, scope or audience change).
    token_sid = models.CharField(max_length=32, editable=False)
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = "API client"

    def __str__(self) -> str:
        return f"{self.name} ({self.client_id})"

    @property
    def scopes(self) -> list[str]:
        return self.scope.split()


class EmailToken(models.Model):
    """A secret mailed to an address: a link token and a short code, stored as hashes only.

    It works once, until `expires_at`, for at most MAX_CODE_ATTEMPTS wrong codes, and only while
    the user's password is the one it was issued under (`password_mark`).
    """

    class Purpose(models.TextChoices):
        PASSWORD_RESET = "reset", "password reset"
        VERIFY = "verify", "email verification"
        CHANGE = "change", "email change"

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    purpose = models.CharField(max_length=8, choices=Purpose.choices)
    # The address the secret was sent to: the one it verifies, or the one an email change sets.
    email = models.CharField(max_length=254)
    token_hash = models.CharField(max_length=64, unique=True)
    code_hash = models.CharField(max_length=64)
    password_mark = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    code_attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "purpose"], name="accounts_emailtoken_user_idx")]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} for {self.email}"
