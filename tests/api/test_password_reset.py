"""Forgot password, end to end: POST /api/password/reset/ queues a job, the real worker mails a
real SMTP server, and the test follows the mail's link token or code."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts.models import AuditEvent, EmailToken
from tests.factories import PASSWORD, UserFactory
from tests.helpers import NEW_PASSWORD, THROTTLED, assert_alive, assert_dead, post_json
from tests.helpers import login as login_as
from tests.mailer import html_of, secrets_of, text_of

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RESET = "/api/password/reset/"
CONFIRM = "/api/password/reset/confirm/"
ACCEPTED = {"detail": "If the address has an account, a mail with a reset link is on its way."}
INVALID_CODE = {"detail": "The link or code is invalid or has expired.", "code": "invalid_code"}
ANOTHER_PASSWORD = "yet another passphrase 77"
TOKEN_CHARS = 43  # 32 bytes (256 bits) of the CSPRNG, base64url
MAX_CODE_ATTEMPTS = 5


def _reset(api, email: str, **extra):
    return post_json(api, RESET, {"email": email}, **extra)


def _mailed_secrets(api, inbox, email: str) -> tuple[str, str]:
    response = _reset(api, email)
    assert response.status_code == HTTPStatus.ACCEPTED, response.content
    (mail,) = inbox.wait_for(email)
    return secrets_of(mail)


def test_the_full_reset_flow_by_link(api, inbox, login):
    user = UserFactory(email="ada@example.com")
    before = login(user)

    response = _reset(api, "ADA@example.com")

    assert response.status_code == HTTPStatus.ACCEPTED
    assert response.json() == ACCEPTED
    (mail,) = inbox.wait_for("ada@example.com")
    assert mail["Subject"] == "Reset your password"
    text, html = text_of(mail), html_of(mail)
    token, code = secrets_of(mail)
    # The link is FRONTEND_URL + the configured path, never the request's Host.
    assert f"https://app.example.test/reset-password?token={token}" in text
    assert f'href="https://app.example.test/reset-password?token={token}"' in html
    assert len(token) >= TOKEN_CHARS
    assert code in html
    # Only a hash is stored: neither the token nor the code is anywhere in the table.
    row = EmailToken.objects.get()
    assert token not in str(row.__dict__)
    assert code not in row.code_hash

    confirmed = post_json(api, CONFIRM, {"token": token, "new_password": NEW_PASSWORD})

    assert confirmed.status_code == HTTPStatus.OK, confirmed.content
    assert confirmed["Cache-Control"] == "no-store"
    assert_alive(api, confirmed.json())
    assert_dead(api, before)  # every other session ended
    assert login_as(api, "ada@example.com", NEW_PASSWORD).status_code == HTTPStatus.OK
    assert login_as(api, "ada@example.com", PASSWORD).status_code == HTTPStatus.UNAUTHORIZED
    user.refresh_from_db()
    assert user.email_verified  # the mail reached the address
    kinds = list(AuditEvent.objects.order_by("created_at").values_list("kind", flat=True))
    assert kinds[:3] == ["login_ok", "password_reset_requested", "password_reset"]
    assert not AuditEvent.objects.filter(detail__contains=token).exists()


def test_the_reset_flow_by_code_and_the_spanish_mail(api, inbox):
    UserFactory(email="ada@example.com")

    response = _reset(api, "ada@example.com", HTTP_ACCEPT_LANGUAGE="es-ES,es;q=0.9,en;q=0.5")

    assert response.status_code == HTTPStatus.ACCEPTED
    (mail,) = inbox.wait_for("ada@example.com")
    assert mail["Subject"] == "Restablece tu contraseña"
    assert '<html lang="es">' in html_of(mail)
    _, code = secrets_of(mail)
    body = {"email": "ada@example.com", "code": code, "new_password": NEW_PASSWORD}
    confirmed = post_json(api, CONFIRM, body)
    assert confirmed.status_code == HTTPStatus.OK, confirmed.content
    assert login_as(api, "ada@example.com", NEW_PASSWORD).status_code == HTTPStatus.OK


def test_a_used_token_is_refused(api, inbox):
    UserFactory(email="ada@example.com")
    token, _ = _mailed_secrets(api, inbox, "ada@example.com")
    first = post_json(api, CONFIRM, {"token": token, "new_password": NEW_PASSWORD})
    assert first.status_code == HTTPStatus.OK

    again = post_json(api, CONFIRM, {"token": token, "new_password": ANOTHER_PASSWORD})

    assert again.status_code == HTTPStatus.BAD_REQUEST
    assert again.json() == INVALID_CODE
    assert login_as(api, "ada@example.com", NEW_PASSWORD).status_code == HTTPStatus.OK


def test_an_expired_token_is_refused(api, inbox):
    UserFactory(email="ada@example.com")
    token, _ = _mailed_secrets(api, inbox, "ada@example.com")
    EmailToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = post_json(api, CONFIRM, {"token": token, "new_password": NEW_PASSWORD})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == INVALID_CODE
    assert login_as(api, "ada@example.com", PASSWORD).status_code == HTTPStatus.OK


@pytest.mark.parametrize(
    "body",
    [
        {"token": "A" * 43},
        {"email": "ada@example.com", "code": "000000"},
        {"email": "nobody@example.com", "code": "123456"},
        {},
    ],
    ids=["forged-token", "wrong-code-no-secret", "unknown-address", "nothing"],
)
def test_a_wrong_token_or_code_is_refused(api, inbox, body):
    """Attack: guessing a token or a code with no mail. Expected: 400 invalid_code, nothing
    changed, a failure in the audit log without the guess."""
    UserFactory(email="ada@example.com")

    response = post_json(api, CONFIRM, {**body, "new_password": NEW_PASSWORD})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == INVALID_CODE
    assert login_as(api, "ada@example.com", PASSWORD).status_code == HTTPStatus.OK
    failed = AuditEvent.objects.get(kind="password_reset_failed")
    assert "A" * 43 not in failed.detail


def test_a_token_dies_when_the_password_changes_by_another_path(api, inbox, login):
    """Attack: a reset mail read later by someone else, after the owner changed the password.
    Expected: 400 invalid_code; the owner's new password stands."""
    user = UserFactory(email="ada@example.com")
    token, code = _mailed_secrets(api, inbox, "ada@example.com")
    access = login(user)["access"]
    changed = post_json(
        api,
        "/api/password/change/",
        {"current_password": PASSWORD, "new_password": ANOTHER_PASSWORD},
        HTTP_AUTHORIZATION=f"Bearer {access}",
    )
    assert changed.status_code == HTTPStatus.OK

    by_token = post_json(api, CONFIRM, {"token": token, "new_password": NEW_PASSWORD})
    body = {"email": "ada@example.com", "code": code, "new_password": NEW_PASSWORD}
    by_code = post_json(api, CONFIRM, body)

    assert (by_token.status_code, by_token.json()) == (HTTPStatus.BAD_REQUEST, INVALID_CODE)
    assert (by_code.status_code, by_code.json()) == (HTTPStatus.BAD_REQUEST, INVALID_CODE)
    assert login_as(api, "ada@example.com", ANOTHER_PASSWORD).status_code == HTTPStatus.OK


def test_the_sixth_code_is_refused_even_when_right(api, inbox):
    """Attack: guessing the 6-digit code. Expected: 5 wrong tries kill the secret; the right
    code on the 6th try is refused too (400 invalid_code), and the link with it."""
    UserFactory(email="ada@example.com")
    token, code = _mailed_secrets(api, inbox, "ada@example.com")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    body = {"email": "ada@example.com", "new_password": NEW_PASSWORD}

    for _ in range(5):
        response = post_json(api, CONFIRM, {**body, "code": wrong})
        assert (response.status_code, response.json()) == (HTTPStatus.BAD_REQUEST, INVALID_CODE)
    sixth = post_json(api, CONFIRM, {**body, "code": code})
    by_link = post_json(api, CONFIRM, {"token": token, "new_password": NEW_PASSWORD})

    assert (sixth.status_code, sixth.json()) == (HTTPStatus.BAD_REQUEST, INVALID_CODE)
    assert (by_link.status_code, by_link.json()) == (HTTPStatus.BAD_REQUEST, INVALID_CODE)
    assert EmailToken.objects.get().code_attempts == MAX_CODE_ATTEMPTS
    assert login_as(api, "ada@example.com", PASSWORD).status_code == HTTPStatus.OK


def test_the_password_policy_applies_and_keeps_the_token(api, inbox):
    UserFactory(email="ada@example.com")
    token, _ = _mailed_secrets(api, inbox, "ada@example.com")

    weak = post_json(api, CONFIRM, {"token": token, "new_password": "password"})
    good = post_json(api, CONFIRM, {"token": token, "new_password": NEW_PASSWORD})

    assert weak.status_code == HTTPStatus.BAD_REQUEST
    assert weak.json()["code"] == "invalid"
    assert {"field": "new_password", "message": "This password is too common."} in weak.json()[
        "errors"
    ]
    assert good.status_code == HTTPStatus.OK


def test_smtp_down_same_answer_then_retried_and_delivered(api, inbox, smtp_server):
    """Fault: the SMTP server is down when the worker sends. Expected: the request is answered
    202 as ever; the failed attempt is a failed job row (the admin's task results) and a retry
    is queued with a back-off; once the server is back the mail arrives, and its link works."""
    UserFactory(email="ada@example.com")
    smtp_server.stop()
    try:
        response = _reset(api, "ada@example.com")
        assert response.status_code == HTTPStatus.ACCEPTED
        assert response.json() == ACCEPTED
        failed = _wait_for_rows(status="FAILED")
        assert "attempt 1 failed" in failed.exception_class_path + failed.traceback
        retry = DBTaskResult.objects.exclude(pk=failed.pk).get()
        assert retry.args_kwargs["kwargs"]["attempt"] == 2  # noqa: PLR2004
        assert retry.run_after > failed.finished_at  # back-off
        assert not EmailToken.objects.exists()  # the failed send's token was rolled back
    finally:
        smtp_server.start()

    (mail,) = inbox.wait_for("ada@example.com")
    token, _ = secrets_of(mail)
    confirmed = post_json(api, CONFIRM, {"token": token, "new_password": NEW_PASSWORD})
    assert confirmed.status_code == HTTPStatus.OK


def _wait_for_rows(status: str) -> DBTaskResult:
    from tests.servers import wait_until

    wait_until(lambda: DBTaskResult.objects.filter(status=status).exists(), timeout=30)
    return DBTaskResult.objects.get(status=status)


def test_requests_are_throttled_per_address_and_per_client(api, inbox, settings):
    """Attack: mail-bombing an inbox through the reset form. Expected: past 5 an hour for one
    address (existing or not), 429 throttled with Retry-After; past the per-client limit, 429
    for any address."""
    settings.THROTTLE_MAIL_PER_CLIENT_PER_HOUR = 8
    UserFactory(email="ada@example.com")

    answers = [_reset(api, "ada@example.com").status_code for _ in range(6)]
    unknown = [_reset(api, "nobody@example.com").status_code for _ in range(3)]

    assert answers == [HTTPStatus.ACCEPTED] * 5 + [HTTPStatus.TOO_MANY_REQUESTS]
    assert unknown == [HTTPStatus.ACCEPTED] * 2 + [HTTPStatus.TOO_MANY_REQUESTS]
    refused = _reset(api, "carol@example.com")
    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert refused.json() == THROTTLED
    assert int(refused["Retry-After"]) > 0
    other_client = _reset(api, "carol@example.com", REMOTE_ADDR="198.51.100.7")
    assert other_client.status_code == HTTPStatus.ACCEPTED
