"""The service as its consumers meet it: served on a port they are configured with, its issuer
that URL (RFC 8414), a key-set file of its own, and a key rotation done with `manage.py jwtkeys`
as the README says (rotate, then prune once the old key's tokens have expired), after which
the service restarts where its consumers expect it."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.management import call_command

from accounts import keys
from tests.servers import free_port, served

# CI sets it: a consumer whose tool is missing (node, its packages, nginx) fails instead of
# being skipped, so that a broken CI set-up cannot pass with these tests left out.
REQUIRED = os.environ.get("CONSUMER_TESTS_REQUIRED") == "1"


def require(present: bool, what: str) -> None:
    """Skip (or in CI, fail) a consumer test whose tool is not installed."""
    if not present:
        (pytest.fail if REQUIRED else pytest.skip)(f"{what} (see .ci/run)")


def which(binary: str) -> str:
    path = shutil.which(binary) or ""
    require(bool(path), f"{binary} is not installed")
    return path


# Groups whose scopes the tokens carry (JWT_GROUP_SCOPES), for the consumers to read.
GROUP_SCOPES = {"staff": ["users:read", "users:write"]}
# Past the longest token lifetime (REFRESH_TOKEN_LIFETIME, one day): prune drops the old key.
PAST_EVERY_TOKEN = timedelta(days=2)


class KeyedService:
    """One service, its key-set file and its port; start() serves it, rotate_out() replaces
    the signing key and drops the old one from the set."""

    def __init__(self, directory: Path, server_env: dict[str, str]) -> None:
        self.keys_file = directory / "keys.json"
        call_command("jwtkeys", "generate", "--out", str(self.keys_file), stdout=StringIO())
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **server_env,  # the test database and Redis
            "JWT_KEYS_FILE": str(self.keys_file),
            "JWT_ISSUER": self.base,
            "JWT_GROUP_SCOPES": json.dumps(GROUP_SCOPES),
        }

    def signer(self) -> tuple[str, Any]:
        """(kid, private key) of the signer in the file: to forge tokens whose only flaw is
        something else than their signature."""
        keyset = keys.parse_keyset(json.loads(self.keys_file.read_text()))
        return keyset.signer.kid, keyset.signer.key

    @property
    def kids(self) -> list[str]:
        return [key["kid"] for key in json.loads(self.keys_file.read_text())["keys"]]

    @contextlib.contextmanager
    def start(self) -> Iterator[str]:
        with served(self.env, port=self.port) as server:
            yield server.base

    def rotate_out(self) -> str:
        """Rotate to a new signer, then prune as a day later: the old key leaves the set.
        Returns the kid that was dropped. Restart the service to load the new set."""
        (old,) = self.kids
        call_command("jwtkeys", "rotate", "--file", str(self.keys_file), stderr=StringIO())
        later = datetime.now(UTC) + PAST_EVERY_TOKEN
        with time_machine.travel(later, tick=False):
            call_command("jwtkeys", "prune", "--file", str(self.keys_file), stderr=StringIO())
        assert old not in self.kids
        assert len(self.kids) == 1
        return old
