"""Forward auth for gateways that do not verify JWTs themselves (NGINX `auth_request`, Traefik
`ForwardAuth`, Caddy `forward_auth`, Envoy `ext_authz`): the bearer token in, who it is out.

200 with no body and the caller in headers, or 401 with `WWW-Authenticate` (503 when the token
store cannot answer: fail closed). The session is checked in Redis against the user's
generation floor (accounts/sessions.py: access_verify), and the roles and scope come from the
verified token's claims: one Redis round trip, no PostgreSQL.
"""

from __future__ import annotations

from urllib.parse import quote

from django.http import HttpResponse
from ninja import Router

from api.auth import ClaimsBearerAuth, VerifiedRequest
from api.schemas import ErrorOut

router = Router(tags=["forward auth"], auth=ClaimsBearerAuth())

# Kept as they are in a role: letters, digits and what RFC 9110 allows in a token but the list's
# comma; anything else (space, comma, %, quotes, non-ASCII) is percent-encoded (RFC 3986).
_ROLE_SAFE = "!#$&'*+^`|:/@="


def roles_header(roles: tuple[str, ...]) -> str:
    """X-Auth-Roles: the roles comma-separated, each percent-encoded where it must be."""
    return ",".join(quote(role, safe=_ROLE_SAFE) for role in roles)


@router.get(
    "/auth/verify",
    response={200: None, 401: ErrorOut, 503: ErrorOut},
    summary="Forward auth: verify the bearer token",
)
def verify(request: VerifiedRequest) -> HttpResponse:
    """200 and no body for a live access token, the caller in `X-Auth-User-Id`,
    `X-Auth-Session-Id`, `X-Auth-Roles` (comma-separated, percent-encoded) and `X-Auth-Scope`;
    401 for anything else."""
    claims = request.auth
    response = HttpResponse(status=200)
    del response["Content-Type"]
    response["X-Auth-User-Id"] = claims.user_id
    response["X-Auth-Session-Id"] = claims.session_id
    response["X-Auth-Roles"] = roles_header(claims.roles)
    response["X-Auth-Scope"] = claims.scope
    response["Cache-Control"] = "no-store"
    return response
