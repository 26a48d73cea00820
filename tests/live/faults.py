"""A throw-away Redis that can fail for real and come back with its data: killed, restarted on
the same port, or paused.

It persists every write (append-only file, fsync always), as production runs Redis: a server
killed and restarted still holds the sessions it had, so a test can tell a session that is
dead from a record that is merely gone.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import redis

from tests.servers import free_port, wait_until

CONNECT_TIMEOUT = 0.2


class ThrowAwayRedis:
    """A redis-server process on its own port and directory."""

    def __init__(self, directory: str) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.directory = directory
        self.proc: subprocess.Popen[bytes] | None = None
        self.paused_until = 0.0

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        cmd = [
            binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            self.directory,
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
        ]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        address = ("127.0.0.1", self.port)
        wait_until(
            lambda: socket.create_connection(address, CONNECT_TIMEOUT).close() is None,
            what="redis-server",
        )
        wait_until(lambda: self.admin().ping(), what="redis-server loading its data")

    def kill(self) -> None:
        """Stop it for real (SIGKILL): connections are refused until `start`."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self) -> None:
        self.kill()
        self.start()

    def admin(self) -> redis.Redis:
        """A connection of the test's own (not the service's)."""
        return redis.Redis.from_url(self.url, socket_timeout=1, retry_on_timeout=False)

    def pause(self, ms: int) -> None:
        """CLIENT PAUSE <ms> ALL: every command of every client waits until the pause ends."""
        with self.admin() as client:
            client.client_pause(ms, all=True)
        self.paused_until = time.monotonic() + ms / 1000

    def wait_unpaused(self) -> None:
        time.sleep(max(0.0, self.paused_until - time.monotonic()))
        wait_until(lambda: self.admin().ping(), what="the pause to end")

    def recover(self) -> None:
        """Bring it back, whatever the fault was: restarted with its data, or unpaused."""
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        else:
            self.wait_unpaused()


@contextlib.contextmanager
def throw_away_redis() -> Iterator[ThrowAwayRedis]:
    with tempfile.TemporaryDirectory(prefix="redis-fault-") as directory:
        server = ThrowAwayRedis(directory)
        server.start()
        try:
            yield server
        finally:
            server.kill()
