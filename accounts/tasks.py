"""The jobs the worker runs (`manage.py db_worker`): sending mail, with retries and back-off."""

from __future__ import annotations

import logging
import smtplib

from django.utils import timezone
from django_tasks import task

from accounts import mail

logger = logging.getLogger(__name__)


class MailNotSent(Exception):
    """A send failed; the job row shows it (admin: task results), a retry is queued if any
    attempt is left."""


@task()
def deliver(*, kind: str, language: str, attempt: int, **params: str) -> str:
    """Send one mail; on failure queue the next attempt after a back-off, and fail this one."""
    try:
        return mail.mail_deliver(kind=kind, language=language, **params)
    except (smtplib.SMTPException, OSError) as exc:
        # The immediate backend (embedded default) cannot defer a job: no retry there.
        delay = mail.retry_delay(attempt) if deliver.get_backend().supports_defer else None
        if delay is not None:
            retry = deliver.using(run_after=timezone.now() + delay)
            retry.enqueue(kind=kind, language=language, attempt=attempt + 1, **params)
        # The address is the recipient's: logged by kind only (never a token, never the body).
        logger.warning("mail %s attempt %d failed: %s", kind, attempt, type(exc).__name__)
        outcome = f"retry in {delay.total_seconds():.0f} s" if delay else "no attempt left"
        raise MailNotSent(f"attempt {attempt} failed ({type(exc).__name__}); {outcome}") from exc
