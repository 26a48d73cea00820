"""`manage.py throttle_clear EMAIL`: clear an account's failed logins (its lock), audited."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from accounts.throttling import account_unlock


class Command(BaseCommand):
    help = (
        "Clear the failed logins counted on an account: its window, its consecutive-failure "
        "cap and every client's back-off (clients that logged in stay known). Audited."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")

    def handle(self, *args: Any, **options: Any) -> None:
        email = options["email"]
        if account_unlock(email=email):
            self.stdout.write(f"cleared the failed logins of {email}")
        else:
            self.stdout.write(f"no failed logins were counted on {email}")
