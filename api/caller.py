"""Who is calling, read from an HTTP request (the API's, the admin's and the hot path's)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from accounts.types import Caller

_AGENT_MAX = 256
_IP_MAX = 64


def caller_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR, or the address the outermost trusted proxy saw (TRUSTED_PROXY_COUNT)."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    return client_ip(forwarded, str(request.META.get("REMOTE_ADDR", "")))


def caller_of(request: HttpRequest) -> Caller:
    """The caller of an HTTP request."""
    headers = request.headers
    agent = headers.get("User-Agent", "")[:_AGENT_MAX]
    language = headers.get("Accept-Language", "")[:_AGENT_MAX]
    return Caller(user_agent=agent, ip=caller_ip(request), accept_language=language)


def caller_from(*, forwarded: str, remote: str, agent: str, language: str = "") -> Caller:
    """The caller from the raw header values (X-Forwarded-For, the peer, User-Agent,
    Accept-Language)."""
    return Caller(
        user_agent=agent[:_AGENT_MAX],
        ip=client_ip(forwarded, remote),
        accept_language=language[:_AGENT_MAX],
    )


def client_ip(forwarded: str, remote: str) -> str:
    """The peer, or the address the outermost trusted proxy saw (TRUSTED_PROXY_COUNT)."""
    hops = settings.TRUSTED_PROXY_COUNT
    if hops and forwarded:
        addresses = [part.strip() for part in forwarded.split(",") if part.strip()]
        if len(addresses) >= hops:
            return addresses[-hops][:_IP_MAX]
    return remote[:_IP_MAX]
