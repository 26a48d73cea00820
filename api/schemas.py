"""Request and response bodies of the API."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated
from uuid import UUID

from ninja import Schema
from pydantic import BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic.json_schema import JsonDict
from pydantic_core import PydanticCustomError

EMAIL_MAX = 254  # RFC 5321's limit on a path, as the domain checks on registration
# Any password a login is asked to check: enough for every passphrase, not megabytes to hash.
# (A new password is held to the domain's own, shorter, rule: AUTH_PASSWORD_VALIDATORS.)
PASSWORD_MAX = 4096
# An issued refresh token is 100 characters; the limit leaves room for an access token (~540)
# sent by mistake, which is answered like any other bad token, not as a malformed request.
REFRESH_MAX = 2048
REFRESH_PATTERN = r"^rt1_[A-Za-z0-9_-]+$"
SESSION_ID_PATTERN = r"^[0-9a-f]{32}$"

# NUL (PostgreSQL text cannot hold it), the other C0 controls but tab, LF and CR, and lone
# surrogates (no UTF-8 form, so neither a hasher nor the database can take them).
_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
UNSAFE_TEXT = "Must not contain NUL, control characters or lone surrogates."
# The same rule as the schema states it, so that clients and fuzzers know it. Lone surrogates are
# left out of the pattern: they are no Unicode characters, so regex engines that work on them
# (Rust's, which schemathesis uses) refuse a range of them; no valid string holds one anyway.
SAFE_TEXT_PATTERN = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f]*$"
# A new password's length as the domain checks it (AUTH_PASSWORD_VALIDATORS): stated here, and
# refused by the domain (400 invalid, with every other rule it breaks), not by the schema.
NEW_PASSWORD_MIN, NEW_PASSWORD_MAX = 8, 128
NEW_PASSWORD_RULES = (
    "The domain's rules apply: 8 to 128 characters, not common, not entirely numeric, "
    "not like the email."
)


def _safe(value: object) -> object:
    if isinstance(value, str) and _UNSAFE.search(value):
        raise PydanticCustomError("unsafe_text", UNSAFE_TEXT)
    return value


# Text that PostgreSQL, Redis and the hashers can all take. It runs before pydantic's own string
# check, whose message for a lone surrogate says less; it comes after each Field, so that the
# length messages still speak of characters.
_Safe = BeforeValidator(_safe)
# Checked as an address by the domain (registration answers 400 invalid for a bad one, a login
# 401), so the format is stated here, not enforced twice.
Email = Annotated[
    str,
    Field(
        min_length=1,
        max_length=EMAIL_MAX,
        json_schema_extra={"format": "email", "pattern": SAFE_TEXT_PATTERN},
        examples=["ada@example.com"],
    ),
    _Safe,
]
Password = Annotated[
    str,
    Field(min_length=1, max_length=PASSWORD_MAX, json_schema_extra={"pattern": SAFE_TEXT_PATTERN}),
    _Safe,
]
_NEW_PASSWORD_SCHEMA: JsonDict = {"minLength": NEW_PASSWORD_MIN, "maxLength": NEW_PASSWORD_MAX}
RefreshToken = Annotated[
    str,
    Field(
        max_length=REFRESH_MAX,
        description="A refresh token as issued; any other string is answered 401 invalid_token.",
        json_schema_extra={"pattern": REFRESH_PATTERN},
    ),
    _Safe,
]
# Stated, not enforced: any other string names none of the caller's sessions, the same 404 as
# an id of somebody else's (no oracle).
SessionId = Annotated[
    str,
    WithJsonSchema(
        {"type": "string", "minLength": 32, "maxLength": 32, "pattern": SESSION_ID_PATTERN}
    ),
]


class _In(Schema):
    # Unknown fields are refused, so that nobody can try to set is_staff through a body.
    model_config = ConfigDict(extra="forbid")


class RegisterIn(_In):
    email: Email
    password: Password = Field(
        description=NEW_PASSWORD_RULES,
        examples=["correct horse battery staple"],
        json_schema_extra=_NEW_PASSWORD_SCHEMA,
    )


class LoginIn(_In):
    email: Email
    password: Password


class RefreshIn(_In):
    refresh: RefreshToken


class LogoutIn(_In):
    # RFC 7009: whatever the string, the answer is 204; only a length past any token's is refused.
    refresh: str = Field(
        max_length=REFRESH_MAX,
        description="A refresh token; any string up to the length limit is answered 204.",
    )


class UserOut(Schema):
    id: UUID
    email: str
    date_joined: datetime


class MeOut(Schema):
    id: UUID
    email: str
    email_verified: bool
    is_active: bool
    date_joined: datetime
    last_login: datetime | None


class TokenOut(Schema):
    access: str
    refresh: str
    token_type: str = "Bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_expires_in: int = Field(
        description="Seconds until the session ends unless the refresh token is used before."
    )


class FieldError(Schema):
    field: str
    message: str


class ErrorOut(Schema):
    detail: str
    code: str
    errors: list[FieldError] | None = None


class PasswordChangeIn(_In):
    current_password: Password
    new_password: Password = Field(
        description=NEW_PASSWORD_RULES, json_schema_extra=_NEW_PASSWORD_SCHEMA
    )


class SessionOut(Schema):
    id: str
    created: datetime
    last_used: datetime
    expires: datetime = Field(description="When the session ends unless refreshed again.")
    user_agent: str
    ip: str
    current: bool = Field(description="Whether this is the session of the calling token.")


# --- OAuth 2.0 endpoints (form bodies, RFC 6749 3.2: unknown parameters are ignored, and a
# parameter sent without a value counts as omitted) -------------------------------------------

TOKEN_MAX = 4096  # any access or refresh token we issue, with room to spare
CLIENT_FIELD_MAX = 256
SCOPE_MAX = 1024


def _blank_is_none(value: object) -> object:
    return None if value == "" else value


_Omitted = BeforeValidator(_blank_is_none)


def _optional(max_length: int, description: str) -> WithJsonSchema:
    # A form cannot send null: the schema states a string, which may be left out.
    return WithJsonSchema(
        {
            "type": "string",
            "maxLength": max_length,
            "pattern": SAFE_TEXT_PATTERN,
            "description": description,
        }
    )


_CREDENTIAL = "client_secret_post only (else HTTP Basic)."
# client_id and client_secret alike.
ClientCredentialField = Annotated[
    str | None,
    Field(max_length=CLIENT_FIELD_MAX),
    _Safe,
    _Omitted,
    _optional(CLIENT_FIELD_MAX, _CREDENTIAL),
]
ScopeField = Annotated[
    str | None,
    Field(max_length=SCOPE_MAX),
    _Safe,
    _Omitted,
    _optional(SCOPE_MAX, "Space-separated; omitted: every scope the client may have."),
]
HintField = Annotated[
    str | None,
    Field(max_length=64),
    _Safe,
    _Omitted,
    _optional(64, "access_token or refresh_token (a hint only)."),
]


class ClientTokenIn(Schema):
    grant_type: Annotated[
        str,
        Field(
            min_length=1,
            max_length=64,
            description="client_credentials",
            examples=["client_credentials"],
            json_schema_extra={"pattern": SAFE_TEXT_PATTERN},
        ),
        _Safe,
        _Omitted,
    ]
    scope: ScopeField = None
    client_id: ClientCredentialField = None
    client_secret: ClientCredentialField = None


class TokenParamIn(Schema):
    token: Annotated[
        str,
        Field(min_length=1, max_length=TOKEN_MAX, json_schema_extra={"pattern": SAFE_TEXT_PATTERN}),
        _Safe,
        _Omitted,
    ]
    token_type_hint: HintField = None
    client_id: ClientCredentialField = None
    client_secret: ClientCredentialField = None


class ClientTokenOut(Schema):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")
    scope: str = Field(description="The scopes granted, space-separated.")


class IntrospectionOut(Schema):
    """RFC 7662 2.2: `active` alone when the token is not live."""

    active: bool
    sub: str | None = None
    client_id: str | None = None
    scope: str | None = None
    exp: int | None = None
    iat: int | None = None
    iss: str | None = None
    aud: str | list[str] | None = None
    token_type: str | None = None
    sid: str | None = None
    jti: str | None = None


class OAuthErrorOut(ErrorOut):
    """The common error shape with RFC 6749 5.2's fields."""

    error: str | None = None
    error_description: str | None = None


# --- mailed links and codes (api/routers/recovery.py, api/routers/email.py) ------------------

MailToken = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        description="The token of a mailed link (what follows `token=`).",
        json_schema_extra={"pattern": "^[A-Za-z0-9_-]+$"},
    ),
    _Safe,
]
MailCode = Annotated[
    str,
    Field(min_length=1, max_length=16, description="The short code of the same mail."),
    _Safe,
]


class MailSecretIn(_In):
    """A mailed secret: its link's `token`, or the `email` it was sent to with its `code`."""

    # Absent is "" (not null), so that each property states one type and its limits.
    token: MailToken = ""
    email: Email = ""
    code: MailCode = ""


class PasswordResetIn(_In):
    email: Email


class PasswordResetConfirmIn(MailSecretIn):
    new_password: Password = Field(
        description=NEW_PASSWORD_RULES, json_schema_extra=_NEW_PASSWORD_SCHEMA
    )


class EmailChangeIn(_In):
    password: Password = Field(description="The current password.")
    new_email: Email


class PasswordIn(_In):
    password: Password = Field(description="The current password.")


class AcceptedOut(Schema):
    detail: str


class EmailVerifiedOut(Schema):
    email: str
    email_verified: bool
