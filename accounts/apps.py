import logging

from django.apps import AppConfig
from django.conf import settings

logger = logging.getLogger(__name__)


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts import checks  # noqa: F401 (registers the system checks)

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
