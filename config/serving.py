"""The one uvicorn configuration of the service, built from Django settings.

`manage.py serve` runs it; the image runs `manage.py serve`; tests/live.py starts servers with
it. Bare `uvicorn config.asgi:application` is not supported: it trusts X-Forwarded-For from
127.0.0.1 (FORWARDED_ALLOW_IPS), so anyone on the host could pick the address the per-address
throttle counts, and it would fall back to the stdlib loop and parser without a word.
"""

from __future__ import annotations

import importlib
from typing import Any

from django.conf import settings

# The stdlib asyncio loop stalls keep-alive requests with several workers (about 44 ms each
# on our machines) and h11 is far slower than httptools: neither is a silent fallback.
REQUIRED = {"uvloop": "the event loop", "httptools": "the HTTP parser"}
HTTP_PROTOCOL = "config.edge:EdgeHttpToolsProtocol"


class ServeError(Exception):
    """The service cannot be served as configured."""


def require_fast_path() -> None:
    """Raise ServeError, in one line, when uvloop or httptools cannot be imported."""
    for module, role in REQUIRED.items():
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ServeError(
                f"{module} ({role}) cannot be imported ({exc}); install what uv.lock pins "
                f"(uvicorn[standard]): serving without it is not supported"
            ) from None


def uvicorn_options() -> dict[str, Any]:
    """Keyword arguments for uvicorn.run: where to listen, how, and the limits at the edge."""
    return {
        "app": "config.asgi:application",
        "host": settings.SERVE_HOST,
        "port": settings.SERVE_PORT,
        "workers": settings.WEB_CONCURRENCY,
        "loop": "uvloop",
        "http": HTTP_PROTOCOL,
        "ws": "none",  # no WebSocket endpoint: no upgrade path to attack
        # api/hotpath.py closes its asyncio pools at shutdown (an open one holds the loop).
        "lifespan": "on",
        # api/caller.py reads X-Forwarded-For itself, and only from TRUSTED_PROXY_COUNT
        # proxies; uvicorn must not rewrite the peer address from it first.
        "proxy_headers": False,
        "forwarded_allow_ips": "",
        "server_header": False,
        "timeout_keep_alive": settings.KEEPALIVE_TIMEOUT,
        "limit_concurrency": settings.LIMIT_CONCURRENCY,
        "backlog": settings.BACKLOG,
        # config/observability.py writes the access line (ACCESS_LOG), with the request id and
        # the route template; uvicorn's would only build a record LOGGING drops.
        "access_log": False,
        # Django's LOGGING (config/logs.py) formats every process's lines, the supervisor's too.
        "log_config": None,
        "log_level": "info",
    }


def run() -> None:
    """Serve the service with uvicorn, or raise ServeError before binding anything."""
    require_fast_path()
    import uvicorn

    uvicorn.run(**uvicorn_options())
