"""`manage.py serve`: the one supported way to run the service (config/serving.py says why)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from config import observability, serving


class Command(BaseCommand):
    help = "Serve the API with uvicorn on HOST:PORT with WEB_CONCURRENCY workers."

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.EMBEDDED:
            self.stderr.write(
                "auth-service: embedded default (SQLite + in-process token store), one worker. "
                "Set DATABASE_URL and REDIS_URL for real use."
            )
        # Before the workers start: they inherit the metrics directory they share.
        observability.multiprocess_prepare(settings.WEB_CONCURRENCY)
        try:
            serving.run()
        except serving.ServeError as exc:
            raise CommandError(f"auth-service cannot start: {exc}") from None
