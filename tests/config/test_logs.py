"""config/logs.py: the JSON and text formats, the request id on every line of a request, the
masking of anything that looks like a token or an email, and LOG_FORMAT's values."""

from __future__ import annotations

import json
import logging
import runpy
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from accounts import request_context
from accounts.request_context import RequestInfo
from config import logs
from tests.servers import ROOT

JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
REFRESH = "rt1_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g"


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("accounts.test", logging.WARNING, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    return record


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"bad token {JWT} here", "bad token [token] here"),
        (f"refresh {REFRESH}", "refresh [token]"),
        ("user ada.lovelace+x@example.co.uk failed", "user a***@example.co.uk failed"),
        ("nothing to hide", "nothing to hide"),
    ],
)
def test_tokens_and_emails_are_masked(text, expected):
    assert logs.redact(text) == expected


def test_a_json_line_has_the_fields_and_the_request_id():
    token = request_context.begin(RequestInfo(request_id="req-1"))
    try:
        line = logs.JsonFormatter().format(_record("login failed for %s", "ada@example.com"))
    finally:
        request_context.end(token)

    entry = json.loads(line)
    assert entry.keys() == {"time", "level", "logger", "event", "request_id"}
    assert (entry["level"], entry["logger"], entry["request_id"]) == (
        "WARNING",
        "accounts.test",
        "req-1",
    )
    assert entry["event"] == "login failed for a***@example.com"
    assert entry["time"].endswith("+00:00")


def test_a_traceback_is_masked_too():
    try:
        raise ValueError(f"token {JWT}")
    except ValueError:
        record = _record("failed")
        record.exc_info = sys.exc_info()
    entry = json.loads(logs.JsonFormatter().format(record))
    assert "Traceback" in entry["exception"]
    assert JWT not in entry["exception"]


def test_a_text_line_has_the_fields_as_key_value():
    line = logs.TextFormatter().format(_record("request", request_id="r2", status=200, route="/x"))
    assert line.endswith(" WARNING accounts.test request request_id=r2 route=/x status=200")


def test_the_server_logs_to_stdout(monkeypatch):
    handler = logging.StreamHandler(sys.stderr)
    monkeypatch.setattr(logging.getLogger(), "handlers", [handler])
    logs.to_stdout()
    assert handler.stream is sys.stdout


def test_log_format_takes_json_or_text(monkeypatch):
    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(ImproperlyConfigured, match="LOG_FORMAT must be json or text"):
        runpy.run_path(str(ROOT / "config" / "settings.py"))
    monkeypatch.setenv("LOG_FORMAT", "")
    monkeypatch.setenv("APP_ENV", "production")
    assert runpy.run_path(str(ROOT / "config" / "settings.py"))["LOG_FORMAT"] == "json"
