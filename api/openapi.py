"""The OpenAPI schema's links (OAS 3.1, Link Object): which answer feeds which next request.

A client reads the flow from them (register, then log in; a token pair, then refresh or log
out; the session list, then end one), and schemathesis's stateful phase follows them
(tests/live/test_schemathesis.py).
"""

from __future__ import annotations

from typing import Any

from ninja import NinjaAPI
from ninja.openapi.schema import OpenAPISchema

_REFRESH = {"refresh": "$response.body#/refresh"}
_PAIR_LINKS = {
    "Refresh": {
        "operationId": "api_routers_tokens_token_refresh",
        "requestBody": _REFRESH,
        "description": "Rotate the pair: the refresh token is used up.",
    },
    "LogOut": {
        "operationId": "api_routers_sessions_logout",
        "requestBody": _REFRESH,
        "description": "End the session of this pair.",
    },
}
# (path, method, status) -> the links of that answer.
LINKS: dict[tuple[str, str, int], dict[str, Any]] = {
    ("/api/register/", "post", 201): {
        "LogIn": {
            "operationId": "api_routers_tokens_token_obtain",
            "requestBody": {
                "email": "$request.body#/email",
                "password": "$request.body#/password",
            },
            "description": "Log in with the address and password just registered.",
        },
    },
    ("/api/token/", "post", 200): _PAIR_LINKS,
    ("/api/token/refresh/", "post", 200): _PAIR_LINKS,
    ("/api/sessions/", "get", 200): {
        "EndSession": {
            "operationId": "api_routers_sessions_session_delete",
            "parameters": {"path.session_id": "$response.body#/0/id"},
            "description": "End the first session listed.",
        },
    },
}


class LinkedNinjaAPI(NinjaAPI):
    """A NinjaAPI whose schema carries LINKS."""

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        for (path, method, status), links in LINKS.items():
            # Ninja keys the responses by int (JSON makes them strings).
            responses = schema["paths"].get(path, {}).get(method, {}).get("responses", {})
            if status in responses:
                responses[status]["links"] = links
        return schema
