"""Email verification, end to end: registration mails a link and a code (real worker, real
SMTP), POST /api/email/verify/ consumes it, `me` shows it, REQUIRE_VERIFIED_EMAIL holds logins."""

from __future__ import annotations

from http import HTTPStatus

import pytest

from accounts.models import AuditEvent, User
from tests.factories import PASSWORD, UserFactory
from tests.helpers import THROTTLED, auth, me, post_json
from tests.helpers import login as login_as
from tests.mailer import secrets_of, text_of

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

VERIFY = "/api/email/verify/"
RESEND = "/api/email/verify/resend/"
NOT_VERIFIED = {
    "detail": "Verify your email address before logging in.",
    "code": "email_not_verified",
}
INVALID_CODE = {"detail": "The link or code is invalid or has expired.", "code": "invalid_code"}
INVALID_CREDENTIALS = {
    "detail": "No active account found with the given credentials.",
    "code": "invalid_credentials",
}


def _register(api, email: str):
    response = post_json(api, "/api/register/", {"email": email, "password": PASSWORD})
    assert response.status_code == HTTPStatus.CREATED, response.content
    return response


def test_registration_mails_a_link_that_verifies_the_address(api, inbox, login):
    _register(api, "ada@example.com")
    (mail,) = inbox.wait_for("ada@example.com")
    token, _ = secrets_of(mail)
    assert f"https://app.example.test/verify-email?token={token}" in text_of(mail)
    access = login(User.objects.get())["access"]
    assert me(api, access).json()["email_verified"] is False

    response = post_json(api, VERIFY, {"token": token})

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"email": "ada@example.com", "email_verified": True}
    assert me(api, access).json()["email_verified"] is True
    assert AuditEvent.objects.filter(kind="email_verified").count() == 1
    again = post_json(api, VERIFY, {"token": token})
    assert (again.status_code, again.json()) == (HTTPStatus.BAD_REQUEST, INVALID_CODE)


def test_a_link_does_nothing_on_get(api, inbox):
    """Attack (or accident): a mail scanner opens every link. Expected: GET is 405 and the
    token stays unused; the front end POSTs it."""
    _register(api, "ada@example.com")
    token, _ = secrets_of(inbox.wait_for("ada@example.com")[0])

    scanned = api.get(VERIFY, {"token": token})

    assert scanned.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert User.objects.get().email_verified is False
    assert post_json(api, VERIFY, {"token": token}).status_code == HTTPStatus.OK


def test_required_verification_holds_the_login_until_verified_by_code(api, inbox, settings):
    settings.REQUIRE_VERIFIED_EMAIL = True
    _register(api, "ada@example.com")
    (mail,) = inbox.wait_for("ada@example.com")

    held = login_as(api, "ada@example.com", PASSWORD)
    wrong = login_as(api, "ada@example.com", "not the password")

    assert (held.status_code, held.json()) == (HTTPStatus.FORBIDDEN, NOT_VERIFIED)
    # No oracle: without the right password the answer is the usual 401.
    assert (wrong.status_code, wrong.json()) == (HTTPStatus.UNAUTHORIZED, INVALID_CREDENTIALS)
    _, code = secrets_of(mail)
    verified = post_json(api, VERIFY, {"email": "ADA@example.com", "code": code})
    assert verified.status_code == HTTPStatus.OK
    assert login_as(api, "ada@example.com", PASSWORD).status_code == HTTPStatus.OK


def test_resend_mails_a_new_secret_and_the_old_one_dies(api, inbox, login):
    _register(api, "ada@example.com")
    old_token, _ = secrets_of(inbox.wait_for("ada@example.com")[0])
    access = login(User.objects.get())["access"]

    resent = post_json(api, RESEND, None, **auth(access), HTTP_ACCEPT_LANGUAGE="es")

    assert resent.status_code == HTTPStatus.ACCEPTED
    assert resent.json() == {"detail": "A verification mail is on its way."}
    second = inbox.wait_for("ada@example.com", count=2)[1]
    assert second["Subject"] == "Confirma tu dirección de correo"
    new_token, _ = secrets_of(second)
    stale = post_json(api, VERIFY, {"token": old_token})
    assert (stale.status_code, stale.json()) == (HTTPStatus.BAD_REQUEST, INVALID_CODE)
    assert post_json(api, VERIFY, {"token": new_token}).status_code == HTTPStatus.OK
    done = post_json(api, RESEND, None, **auth(access))
    assert done.status_code == HTTPStatus.CONFLICT
    assert done.json() == {
        "detail": "The email address is already verified.",
        "code": "already_verified",
    }


def test_resend_needs_a_bearer_token(api, inbox):
    response = post_json(api, RESEND, None)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["code"] == "invalid_token"


def test_resend_is_throttled_per_address(api, inbox, login, settings):
    """Attack: flooding one's own (or a victim's, on a stolen token) inbox. Expected: past
    THROTTLE_MAIL_PER_ADDRESS_PER_HOUR, 429 throttled with Retry-After."""
    settings.THROTTLE_MAIL_PER_ADDRESS_PER_HOUR = 2
    user = UserFactory(email="ada@example.com")
    access = login(user)["access"]

    statuses = [post_json(api, RESEND, None, **auth(access)).status_code for _ in range(3)]

    assert statuses == [HTTPStatus.ACCEPTED, HTTPStatus.ACCEPTED, HTTPStatus.TOO_MANY_REQUESTS]
    refused = post_json(api, RESEND, None, **auth(access))
    assert refused.json() == THROTTLED
    assert int(refused["Retry-After"]) > 0


def test_confirmations_are_throttled_per_client(api, inbox, settings):
    """Attack: spraying guessed codes over many addresses from one client. Expected: past
    THROTTLE_CONFIRM_PER_MINUTE, 429 throttled."""
    settings.THROTTLE_CONFIRM_PER_MINUTE = 3
    body = {"email": "ada@example.com", "code": "123456"}

    statuses = [post_json(api, VERIFY, body).status_code for _ in range(4)]

    assert statuses == [HTTPStatus.BAD_REQUEST] * 3 + [HTTPStatus.TOO_MANY_REQUESTS]
