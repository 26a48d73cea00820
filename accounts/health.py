"""What readiness checks: each dependency a request needs, answered as up or down."""

from __future__ import annotations

import logging

from django.db import DatabaseError, connection

from accounts import keys, token_store
from accounts.exceptions import AccountsError, KeyConfigurationError

logger = logging.getLogger(__name__)


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        logger.warning("readiness: database down (%s)", type(exc).__name__)
        return False
    return True


def token_store_ok() -> bool:
    try:
        token_store.ping()
    except AccountsError:
        logger.warning("readiness: token store down")
        return False
    return True


def signing_keys_ok() -> bool:
    try:
        keys.signer_check()
    except KeyConfigurationError as exc:
        logger.warning("readiness: signing keys down (%s)", exc)
        return False
    return True


def readiness() -> dict[str, bool]:
    """Each dependency by name, and whether it answers."""
    return {
        "database": database_ok(),
        "token_store": token_store_ok(),
        "signing_keys": signing_keys_ok(),
    }
