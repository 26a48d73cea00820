"""ASGI entry point, served by uvicorn.

Requests run their sync code on long-lived threads rather than on a new thread each
(config/asgi_handler.py says why, and what stays the same). ASGI_THREADS: 0 (the default)
gives each request in flight a thread of its own, kept for reuse; N > 0 makes a worker share N
threads between its requests, which bench/README.md shows stalls the worker when Redis or
PostgreSQL hangs. ASGI_STOCK_HANDLER=1 serves with Django's stock handler, for comparison.
"""

import os

import django

from config import env
from config.asgi_handler import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# uvicorn workers import this module: in production a failing system check stops them here.
django.setup(set_prefix=False)
from accounts.checks import startup_check  # noqa: E402 (needs the app registry)

startup_check()
application = get_asgi_application(
    threads=env.get_int("ASGI_THREADS", 0, minimum=0),
    stock=env.get_bool("ASGI_STOCK_HANDLER", False),
)
