"""`manage.py serve`: run the service under uvicorn with the configured workers."""

from __future__ import annotations

from typing import Any

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve the API with uvicorn on HOST:PORT with WEB_CONCURRENCY workers."

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.EMBEDDED:
            self.stderr.write(
                "auth-service: embedded default (SQLite + in-process token store), one worker. "
                "Set DATABASE_URL and REDIS_URL for real use."
            )
        uvicorn.run(
            "config.asgi:application",
            host=settings.SERVE_HOST,
            port=settings.SERVE_PORT,
            workers=settings.WEB_CONCURRENCY,
            lifespan="off",
            # accounts.context reads X-Forwarded-For, and only from TRUSTED_PROXY_COUNT proxies.
            proxy_headers=False,
            server_header=False,
            log_level="info",
        )
