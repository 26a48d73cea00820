"""Log formats (LOG_FORMAT): JSON lines (production's default) or plain text (development's).

Every line carries the request id of the request in progress (accounts.request_context), and
the access log's fields (config/observability.py) when it has them. Messages are written not
to hold secrets; as a second line of defence, anything in a message or traceback that looks like
a JWT, a refresh token or an email address is masked before it is written.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

from accounts import request_context

# The access log's fields, in the order they are written.
FIELDS = ("request_id", "method", "route", "status", "duration_ms", "client", "user_id")

_JWT = re.compile(r"eyJ[\w-]*\.[\w-]*\.[\w-]*")
_REFRESH = re.compile(r"rt1_[\w-]+")
_EMAIL = re.compile(r"([^\s@\"'<>(),;:]{1,64})@([\w.-]+\.\w+)")


def redact(text: str) -> str:
    """`text` with tokens replaced and email addresses reduced to their first letter."""
    if "eyJ" in text:
        text = _JWT.sub("[token]", text)
    if "rt1_" in text:
        text = _REFRESH.sub("[token]", text)
    if "@" in text:
        text = _EMAIL.sub(lambda m: f"{m.group(1)[0]}***@{m.group(2)}", text)
    return text


def _fields(record: logging.LogRecord) -> dict[str, object]:
    fields: dict[str, object] = {}
    for name in FIELDS:
        value = getattr(record, name, None)
        if value is not None and value != "":
            fields[name] = value
    if "request_id" not in fields:
        current = request_context.request_id()
        if current:
            fields["request_id"] = current
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, event, and the request's fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event": redact(record.getMessage()),
            **_fields(record),
        }
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`time level logger event key=value ...`, for a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = redact(super().format(record))
        extra = " ".join(f"{name}={value}" for name, value in _fields(record).items())
        return f"{line} {extra}" if extra else line


def to_stdout() -> None:
    """Send the console handler's lines to stdout: the server's logs are its output (commands
    keep logging to stderr, so that what they print stays clean)."""
    for logger in (logging.getLogger(), logging.getLogger("uvicorn")):
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr:
                handler.setStream(sys.stdout)
