"""Request and response bodies of the API."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from ninja import Schema
from pydantic import ConfigDict, Field


class _In(Schema):
    # Unknown fields are refused, so that nobody can try to set is_staff through a body.
    model_config = ConfigDict(extra="forbid")


class RegisterIn(_In):
    email: str = Field(examples=["ada@example.com"])
    password: str = Field(examples=["correct horse battery staple"])


class LoginIn(_In):
    email: str = Field(examples=["ada@example.com"])
    password: str


class RefreshIn(_In):
    refresh: str


class UserOut(Schema):
    id: UUID
    email: str
    date_joined: datetime


class MeOut(Schema):
    id: UUID
    email: str
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
    current_password: str
    new_password: str


class SessionOut(Schema):
    id: str
    created: datetime
    last_used: datetime
    expires: datetime = Field(description="When the session ends unless refreshed again.")
    user_agent: str
    ip: str
    current: bool = Field(description="Whether this is the session of the calling token.")
