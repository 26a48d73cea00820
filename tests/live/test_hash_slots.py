"""Key layout: every Lua script declares all its keys, and every command's keys share one hash
slot (a per-user hash tag), so the token store can move to Redis Cluster.

Every token-store operation is exercised through the API and the services against a throw-away
Redis watched with MONITOR. Each recorded command's keys come from the server itself (COMMAND
GETKEYS) and their slots from redis-py's CRC16; the commands a script runs (MONITOR shows them
from `lua`, logged right after the EVALSHA that runs them) may touch only the keys that script
declared in KEYS.
"""

from __future__ import annotations

import re
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path

import pytest
import redis
from redis.crc import key_slot

import accounts.token_store
from accounts import clients, services
from accounts.models import User
from tests.factories import PASSWORD, UserFactory
from tests.helpers import (
    NEW_PASSWORD,
    auth,
    client_token,
    introspect,
    login,
    logout,
    me,
    post_json,
    refresh,
    sid_of,
)
from tests.servers import redis_server

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

READ_TIMEOUT = 10
# The scripts of accounts/token_store/lua (live.lua is a function prepended to three of them).
SCRIPTS = {
    "check",
    "client_live",
    "create",
    "end",
    "raise",
    "rotate",
    "throttle",
    "throttle_account",
}
LUA = Path(accounts.token_store.__file__).resolve().parent / "lua"
SCRIPT_CALLS = {"EVALSHA", "EVAL", "EVALSHA_RO", "EVAL_RO", "FCALL", "FCALL_RO"}
_LINE = re.compile(r"^\+?(?P<time>\S+) \[(?P<db>\d+) (?P<source>[^\]]+)\] (?P<args>.*)$")
_ARG = re.compile(r'"((?:[^"\\]|\\.)*)"')
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|.)")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "a": "\a", "b": "\b"}


@dataclass(frozen=True)
class Command:
    source: str  # a client's address, or "lua" inside a script
    argv: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.argv[0].upper()


def _unescape(arg: str) -> str:
    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        return chr(int(code[1:], 16)) if code.startswith("x") else _ESCAPES.get(code, code)

    return _ESCAPE.sub(one, arg)


def _parse(line: str) -> Command | None:
    match = _LINE.match(line)
    if match is None:
        return None
    argv = tuple(_unescape(arg) for arg in _ARG.findall(match["args"]))
    return Command(match["source"], argv)


class Monitor:
    """MONITOR on a raw socket, read by a thread, until a sentinel ECHO comes by."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sentinel = f"monitor-end-{uuid.uuid4().hex}"
        self.commands: list[Command] = []
        self._sock = socket.create_connection(("127.0.0.1", port), READ_TIMEOUT)
        self._sock.sendall(b"MONITOR\r\n")
        self._file = self._sock.makefile("rb")
        assert self._file.readline() == b"+OK\r\n"
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for raw in self._file:
            command = _parse(raw.decode("utf-8", "replace").rstrip("\r\n"))
            if command is None:
                continue
            if command.argv[:2] == ("ECHO", self.sentinel):
                return
            self.commands.append(command)

    def stop(self) -> list[Command]:
        with redis.Redis(port=self.port) as client:
            client.echo(self.sentinel)
        self._thread.join(READ_TIMEOUT)
        assert not self._thread.is_alive(), "MONITOR never saw its sentinel"
        self._sock.close()
        return self.commands


@pytest.fixture
def watched(settings) -> Iterator[tuple[Monitor, redis.Redis]]:
    """The token store on a throw-away Redis under MONITOR, and a client to ask it about keys."""
    with redis_server() as (url, _), redis.Redis.from_url(url, decode_responses=True) as admin:
        settings.TOKEN_STORE_URL = url
        monitor = Monitor(admin.connection_pool.connection_kwargs["port"])
        try:
            yield monitor, admin
        finally:
            if monitor._thread.is_alive():
                monitor.stop()


def _keys(admin: redis.Redis, command: Command) -> list[str]:
    """The command's keys, as the server itself finds them (none for a keyless command)."""
    try:
        return list(admin.command_getkeys(*command.argv))
    except redis.ResponseError:
        return []


def _exercise(api, django_capture_on_commit_callbacks) -> None:
    """Every token-store operation, through the API and the services."""
    email = f"slots-{uuid.uuid4().hex[:8]}@example.com"
    assert post_json(api, "/api/register/", {"email": email, "password": PASSWORD}).status_code == (
        HTTPStatus.CREATED
    )
    assert login(api, email, "wrong password").status_code == HTTPStatus.UNAUTHORIZED
    first = login(api, email, PASSWORD).json()
    assert me(api, first["access"]).status_code == HTTPStatus.OK
    second = refresh(api, first["refresh"]).json()
    third = refresh(api, second["refresh"]).json()
    assert refresh(api, second["refresh"]).json()["refresh"] == third["refresh"]  # grace
    assert refresh(api, first["refresh"]).status_code == HTTPStatus.UNAUTHORIZED  # reuse
    other = login(api, email, PASSWORD).json()
    assert api.get("/api/sessions/", **auth(other["access"])).status_code == HTTPStatus.OK
    doomed = login(api, email, PASSWORD).json()
    path = f"/api/sessions/{sid_of(doomed)}/"
    assert api.delete(path, **auth(other["access"])).status_code == HTTPStatus.NO_CONTENT
    assert (
        logout(api, login(api, email, PASSWORD).json()["refresh"]).status_code
        == HTTPStatus.NO_CONTENT
    )
    with django_capture_on_commit_callbacks(execute=True) as purges:
        all_out = post_json(api, "/api/logout/all/", {}, **auth(other["access"]))
    assert (all_out.status_code, len(purges)) == (HTTPStatus.NO_CONTENT, 1)
    pair = login(api, email, PASSWORD).json()
    wrong = {"current_password": "not it at all", "new_password": NEW_PASSWORD}
    bearer = auth(pair["access"])
    assert (
        post_json(api, "/api/password/change/", wrong, **bearer).status_code
        == HTTPStatus.BAD_REQUEST
    )
    change = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    with django_capture_on_commit_callbacks(execute=True) as purges:
        changed = post_json(api, "/api/password/change/", change, **bearer)
    assert (changed.status_code, len(purges)) == (HTTPStatus.OK, 1)
    with django_capture_on_commit_callbacks(execute=True):
        services.user_deactivate(user=User.objects.get(email=email))
    assert refresh(api, changed.json()["refresh"]).status_code == HTTPStatus.UNAUTHORIZED
    _exercise_clients(api)


def _exercise_clients(api) -> None:
    """A service account: a token, its introspection, a failed authentication, a disable."""
    issued = clients.client_create(name="slots", scope="introspect")
    cid = issued.client.client_id
    token = client_token(api, cid, issued.secret).json()["access_token"]
    assert introspect(api, token, cid, issued.secret).json()["active"] is True
    assert client_token(api, cid, "sks_wrong").status_code == HTTPStatus.UNAUTHORIZED
    clients.client_disable(client=issued.client)


def test_every_command_keeps_its_keys_in_one_slot_and_scripts_declare_theirs(
    api, watched, django_capture_on_commit_callbacks
):
    """Every command of every token-store operation (sessions: create, check, rotate incl.
    grace and reuse, end, list, purge; throttles of register, login and failed logins; API
    clients' tokens: live, check, end):
    its keys hash to one slot, and each script touches only the keys it declared."""
    assert {path.stem for path in LUA.glob("*.lua")} - {"live"} == SCRIPTS
    monitor, admin = watched
    UserFactory()  # a second user in the database, so that no key is anybody's by accident

    _exercise(api, django_capture_on_commit_callbacks)
    commands = monitor.stop()

    names = {command.name for command in commands}
    assert {"EVALSHA", "SMEMBERS", "HGETALL", "DEL"} <= names, names
    declared: tuple[str, set[str]] | None = None  # the running script: its sha and KEYS
    ran: set[str] = set()
    for command in commands:
        keys = _keys(admin, command)
        assert len({key_slot(key.encode()) for key in keys}) <= 1, (command, keys)
        if command.source != "lua":
            is_script = command.name in SCRIPT_CALLS
            declared = (command.argv[1], set(keys)) if is_script else None
            continue
        assert declared is not None, ("a command from lua outside any script", command)
        sha, script_keys = declared
        ran.add(sha)
        assert set(keys) <= script_keys, (command.argv, "not among the script's KEYS", script_keys)
    assert len(ran) == len(SCRIPTS), "not every script ran"
