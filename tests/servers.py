"""Real servers for tests: the service (`manage.py serve`, the production uvicorn configuration)
and Redis, started as processes on free ports."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import IO, Any

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check, timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}")


@dataclass(frozen=True)
class Served:
    base: str  # http://127.0.0.1:<port>
    port: int
    pid: int  # the server process (with one worker, the one that serves)


@contextlib.contextmanager
def served(
    env: dict[str, str],
    *,
    workers: int = 1,
    port: int | None = None,
    output: IO[str] | None = None,
) -> Iterator[Served]:
    """Run the service as production does, `manage.py serve`, with `env` over os.environ; on
    `port` (one picked by free_port(), to restart a server where its clients expect it); its
    stdout and stderr go to `output` (a file the caller reads) if given."""
    if port is None:
        port = free_port()
    else:
        # Another server still there would answer the start-up check in this one's place.
        with (
            contextlib.suppress(ConnectionRefusedError),
            socket.create_connection(("127.0.0.1", port), timeout=1),
        ):
            raise RuntimeError(f"port {port} is in use: stop the server on it first")
    full_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "ACCESS_LOG": "false",
        **env,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": str(workers),
    }
    cmd = [sys.executable, "manage.py", "serve"]
    # Output goes to a file, not a pipe: a pipe nobody reads fills up and blocks the server.
    with contextlib.ExitStack() as stack:
        log = output or stack.enter_context(tempfile.TemporaryFile(mode="w+"))
        # Its own process group: the workers of a multi-worker server go down with it.
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            try:
                # Generous: workers start slowly on a busy machine (each imports Django).
                wait_until(
                    lambda: (
                        proc.poll() is not None
                        or httpx.get(f"{base}/health/live").status_code == HTTPStatus.OK
                    ),
                    timeout=60,
                    what="manage.py serve",
                )
                if proc.poll() is not None:
                    raise TimeoutError
            except TimeoutError:
                _kill_group(proc)
                proc.wait(timeout=5)
                log.seek(0)
                output = log.read()[-3000:]
                raise RuntimeError(f"manage.py serve did not start:\n{output}") from None
            yield Served(base=base, port=port, pid=proc.pid)
        finally:
            if proc.poll() is None:
                stop(proc)
            _kill_group(proc)  # workers a parent left behind (it was killed, or died first)


@contextlib.contextmanager
def uvicorn_server(env: dict[str, str], *, workers: int = 1) -> Iterator[str]:
    """The service under `manage.py serve` (uvicorn); yields its base URL."""
    with served(env, workers=workers) as server:
        yield server.base


def stop(proc: subprocess.Popen[Any]) -> None:
    """Stop a process of a test: SIGTERM, then SIGKILL after 10 s."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


@contextlib.contextmanager
def redis_server() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A throw-away Redis on its own port; yields its URL and process (kill it to make a fault)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(
            lambda: socket.create_connection(("127.0.0.1", port), 0.2).close() is None,
            what="redis-server",
        )
        yield f"redis://127.0.0.1:{port}/0", proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
