"""Email change and self-deletion, end to end through the real worker and SMTP."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus

import pytest
from django.db import connection
from django.test import Client

from accounts.models import AuditEvent, User
from tests.factories import PASSWORD, UserFactory
from tests.helpers import assert_dead, auth, me, post_json
from tests.helpers import login as login_as
from tests.mailer import secrets_of, text_of

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHANGE = "/api/email/change/"
CONFIRM = "/api/email/change/confirm/"
DELETE = "/api/me/delete/"
EMAIL_TAKEN = {"detail": "An account with this email already exists.", "code": "email_taken"}
WRONG_PASSWORD = {"detail": "Current password is incorrect.", "code": "wrong_password"}


def _change(api, access: str, new_email: str, password: str = PASSWORD):
    body = {"password": password, "new_email": new_email}
    return post_json(api, CHANGE, body, **auth(access))


def test_the_new_address_confirms_and_the_old_one_is_told(api, inbox, login):
    user = UserFactory(email="ada@example.com")
    access = login(user)["access"]

    response = _change(api, access, "Ada.New@Example.com")

    assert response.status_code == HTTPStatus.ACCEPTED
    (confirm,) = inbox.wait_for("ada.new@example.com")
    (notice,) = inbox.wait_for("ada@example.com")
    assert "ada.new@example.com" in text_of(notice)
    assert "token=" not in text_of(notice)
    user.refresh_from_db()
    assert user.email == "ada@example.com"  # nothing changes before the confirmation
    token, _ = secrets_of(confirm)
    assert f"https://app.example.test/confirm-email?token={token}" in text_of(confirm)

    confirmed = post_json(api, CONFIRM, {"token": token})

    assert confirmed.status_code == HTTPStatus.OK
    assert confirmed.json() == {"email": "ada.new@example.com", "email_verified": True}
    assert me(api, access).json()["email"] == "ada.new@example.com"
    assert login_as(api, "ada.new@example.com", PASSWORD).status_code == HTTPStatus.OK
    assert login_as(api, "ada@example.com", PASSWORD).status_code == HTTPStatus.UNAUTHORIZED
    kinds = set(AuditEvent.objects.values_list("kind", flat=True))
    assert {"email_change_requested", "email_changed"} <= kinds


def test_a_wrong_password_changes_nothing_and_mails_nobody(api, inbox, login):
    """Attack: a stolen access token used to move the account to the thief's address.
    Expected: 400 wrong_password, no mail queued."""
    user = UserFactory(email="ada@example.com")
    access = login(user)["access"]

    response = _change(api, access, "thief@example.com", password="guessed wrong")

    assert (response.status_code, response.json()) == (HTTPStatus.BAD_REQUEST, WRONG_PASSWORD)
    assert not AuditEvent.objects.filter(kind="email_change_requested").exists()


def test_a_taken_address_gets_the_same_answer_and_no_mail(api, inbox, login):
    UserFactory(email="bob@example.com")
    user = UserFactory(email="ada@example.com")

    response = _change(api, login(user)["access"], "BOB@example.com")

    assert response.status_code == HTTPStatus.ACCEPTED
    inbox.wait_for("ada@example.com")  # the notice to the old address (queued after)
    assert inbox.to("bob@example.com") == []


def test_two_users_claiming_one_address_exactly_one_wins(api, inbox, login):
    """Race: two accounts both confirm a change to the same new address at the same moment,
    each on its own connection. Expected: one 200, one 409 email_taken; one account has it."""
    users = [UserFactory(email=f"claimant{n}@example.com") for n in range(2)]
    for user in users:
        assert _change(api, login(user)["access"], "prize@example.com").status_code == 202  # noqa: PLR2004
    tokens = [secrets_of(mail)[0] for mail in inbox.wait_for("prize@example.com", count=2)]
    barrier = threading.Barrier(len(tokens))

    def confirm(token: str) -> tuple[int, dict]:
        try:
            barrier.wait(timeout=10)
            response = post_json(Client(), CONFIRM, {"token": token})
            return response.status_code, response.json()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(tokens)) as pool:
        results = sorted(pool.map(confirm, tokens), key=lambda result: result[0])

    assert [status for status, _ in results] == [HTTPStatus.OK, HTTPStatus.CONFLICT]
    assert results[1][1] == EMAIL_TAKEN
    assert User.objects.filter(email="prize@example.com").count() == 1
    assert AuditEvent.objects.filter(kind="email_change_failed").count() == 1


def test_deletion_ends_live_tokens_keeps_a_pseudonymous_trail_and_mails(api, inbox, login):
    user = UserFactory(email="ada@example.com")
    pairs = [login(user), login(user)]
    user_id = user.pk

    wrong = post_json(api, DELETE, {"password": "not it"}, **auth(pairs[0]["access"]))
    assert (wrong.status_code, wrong.json()) == (HTTPStatus.BAD_REQUEST, WRONG_PASSWORD)
    response = post_json(api, DELETE, {"password": PASSWORD}, **auth(pairs[0]["access"]))

    assert response.status_code == HTTPStatus.NO_CONTENT
    for pair in pairs:
        assert_dead(api, pair)
    assert not User.objects.filter(pk=user_id).exists()
    trail = list(AuditEvent.objects.values_list("kind", "email"))
    assert ("user_deleted", trail[0][1]) in trail
    assert all(email.startswith("deleted-") for _, email in trail)
    (mail,) = inbox.wait_for("ada@example.com")
    assert mail["Subject"] == "Your account was deleted"
    assert login_as(api, "ada@example.com", PASSWORD).status_code == HTTPStatus.UNAUTHORIZED


def test_email_change_requests_are_throttled(api, inbox, login, settings):
    """Attack: mail-bombing an address through email-change requests. Expected: past
    THROTTLE_MAIL_PER_ADDRESS_PER_HOUR for the account, 429 throttled."""
    settings.THROTTLE_MAIL_PER_ADDRESS_PER_HOUR = 2
    user = UserFactory(email="ada@example.com")
    access = login(user)["access"]

    statuses = [_change(api, access, f"victim{n}@example.com").status_code for n in range(3)]

    assert statuses == [HTTPStatus.ACCEPTED, HTTPStatus.ACCEPTED, HTTPStatus.TOO_MANY_REQUESTS]
