"""OAuth 2.0 for services: client credentials tokens (RFC 6749 4.4), introspection (RFC 7662)
and revocation (RFC 7009). Bodies are `application/x-www-form-urlencoded`, as those RFCs say;
client credentials come by HTTP Basic (client_secret_basic) or in the form (client_secret_post).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import unquote

from django.http import HttpRequest, HttpResponse
from ninja import Form, Router

from accounts import oauth
from accounts.exceptions import InvalidClient, InvalidOAuthRequest
from api.caller import caller_of
from api.schemas import (
    ClientTokenIn,
    ClientTokenOut,
    IntrospectionOut,
    OAuthErrorOut,
    TokenParamIn,
)

PREFIX = "/api/oauth/"
router = Router(tags=["oauth"])
_errors = {400: OAuthErrorOut, 401: OAuthErrorOut, 429: OAuthErrorOut, 503: OAuthErrorOut}


def _no_store(response: HttpResponse) -> None:
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"


_PARAMETERS = {*ClientTokenIn.model_fields, *TokenParamIn.model_fields}


def _basic(header: str) -> oauth.Credentials:
    encoded = header.partition(" ")[2]
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidClient() from exc
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise InvalidClient()
    # RFC 6749 2.3.1: both are form-urlencoded before they are joined.
    return oauth.Credentials(client_id=unquote(client_id), secret=unquote(secret))


def credentials(
    request: HttpRequest, client_id: str | None, client_secret: str | None
) -> oauth.Credentials | None:
    """The client's credentials, by exactly one method (RFC 6749 2.3), or None if none."""
    # RFC 6749 3.1/3.2: a parameter of ours sent twice is an error; unknown ones are ignored.
    if any(len(values) > 1 for name, values in request.POST.lists() if name in _PARAMETERS):
        raise InvalidOAuthRequest("A parameter was sent more than once.")
    header = request.headers.get("Authorization", "")
    in_form = client_id is not None or client_secret is not None
    if header:
        if header.partition(" ")[0].lower() != "basic":
            raise InvalidClient()
        if in_form:
            raise InvalidOAuthRequest("Send client credentials by one method only.")
        return _basic(header)
    if client_id is None or client_secret is None:
        return None
    return oauth.Credentials(client_id=client_id, secret=client_secret)


@router.post("/oauth/token/", response={200: ClientTokenOut, **_errors})
def token(request: HttpRequest, response: HttpResponse, form: Form[ClientTokenIn]) -> Any:
    """A service account's access token (grant_type=client_credentials)."""
    _no_store(response)
    issued = oauth.client_credentials_grant(
        grant_type=form.grant_type,
        credentials=credentials(request, form.client_id, form.client_secret),
        scope=form.scope,
        caller=caller_of(request),
    )
    return ClientTokenOut(
        access_token=issued.access_token, expires_in=issued.expires_in, scope=issued.scope
    )


@router.post(
    "/oauth/introspect/",
    response={200: IntrospectionOut, 403: OAuthErrorOut, **_errors},
    exclude_none=True,
)
def introspect(request: HttpRequest, response: HttpResponse, form: Form[TokenParamIn]) -> Any:
    """Whether a token is live, and its claims (RFC 7662); for clients with `introspect`."""
    _no_store(response)
    return oauth.token_introspect(
        token=form.token,
        credentials=credentials(request, form.client_id, form.client_secret),
        caller=caller_of(request),
    )


@router.post("/oauth/revoke/", response={200: None, **_errors})
def revoke(request: HttpRequest, form: Form[TokenParamIn]) -> HttpResponse:
    """End the session of a refresh token (RFC 7009); 200 whatever the token."""
    oauth.token_revoke(
        token=form.token,
        credentials=credentials(request, form.client_id, form.client_secret),
        caller=caller_of(request),
    )
    response = HttpResponse(status=200)
    _no_store(response)
    return response
