"""ASGI entry point, served by uvicorn.

Requests run their sync code on long-lived threads rather than on a new thread each
(config/asgi_handler.py says why, and what stays the same). ASGI_THREADS: 0 (the default)
gives each request in flight a thread of its own, kept for reuse; N > 0 makes a worker share N
threads between its requests, which bench/README.md shows stalls the worker when Redis or
PostgreSQL hangs. ASGI_STOCK_HANDLER=1 serves with Django's stock handler, for comparison.
config.edge wraps it: bodies are read under a size and a time limit before Django sees them.
Serve it with `manage.py serve` (config/serving.py), not bare uvicorn.
"""

import os

import django
from django.conf import settings

from config import edge, env, observability
from config.asgi_handler import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# uvicorn workers import this module: in production a failing system check stops them here.
django.setup(set_prefix=False)
from accounts.checks import startup_check  # noqa: E402 (needs the app registry)
from api.hotpath import HotPath  # noqa: E402

startup_check()
django_application = get_asgi_application(
    threads=env.get_int("ASGI_THREADS", 0, minimum=0),
    stock=env.get_bool("ASGI_STOCK_HANDLER", False),
)
# The hot endpoints are answered on the event loop before Django's handler (api/hotpath.py).
application = observability.instrumented(
    edge.EdgeLimits(
        HotPath(django_application, enabled=settings.HOT_PATH_ENABLED),
        max_body_bytes=settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
        timeout=settings.CLIENT_TIMEOUT,
    )
)
