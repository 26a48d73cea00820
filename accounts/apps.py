import logging
import time
from pathlib import Path
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.db.backends.signals import connection_created


def _metrics_directory() -> None:
    # prometheus-client opens its files in PROMETHEUS_MULTIPROC_DIR as its metrics are made,
    # at import: the directory must exist by then. App configs load before any app's modules.
    if settings.PROMETHEUS_MULTIPROC_DIR:
        Path(settings.PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)


_metrics_directory()

from accounts import metrics  # noqa: E402 (after the directory exists)
from config import tracing  # noqa: E402

logger = logging.getLogger(__name__)


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts import checks  # noqa: F401 (registers the system checks)

        connection_created.connect(_timed_connection, dispatch_uid="accounts.timed_connection")

        if settings.EMBEDDED:
            logger.warning(
                "running on the embedded default (%s): for trying the service out only; "
                "set DATABASE_URL and REDIS_URL for real use",
                ", ".join(
                    part
                    for part, on in (
                        ("SQLite", settings.EMBEDDED_DATABASE),
                        ("in-process token store", settings.EMBEDDED_TOKEN_STORE),
                    )
                    if on
                ),
            )


def _timed_connection(*, connection: Any, **kwargs: Any) -> None:
    # Sent again whenever a pooled connection is taken: the wrapper goes on once.
    if _timed_execute not in connection.execute_wrappers:
        connection.execute_wrappers.append(_timed_execute)


def _timed_execute(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    """Every SQL statement: its round trip timed (auth_db_query_duration_seconds), and a span
    when tracing is on."""
    start = time.perf_counter()
    try:
        if tracing.active is None:
            return execute(sql, params, many, context)
        with tracing.sql_span(tracing.active, sql):
            return execute(sql, params, many, context)
    finally:
        metrics.db_observed(time.perf_counter() - start)
