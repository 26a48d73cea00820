"""`manage.py prune_audit`: delete audit rows older than AUDIT_RETENTION_DAYS."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.audit import audit_prune


class Command(BaseCommand):
    help = "Delete audit events older than the retention (AUDIT_RETENTION_DAYS, default 365)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=settings.AUDIT_RETENTION_DAYS)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["days"] < 1:
            raise CommandError("--days must be at least 1: the log is never emptied by accident")
        deleted = audit_prune(older_than=timedelta(days=options["days"]))
        self.stdout.write(f"deleted {deleted} audit event(s) older than {options['days']} days")
