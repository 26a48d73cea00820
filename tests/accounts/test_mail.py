"""Mail pieces without a worker: the language of a request, the retry schedule, and a job that
holds no secret."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django_tasks_db.models import DBTaskResult

from accounts import mail, recovery
from accounts.models import EmailToken
from accounts.types import Caller
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("es-MX,es;q=0.9,en;q=0.5", "es"),
        ("es", "es"),
        ("fr-FR,fr;q=0.9,es;q=0.8", "es"),
        ("en-GB", "en"),
        ("de, fr", "en"),
        ("*", "en"),
        ("", "en"),
        ("x" * 1000, "en"),
    ],
)
def test_the_mail_language_follows_accept_language(header, language):
    assert mail.language_of(header) == language


def test_retries_back_off_doubling_until_the_last_attempt(settings):
    settings.MAIL_MAX_ATTEMPTS, settings.MAIL_RETRY_BASE_SECONDS = 4, 30

    delays = [mail.retry_delay(attempt) for attempt in range(1, 5)]

    assert delays == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120), None]


def test_a_queued_job_holds_no_secret_and_no_token_exists_before_the_worker():
    UserFactory(email="ada@example.com")
    caller = Caller(ip="192.0.2.1", accept_language="es")

    recovery.password_reset_request(email="Ada@Example.com", caller=caller)

    (job,) = DBTaskResult.objects.all()
    assert job.args_kwargs == {
        "args": [],
        "kwargs": {
            "kind": "password_reset",
            "language": "es",
            "attempt": 1,
            "email": "ada@example.com",
        },
    }
    assert not EmailToken.objects.exists()
