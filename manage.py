#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line
    from django.db import OperationalError

    try:
        execute_from_command_line(sys.argv)
    except OperationalError as exc:
        # A database that is missing, refuses the role or is down: one line that says which,
        # where the command's traceback would hide it.
        sys.exit(f"manage.py: cannot use the database: {_reason(exc)}")


def _reason(exc: Exception) -> str:
    """The driver's own words: the pool only says it got no connection in time."""
    from django.db import connection

    try:
        params = connection.get_connection_params()
        params.pop("pool", None)
        connection.Database.connect(**params).close()
    except Exception as direct:  # whatever the driver says is the reason
        exc = direct
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return " ".join(lines) or type(exc).__name__


if __name__ == "__main__":
    main()
