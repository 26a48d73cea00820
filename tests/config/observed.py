"""Driving the service's real ASGI stack in-process: config/observability.py around Django's
handler, called over httpx's ASGI transport (no server, no socket; every layer runs)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from prometheus_client import REGISTRY

from config import observability
from config.asgi_handler import get_asgi_application


def observed_app() -> Any:
    """The service as config/asgi.py builds it (less the edge limits), under current settings."""
    return observability.instrumented(get_asgi_application())


def call(app: Any, method: str, path: str, *, client: str = "127.0.0.1", **kwargs: Any):
    """One request to `app` from the address `client`; the httpx.Response."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(client, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            return await http.request(method, path, **kwargs)

    return asyncio.run(go())


def sample(name: str, **labels: str) -> float:
    """A metric's current value in this process (0 if the series does not exist yet)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0
