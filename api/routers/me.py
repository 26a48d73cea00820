"""The caller's own account."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router

from accounts.models import User
from api.auth import BearerAuth
from api.schemas import ErrorOut, MeOut

router = Router(tags=["me"], auth=BearerAuth())


@router.get("/me/", response={200: MeOut, 401: ErrorOut, 503: ErrorOut})
def me(request: HttpRequest) -> User:
    """The user the bearer token belongs to."""
    return request.auth  # type: ignore[attr-defined,no-any-return]
