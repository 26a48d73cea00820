"""The logs of a whole flow, from the real server (`manage.py serve`, LOG_FORMAT=json, at DEBUG):
every line is a JSON object with the fields an operator filters on, each request has its
access line with the id the response carried, and no password, token or full email is in
any line, whatever the flow did (failed logins, reuse, password change)."""

from __future__ import annotations

import json
import tempfile
import time
from http import HTTPStatus

import httpx
import pytest

from tests.factories import PASSWORD
from tests.live.calls import unique_email
from tests.servers import served

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "a brand new passphrase 42"
WRONG_PASSWORD = "not my passphrase at all"
LINE_FIELDS = {"time", "level", "logger", "event"}
ACCESS_FIELDS = {"request_id", "method", "route", "status", "duration_ms", "client"}


def _flow(http: httpx.Client, email: str, stranger: str) -> tuple[list[str], list[httpx.Response]]:
    """Register, fail, log in, me, refresh, reuse, sessions, password change, logout."""
    responses: list[httpx.Response] = []

    def sent(response: httpx.Response) -> httpx.Response:
        responses.append(response)
        return response

    sent(http.post("/api/register/", json={"email": email, "password": PASSWORD}))
    sent(http.post("/api/token/", json={"email": email, "password": WRONG_PASSWORD}))
    sent(http.post("/api/token/", json={"email": stranger, "password": WRONG_PASSWORD}))
    first = sent(http.post("/api/token/", json={"email": email, "password": PASSWORD})).json()
    bearer = {"Authorization": f"Bearer {first['access']}"}
    sent(http.get("/api/me/", headers=bearer))
    second = sent(http.post("/api/token/refresh/", json={"refresh": first["refresh"]})).json()
    reused = sent(http.post("/api/token/refresh/", json={"refresh": first["refresh"]}))
    assert reused.json()["code"] == "token_reused"
    third = sent(http.post("/api/token/", json={"email": email, "password": PASSWORD})).json()
    bearer = {"Authorization": f"Bearer {third['access']}"}
    sent(http.get("/api/sessions/", headers=bearer))
    change = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    fourth = sent(http.post("/api/password/change/", json=change, headers=bearer)).json()
    sent(http.post("/api/logout/", json={"refresh": fourth["refresh"]}))
    tokens = [
        pair[kind] for pair in (first, second, third, fourth) for kind in ("access", "refresh")
    ]
    return tokens, responses


def test_the_logs_of_a_flow_are_json_and_hold_no_secret(live_env):
    email, stranger = unique_email("logs"), unique_email("stranger")
    env = {
        **live_env,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "DEBUG",
        "ACCESS_LOG": "true",
        "REFRESH_REUSE_GRACE": "0",
    }
    with tempfile.TemporaryFile(mode="w+") as output:
        with served(env, output=output) as server, httpx.Client(base_url=server.base) as http:
            tokens, responses = _flow(http, email, stranger)
            time.sleep(0.5)  # the last access line is written after its response went out
        output.seek(0)
        text = output.read()

    assert [r.status_code for r in responses] == [
        HTTPStatus.CREATED,
        HTTPStatus.UNAUTHORIZED,
        HTTPStatus.UNAUTHORIZED,
        HTTPStatus.OK,
        HTTPStatus.OK,
        HTTPStatus.OK,
        HTTPStatus.UNAUTHORIZED,
        HTTPStatus.OK,
        HTTPStatus.OK,
        HTTPStatus.OK,
        HTTPStatus.NO_CONTENT,
    ]
    for secret in (PASSWORD, NEW_PASSWORD, WRONG_PASSWORD, email, stranger, *tokens):
        assert secret not in text, "a secret reached the logs"

    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert all(line.keys() >= LINE_FIELDS for line in lines)
    access = {line["request_id"]: line for line in lines if line["logger"] == "auth.access"}
    for response in responses:
        line = access[response.headers["x-request-id"]]
        assert line.keys() >= ACCESS_FIELDS
        assert (line["method"], line["status"]) == (response.request.method, response.status_code)
        assert line["client"] == "127.0.0.1"
    me = access[responses[4].headers["x-request-id"]]
    assert (me["route"], me["user_id"]) == ("/api/me/", responses[4].json()["id"])
