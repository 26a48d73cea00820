"""No password, token or signing secret ever reaches the logs or an audit row."""

from __future__ import annotations

import logging
from datetime import timedelta
from http import HTTPStatus

import pytest

from accounts.models import AuditEvent
from tests.factories import PASSWORD
from tests.helpers import NEW_PASSWORD, auth, logout, me, post_json, refresh, sid_of, sign
from tests.helpers import login as login_request

pytestmark = pytest.mark.django_db

AGENT = {"HTTP_USER_AGENT": "Audit/1.0", "REMOTE_ADDR": "203.0.113.9"}
WRONG = "Wrong-Password-Guess-1"
SHORTEST_LEAK = 8  # a token fragment this long found in a log is a leak


def _token_strings(*pairs: dict) -> set[str]:
    return {value for pair in pairs for value in pair.values() if isinstance(value, str)}


def test_the_whole_flow_and_its_failures_log_no_secret(api, caplog, settings):
    """Attack: read credentials out of the logs. Expected: with DEBUG on and every logger at
    DEBUG (SQL and 4xx request logs included), no password, token or token part appears."""
    settings.REFRESH_REUSE_GRACE = timedelta(0)
    settings.DEBUG = True
    for name in (None, "django.request", "django.db.backends"):
        caplog.set_level(logging.DEBUG, logger=name)
    credentials = {"email": "ada@example.com", "password": PASSWORD}

    assert post_json(api, "/api/register/", credentials).status_code == HTTPStatus.CREATED
    assert login_request(api, "ada@example.com", WRONG).status_code == HTTPStatus.UNAUTHORIZED
    pair = login_request(api, "ada@example.com", PASSWORD).json()
    me(api, pair["access"])
    forged = sign({"sub": "x"}, kid="no-such-key")
    me(api, forged)
    newer = refresh(api, pair["refresh"])
    assert newer.status_code == HTTPStatus.OK
    assert refresh(api, pair["refresh"]).json()["code"] == "token_reused"

    logged = caplog.text
    assert "INSERT INTO" in logged  # the logs are verbose: the check below means something
    assert "Unauthorized: /api/me/" in logged
    for secret in (PASSWORD, WRONG, forged, *_token_strings(pair, newer.json())):
        for part in secret.split("."):  # a JWT's payload or signature alone is a leak too
            assert len(part) < SHORTEST_LEAK or part not in logged


def test_no_token_or_password_ever_lands_in_an_audit_row(api, user, login, password, settings):
    """Attack: read credentials out of the audit table. Expected: after every event of a
    session's life, no column of any row holds a password, a token, or a token's signature."""
    settings.REFRESH_REUSE_GRACE = timedelta(0)
    login_request(api, user.email, WRONG, **AGENT)
    login_request(api, "nobody@example.com", WRONG, **AGENT)
    first, second, third = (login_request(api, user.email, password).json() for _ in range(3))
    rotated = refresh(api, first["refresh"], **AGENT).json()
    refresh(api, first["refresh"], **AGENT)  # reuse
    logout(api, second["refresh"], **AGENT)
    api.delete(f"/api/sessions/{sid_of(third)}/", **auth(third["access"]), **AGENT)
    fourth = login_request(api, user.email, password).json()
    body = {"current_password": password, "new_password": NEW_PASSWORD}
    changed = post_json(api, "/api/password/change/", body, **auth(fourth["access"]), **AGENT)
    post_json(api, "/api/logout/all/", None, **auth(changed.json()["access"]), **AGENT)
    pairs = (first, second, third, fourth, rotated, changed.json())
    secrets = {password, NEW_PASSWORD, WRONG, *_token_strings(*pairs)}
    # Signatures alone, too: a truncated token would still be a leak.
    secrets |= {p["access"].rsplit(".", 1)[1] for p in pairs} | {p["refresh"][-43:] for p in pairs}

    rows = list(AuditEvent.objects.values_list(*[f.attname for f in AuditEvent._meta.fields]))

    assert {row[2] for row in rows} >= {
        "login_failed", "login_ok", "refresh_reuse", "logout", "session_ended",
        "password_changed", "logout_all",
    }  # fmt: skip
    for row in rows:
        for value in row:
            assert not any(secret in str(value) for secret in secrets), (row, value)
