"""Who is calling: recorded with sessions and audit events."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest


@dataclass(frozen=True)
class Client:
    user_agent: str = ""
    ip: str = ""


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR, or the address the outermost trusted proxy saw (TRUSTED_PROXY_COUNT)."""
    hops = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if hops and forwarded:
        addresses = [part.strip() for part in forwarded.split(",") if part.strip()]
        if len(addresses) >= hops:
            return addresses[-hops][:64]
    return str(request.META.get("REMOTE_ADDR", ""))[:64]


def client_of(request: HttpRequest) -> Client:
    """The caller of an HTTP request, API or admin alike."""
    return Client(user_agent=request.headers.get("User-Agent", "")[:256], ip=client_ip(request))
