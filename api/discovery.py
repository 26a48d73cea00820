"""The authorization server's metadata (RFC 8414), also served as the OpenID discovery document.

Only what is true of this service: it issues access tokens (RFC 9068 JWTs) and opaque refresh
tokens, and service-account tokens by client credentials; it has no authorization endpoint and
issues no ID token, so it is no OpenID provider (`response_types_supported` is empty).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest

from accounts import tokens
from accounts.clients import INTROSPECT_SCOPE

JWKS_PATH = "/.well-known/jwks.json"
# The client-credentials endpoints (issue 11, items 2 and 3).
TOKEN_PATH = "/api/oauth/token/"
INTROSPECTION_PATH = "/api/oauth/introspect/"
REVOCATION_PATH = "/api/oauth/revoke/"
CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


def base_url(request: HttpRequest) -> str:
    """Where the endpoints are: the issuer when it is a URL (RFC 8414 wants it to be this
    service's), else this request's own scheme and host (one of ALLOWED_HOSTS)."""
    issuer = settings.JWT_ISSUER
    parts = urlsplit(issuer)
    if parts.scheme in {"http", "https"} and parts.netloc:
        return issuer.rstrip("/")
    return request.build_absolute_uri("/").rstrip("/")


def metadata(base: str) -> dict[str, Any]:
    """The metadata document, its endpoints under `base`."""
    return {
        "issuer": settings.JWT_ISSUER,
        "jwks_uri": base + JWKS_PATH,
        "token_endpoint": base + TOKEN_PATH,
        "introspection_endpoint": base + INTROSPECTION_PATH,
        "revocation_endpoint": base + REVOCATION_PATH,
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "scopes_supported": scopes_supported(),
        # Not registered by RFC 8414: the algorithms of the access tokens' signatures (every
        # key of the JWKS names its own `alg`). Verifiers pin theirs, never read it from a token.
        "access_token_signing_alg_values_supported": tokens.signing_algorithms(),
    }


def scopes_supported() -> list[str]:
    """The scopes users get through their groups, and the one this service itself reads
    (`introspect`); a client's other scopes are its own, set by staff."""
    mapping: dict[str, tuple[str, ...]] = settings.JWT_GROUP_SCOPES
    return sorted({INTROSPECT_SCOPE, *(scope for scopes in mapping.values() for scope in scopes)})
