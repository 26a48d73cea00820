"""Who is calling, read from an HTTP request (the API's and the admin's alike)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from accounts.types import Caller

_AGENT_MAX = 256
_IP_MAX = 64


def caller_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR, or the address the outermost trusted proxy saw (TRUSTED_PROXY_COUNT)."""
    hops = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if hops and forwarded:
        addresses = [part.strip() for part in forwarded.split(",") if part.strip()]
        if len(addresses) >= hops:
            return addresses[-hops][:_IP_MAX]
    return str(request.META.get("REMOTE_ADDR", ""))[:_IP_MAX]


def caller_of(request: HttpRequest) -> Caller:
    """The caller of an HTTP request."""
    headers = request.headers
    agent = headers.get("User-Agent", "")[:_AGENT_MAX]
    language = headers.get("Accept-Language", "")[:_AGENT_MAX]
    return Caller(user_agent=agent, ip=caller_ip(request), accept_language=language)
