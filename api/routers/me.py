"""The caller's own account."""

from __future__ import annotations

from ninja import Router

from accounts.models import User
from api.auth import AuthedRequest, BearerAuth
from api.schemas import ErrorOut, MeOut

router = Router(tags=["me"], auth=BearerAuth())


@router.get("/me/", response={200: MeOut, 401: ErrorOut, 503: ErrorOut})
def me(request: AuthedRequest) -> User:
    """The user the bearer token belongs to."""
    return request.auth.user
