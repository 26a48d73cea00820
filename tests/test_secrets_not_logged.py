"""No password, token or signing secret ever reaches the logs (DESIGN: security baseline)."""

from __future__ import annotations

import logging
from datetime import timedelta
from http import HTTPStatus

import pytest

from tests.factories import PASSWORD
from tests.jwt_tools import sign

pytestmark = pytest.mark.django_db


def test_the_whole_flow_and_its_failures_log_no_secret(api, caplog, settings):
    """Every path that handles a credential, with DEBUG on and every logger at DEBUG (SQL and
    4xx request logs included): none of the credentials appear."""
    settings.REFRESH_REUSE_GRACE = timedelta(0)
    settings.DEBUG = True
    for name in (None, "django.request", "django.db.backends"):
        caplog.set_level(logging.DEBUG, logger=name)
    json = "application/json"
    credentials = {"email": "ada@example.com", "password": PASSWORD}

    assert api.post("/api/register/", credentials, content_type=json).status_code == 201
    wrong = {**credentials, "password": "a wrong passphrase 99"}
    assert api.post("/api/token/", wrong, content_type=json).status_code == 401
    pair = api.post("/api/token/", credentials, content_type=json).json()
    api.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    forged = sign({"sub": "x"}, kid="no-such-key")
    api.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {forged}")
    newer = api.post("/api/token/refresh/", {"refresh": pair["refresh"]}, content_type=json)
    assert newer.status_code == HTTPStatus.OK
    replay = api.post("/api/token/refresh/", {"refresh": pair["refresh"]}, content_type=json)
    assert replay.json()["code"] == "token_reused"

    logged = caplog.text
    assert "INSERT INTO" in logged  # the logs are verbose: the check below means something
    assert "Unauthorized: /api/me/" in logged
    secrets = [PASSWORD, "a wrong passphrase 99", forged, *pair.values(), *newer.json().values()]
    for secret in secrets:
        if isinstance(secret, str):
            for part in secret.split("."):  # a JWT's payload or signature alone is a leak too
                assert len(part) < 8 or part not in logged
