"""Real mail for tests: an SMTP server (aiosmtpd) on a free loopback port that keeps what it
receives, and the real worker (`manage.py db_worker`) as a process that sends to it."""

from __future__ import annotations

import email
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

from aiosmtpd.controller import Controller

from tests.servers import ROOT, free_port, stop

TOKEN = re.compile(r"token=([A-Za-z0-9_-]+)")
CODE = re.compile(r"\b(\d{6})\b")


class Inbox:
    """What the SMTP server received, in order; thread-safe."""

    def __init__(self) -> None:
        self._messages: list[EmailMessage] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self._messages.append(message)
        return "250 OK"

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self._messages if address in str(m["To"])]

    def all(self) -> list[EmailMessage]:
        with self._lock:
            return list(self._messages)

    def wait_for(self, address: str, count: int = 1, timeout: float = 30.0) -> list[EmailMessage]:
        """The first `count` mails to `address`, once they have arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            mails = self.to(address)
            if len(mails) >= count:
                return mails[:count]
            time.sleep(0.05)
        raise TimeoutError(f"{count} mail(s) to {address} did not arrive; have {self.all()!r}")


class SmtpServer:
    """aiosmtpd on 127.0.0.1 at a fixed free port; stop() and start() again for a real outage."""

    def __init__(self) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def secrets_of(message: EmailMessage) -> tuple[str, str]:
    """The link's token and the code, read from the plain-text part the way a user would."""
    text = text_of(message)
    token, code = TOKEN.search(text), CODE.search(text)
    assert token, text
    assert code, text
    return token.group(1), code.group(1)


class Worker:
    """The test run's `manage.py db_worker`, kept running the way compose keeps it
    (`restart: unless-stopped`): a watcher starts it again within 0.2 s when it exits.

    Why it exits here: between tests, transactional_db empties every table, and a task the
    worker is running at that moment has no row left to mark done; django-tasks-db's worker
    exits on that. That is the tests' doing, not the service's (nothing deletes running tasks in
    production). Each restart is reported as a warning with the worker's output, so that one
    that died of something else is seen.
    """

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.exits: list[str] = []
        self.proc = _start_worker(env)
        self._stopping = threading.Event()
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        while not self._stopping.wait(0.2):
            if self.proc.poll() is not None:
                self.exits.append(_output(self.proc))
                self.proc = _start_worker(self.env)

    def ensure(self) -> None:
        """Report the restarts since the last call (warnings)."""
        while self.exits:
            output = self.exits.pop(0)
            warnings.warn(
                f"db_worker exited and was started again; it said:\n{output}", stacklevel=2
            )

    def close(self) -> None:
        self._stopping.set()
        self._watcher.join()
        stop(self.proc)


def _start_worker(env: dict[str, str]) -> subprocess.Popen[str]:
    """`manage.py db_worker` polling every 0.1 s, with `env` over os.environ; its output goes
    to a temporary file (`_output` reads it)."""
    full_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **env}
    cmd = [sys.executable, "manage.py", "db_worker", "--interval", "0.1", "--no-startup-delay"]
    log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (it lives as long as the process)
    proc = subprocess.Popen(
        [*cmd, "--no-reload"],
        cwd=ROOT,
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    proc.log = log  # type: ignore[attr-defined]
    time.sleep(0.5)
    if proc.poll() is not None:
        raise RuntimeError(f"db_worker did not start:\n{_output(proc)}")
    return proc


def _output(proc: subprocess.Popen[str]) -> str:
    proc.log.seek(0)  # type: ignore[attr-defined]
    return str(proc.log.read()[-2000:])  # type: ignore[attr-defined]
