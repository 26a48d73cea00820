"""The hot endpoints, answered on the event loop in front of Django's handler.

`GET /api/me/`, `GET /api/auth/verify` (forward auth) and `POST /api/token/refresh/` are most
of the traffic. Through Django's ASGI
handler each costs about 1 ms of CPU before any work: the request and response objects, the
middleware chain, the `request_started`/`request_finished` signals and their thread hops, and
Ninja's own dispatch. Here the same requests are answered straight from ASGI, with the same
rules (`accounts.sessions`' async twins: one PostgreSQL read through the asyncio pool, one
Redis round trip through the asyncio client, no thread), the same schemas and JSON renderer,
the same error bodies and status mapping (api/api.py), and the same headers as Django's
middleware would add. Ninja keeps the operations for the OpenAPI schema and serves them when
this layer steps aside.

It steps aside, handing the untouched request to Django, whenever the answer could differ
from Django's: a CORS request (an `Origin` header: django-cors-headers answers it), a request
Django would redirect (SECURE_SSL_REDIRECT over plain HTTP), a repeated header it reads, a
body that is not plain JSON of the schema (Django answers 400/415 in its words), the embedded
default (SQLite and the in-process store have no asyncio clients), or HOT_PATH_ENABLED=false.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from django.conf import settings
from pydantic import ValidationError

from accounts import metrics, pg, request_context, sessions, token_store
from accounts.exceptions import AccountsError, InvalidToken
from accounts.types import Caller, Principal, TokenPair
from api.api import api, domain_error_answer
from api.auth import bearer_token
from api.caller import caller_from
from api.errors import error_body
from api.routers.verify import roles_header
from api.schemas import MeOut, RefreshIn, TokenOut
from config.observability import route_set

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
App = Callable[..., Awaitable[None]]
Answer = tuple[int, Any, list[tuple[bytes, bytes]]]

# Headers this layer reads: when one comes twice, Django's joining rules decide, so it steps aside.
_READ = {
    b"authorization",
    b"content-type",
    b"x-forwarded-for",
    b"x-forwarded-proto",
    b"user-agent",
    b"accept-language",
}
_NO_STORE = [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")]


class StepAside(Exception):
    """The request is Django's to answer (see the module)."""


class Request:
    """What a hot endpoint needs of an ASGI request: its headers and, on demand, its body."""

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.scope = scope
        self._receive = receive
        self.body: bytes | None = None
        self.headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            if name == b"origin" or (name in self.headers and name in _READ):
                raise StepAside()
            self.headers[name] = value
        self.secure = self._is_secure()
        if settings.SECURE_SSL_REDIRECT and not self.secure:
            raise StepAside()  # Django redirects it (SecurityMiddleware)

    def _is_secure(self) -> bool:
        """HttpRequest.is_secure(): the proxy's header when one is trusted, else the scheme."""
        if settings.SECURE_PROXY_SSL_HEADER:
            name, expected = settings.SECURE_PROXY_SSL_HEADER
            value = self.headers.get(name.removeprefix("HTTP_").lower().replace("_", "-").encode())
            if value is not None:
                return value.decode("latin-1").split(",", 1)[0].strip() == expected
        return self.scope.get("scheme") == "https"

    def header(self, name: bytes) -> str:
        return self.headers.get(name, b"").decode("latin-1")

    def caller(self) -> Caller:
        client = self.scope.get("client") or ("", 0)
        return caller_from(
            forwarded=self.header(b"x-forwarded-for"),
            remote=str(client[0]),
            agent=self.header(b"user-agent"),
            language=self.header(b"accept-language"),
        )

    async def read_body(self) -> bytes:
        chunks = []
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise StepAside()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        self.body = b"".join(chunks)
        return self.body

    def replay(self) -> Receive:
        """A receive for Django that hands it the body this layer already read."""
        if self.body is None:
            return self._receive
        pending = [{"type": "http.request", "body": self.body, "more_body": False}]

        async def receive() -> dict[str, Any]:
            return pending.pop() if pending else await self._receive()

        return receive


async def me(request: Request) -> Answer:
    """GET /api/me/ (api/routers/me.py)."""
    principal = await _authenticate(request)
    return HTTPStatus.OK, MeOut.from_orm(principal.user).model_dump(), []


async def verify(request: Request) -> Answer:
    """GET /api/auth/verify (api/routers/verify.py): no body, the caller in headers."""
    claims = await sessions.access_verify_async(_bearer(request))
    request_context.user_noted(claims.user_id)
    headers = [
        (b"x-auth-user-id", claims.user_id.encode()),
        (b"x-auth-session-id", claims.session_id.encode()),
        (b"x-auth-roles", roles_header(claims.roles).encode()),
        (b"x-auth-scope", claims.scope.encode()),
        (b"cache-control", b"no-store"),
    ]
    return HTTPStatus.OK, None, headers


async def _authenticate(request: Request) -> Principal:
    principal = await sessions.access_authenticate_async(_bearer(request))
    request_context.user_noted(principal.user.pk)
    return principal


def _bearer(request: Request) -> str:
    """BearerAuth's token (api/auth.py); none is an invalid one."""
    token = bearer_token(request.header(b"authorization"))
    if token is None:
        raise InvalidToken()
    return token


async def token_refresh(request: Request) -> Answer:
    """POST /api/token/refresh/ (api/routers/tokens.py)."""
    if request.header(b"content-type") != "application/json":
        raise StepAside()
    try:
        payload = RefreshIn.model_validate_json(await request.read_body())
    except ValidationError:
        raise StepAside() from None
    pair = await sessions.session_refresh_async(refresh=payload.refresh, caller=request.caller())
    return HTTPStatus.OK, token_body(pair), _NO_STORE


def token_body(pair: TokenPair) -> dict[str, Any]:
    out = TokenOut(
        access=pair.access,
        refresh=pair.refresh,
        expires_in=pair.expires_in,
        refresh_expires_in=pair.refresh_expires_in,
    )
    return out.model_dump()


ROUTES: dict[tuple[str, str], Callable[[Request], Awaitable[Answer]]] = {
    ("GET", "/api/me/"): me,
    ("GET", "/api/auth/verify"): verify,
    ("POST", "/api/token/refresh/"): token_refresh,
}


class HotPath:
    """ASGI: the routes of ROUTES answered here, everything else by `app` (Django)."""

    def __init__(self, app: App, *, enabled: bool = True) -> None:
        self.app = app
        self.enabled = enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        route = ROUTES.get((scope.get("method", ""), scope.get("path", "")))
        if route is None or scope["type"] != "http" or not self._serves():
            await self.app(scope, receive, send)
            return
        try:
            request = Request(scope, receive)
        except StepAside:
            await self.app(scope, receive, send)
            return
        route_set(scope, scope["path"])  # each hot route is its own template
        try:
            status, body, headers = await route(request)
        except StepAside:
            await self.app(scope, request.replay(), send)
            return
        except AccountsError as exc:
            status, body, headers = _error(exc)
        except Exception:
            logger.exception("unhandled error on %s %s", scope["method"], scope["path"])
            status, body, headers = 500, error_body("Internal server error.", "internal_error"), []
        await _send(send, status, body, headers + _middleware_headers(request.secure))

    def _serves(self) -> bool:
        return self.enabled and pg.available() and token_store.async_available()


async def _lifespan(receive: Receive, send: Send) -> None:
    """ASGI lifespan: the worker batches its metric updates on the event loop while it runs
    (accounts/metrics.py); at shutdown they are written, and the asyncio pool and client are
    closed (an open psycopg pool would hold the event loop, and so the worker, from ending)."""
    batching: asyncio.Task[None] | None = None
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            batching = asyncio.create_task(metrics.batching())
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if batching is not None:
                batching.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await batching
            await close()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def close() -> None:
    """Close this event loop's asyncio PostgreSQL pool and Redis client."""
    await pg.close()
    await token_store.async_close()


def _error(exc: AccountsError) -> Answer:
    answer = domain_error_answer(exc)
    if answer is None:
        logger.error("unmapped domain error %s", type(exc).__name__)
        return 500, error_body("Internal server error.", "internal_error"), []
    status, body, extra = answer
    return status, body, [(k.lower().encode(), v.encode()) for k, v in extra.items()]


async def _send(send: Send, status: int, body: Any, headers: list[tuple[bytes, bytes]]) -> None:
    content = b""
    if body is not None:  # forward auth's 200 has no body and no Content-Type, as in Django
        content = api.renderer.render(None, body, response_status=status).encode()  # type: ignore[arg-type]
        headers = _content_headers() + headers
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-length", str(len(content)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": content})


def _content_headers() -> list[tuple[bytes, bytes]]:
    media = f"{api.renderer.media_type}; charset={api.renderer.charset}"
    return [(b"content-type", media.encode())]


def _middleware_headers(secure: bool) -> list[tuple[bytes, bytes]]:
    """What Django's middleware (config/settings.py MIDDLEWARE) adds to an API answer."""
    headers = []
    if settings.SECURE_HSTS_SECONDS and secure:
        hsts = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            hsts += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            hsts += "; preload"
        headers.append((b"strict-transport-security", hsts.encode()))
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append((b"x-content-type-options", b"nosniff"))
    if settings.SECURE_REFERRER_POLICY:
        headers.append((b"referrer-policy", settings.SECURE_REFERRER_POLICY.encode()))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        coop = settings.SECURE_CROSS_ORIGIN_OPENER_POLICY.encode()
        headers.append((b"cross-origin-opener-policy", coop))
    if settings.CONTENT_SECURITY_POLICY:
        headers.append((b"content-security-policy", settings.CONTENT_SECURITY_POLICY.encode()))
    headers.append((b"vary", b"origin"))  # django-cors-headers, on every answer
    headers.append((b"x-frame-options", settings.X_FRAME_OPTIONS.encode()))
    return headers
