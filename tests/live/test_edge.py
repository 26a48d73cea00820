"""Safety at the edge, over raw sockets against the service as production serves it.

One `manage.py serve` for the module (CLIENT_TIMEOUT=1, TMPDIR an empty directory of its own),
driven with hand-written HTTP/1.1: body and header limits (config/edge.py), stalled clients,
the client address under forged X-Forwarded-For, and the loop and parser it runs on
(config/serving.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

import httpx
import pytest
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tests.servers import ROOT, Served, free_port, served, wait_until

pytestmark = pytest.mark.slow

CLIENT_TIMEOUT = 1.0
# How long past CLIENT_TIMEOUT a stalled client may linger before the test calls it not dropped.
SLACK = 4.0
# A refusal that does not read the body comes at once; this is generous for a loaded machine.
REFUSAL_SECONDS = 2.0
TOO_LARGE = {"detail": "Request body too large.", "code": "payload_too_large"}
HEADERS_TOO_LARGE = {
    "detail": "Request headers too large.",
    "code": "request_header_fields_too_large",
}
TIMED_OUT = {"detail": "Request not received in time.", "code": "request_timeout"}


@pytest.fixture(scope="module")
def server_tmp(tmp_path_factory) -> Path:
    """The server's TMPDIR: it must stay empty."""
    return tmp_path_factory.mktemp("edge-server-tmp")


@pytest.fixture(scope="module")
def edge(django_db_setup, server_tmp) -> Iterator[Served]:
    from django.conf import settings

    db = settings.DATABASES["default"]
    env = {
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "CLIENT_TIMEOUT": str(int(CLIENT_TIMEOUT)),
        "THROTTLE_LOGIN_PER_MINUTE": "2",
        "TMPDIR": str(server_tmp),
    }
    with served(env) as server:
        yield server


def _connect(server: Served, timeout: float = 10.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=timeout)


def _head(method: str, path: str, *headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *headers, "", ""]
    return "\r\n".join(lines).encode()


def _read_until_closed(sock: socket.socket, deadline: float) -> bytes:
    """Everything the server sends until it closes the connection (TimeoutError past deadline)."""
    data = b""
    while True:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        except TimeoutError:
            raise TimeoutError(f"connection still open; received {data[:200]!r}") from None
        if not chunk:
            return data
        data += chunk


def _response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), headers, body


def _assert_error(raw: bytes, status: HTTPStatus, body: dict[str, str]) -> None:
    code, headers, content = _response(raw)
    assert code == status
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    assert json.loads(content) == body


def _temp_files(server: Served, server_tmp: Path) -> list[str]:
    """Files in the server's TMPDIR, and its open fds pointing there (O_TMPFILE has no name)."""
    fds = Path(f"/proc/{server.pid}/fd")
    links = []
    for fd in fds.iterdir():
        with contextlib.suppress(OSError):
            links.append(os.readlink(fd))
    return [*os.listdir(server_tmp), *(link for link in links if str(server_tmp) in link)]


def test_declared_oversized_body_is_refused_before_it_is_read(edge, server_tmp):
    """Attack: POST with Content-Length 300 MiB, to make the service read and spool it to disk.
    Expected: 413 in the common shape at once, with not a byte of the body sent, the
    connection closed, and no temporary file in the server."""
    with _connect(edge) as sock:
        started = time.monotonic()
        sock.sendall(
            _head(
                "POST",
                "/api/token/",
                "Content-Type: application/json",
                f"Content-Length: {300 * 1024 * 1024}",
            )
        )
        raw = _read_until_closed(sock, started + 5)
        elapsed = time.monotonic() - started
    _assert_error(raw, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, TOO_LARGE)
    assert elapsed < REFUSAL_SECONDS, elapsed
    assert _temp_files(edge, server_tmp) == []


def test_chunked_body_is_cut_off_past_the_limit(edge, server_tmp):
    """Attack: a chunked body with no Content-Length, growing past 64 KiB.
    Expected: 413 in the common shape once past the limit, then the connection closes; nothing
    written to disk."""
    chunk = b'{"email": "' + b"a" * 70_000 + b'"}'
    with _connect(edge) as sock:
        started = time.monotonic()
        sock.sendall(
            _head(
                "POST",
                "/api/token/",
                "Content-Type: application/json",
                "Transfer-Encoding: chunked",
            )
            + b"%x\r\n%s\r\n" % (len(chunk), chunk)
        )
        raw = _read_until_closed(sock, started + 5)
    _assert_error(raw, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, TOO_LARGE)
    assert _temp_files(edge, server_tmp) == []


def test_body_within_the_limit_reaches_django(edge):
    """A chunked body just under the limit is read whole and answered by the API as usual."""
    body = json.dumps({"email": "nobody@example.com", "padding": "a" * 60_000}).encode()
    with _connect(edge) as sock:
        sock.sendall(
            _head(
                "POST",
                "/api/register/",
                "Content-Type: application/json",
                "Transfer-Encoding: chunked",
                "Connection: close",
            )
            + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        )
        code, _, content = _response(_read_until_closed(sock, time.monotonic() + 10))
    # Through to the view: the schema refuses the unknown field, not the edge the size.
    assert code == HTTPStatus.BAD_REQUEST
    assert json.loads(content)["code"] == "invalid_request"


def test_oversized_headers_get_431(edge):
    """Attack: 32 KB of request headers.
    Expected: 431 in the common shape, and the connection closes."""
    with _connect(edge) as sock:
        started = time.monotonic()
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            sock.sendall(_head("GET", "/health/live", "X-Padding: " + "a" * 32_000))
        raw = _read_until_closed(sock, started + 5)
    _assert_error(raw, HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, HEADERS_TOO_LARGE)


def test_headers_under_the_limit_are_served(edge):
    """12 KB of headers (under the 16 KiB default) is an ordinary request."""
    with _connect(edge) as sock:
        padding = "X-Padding: " + "a" * 12_000
        sock.sendall(_head("GET", "/health/live", padding, "Connection: close"))
        code, _, content = _response(_read_until_closed(sock, time.monotonic() + 10))
    assert code == HTTPStatus.OK
    assert json.loads(content) == {"status": "ok"}


def test_client_stalled_mid_body_is_dropped(edge):
    """Attack: headers and half the declared body, then silence, to hold the connection.
    Expected: 408 in the common shape after CLIENT_TIMEOUT (1 s here), and the connection closes."""
    with _connect(edge) as sock:
        started = time.monotonic()
        sock.sendall(
            _head("POST", "/api/token/", "Content-Type: application/json", "Content-Length: 100")
            + b'{"email": "stall'
        )
        raw = _read_until_closed(sock, started + CLIENT_TIMEOUT + SLACK)
        elapsed = time.monotonic() - started
    _assert_error(raw, HTTPStatus.REQUEST_TIMEOUT, TIMED_OUT)
    assert elapsed >= CLIENT_TIMEOUT * 0.9, elapsed


@pytest.mark.parametrize(
    "sent",
    [b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaa", b""],
    ids=["mid-headers", "nothing"],
)
def test_client_stalled_in_the_headers_is_dropped(edge, sent):
    """Attack: half a request line and headers (or nothing at all), then silence (slowloris).
    Expected: the connection is closed, unanswered, after CLIENT_TIMEOUT (1 s here)."""
    with _connect(edge) as sock:
        started = time.monotonic()
        sock.sendall(sent)
        raw = _read_until_closed(sock, started + CLIENT_TIMEOUT + SLACK)
        elapsed = time.monotonic() - started
    assert raw == b""
    assert elapsed >= CLIENT_TIMEOUT * 0.9, elapsed


def test_service_answers_while_stalled_clients_hold_connections(edge):
    """Attack: 160 connections stalled mid-headers or mid-body, to starve everyone else.
    Expected: another client gets /health/live 200 quickly meanwhile; every stalled connection
    is closed within the timeout."""
    stalled = []
    try:
        for n in range(160):
            sock = _connect(edge)
            if n % 2:
                sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a")
            else:
                sock.sendall(
                    _head(
                        "POST",
                        "/api/token/",
                        "Content-Type: application/json",
                        "Content-Length: 50",
                    )
                    + b'{"email'
                )
            stalled.append(sock)
        started = time.monotonic()
        answer = httpx.get(f"{edge.base}/health/live", timeout=5)
        elapsed = time.monotonic() - started
        assert answer.status_code == HTTPStatus.OK
        assert elapsed < 1, elapsed
        deadline = time.monotonic() + CLIENT_TIMEOUT + SLACK
        for sock in stalled:
            _read_until_closed(sock, deadline)
    finally:
        for sock in stalled:
            sock.close()


def test_over_the_concurrency_limit_answers_503_in_the_common_shape(django_db_setup):
    """Attack: more connections than LIMIT_CONCURRENCY (3 here) held open at once.
    Expected: the next request gets 503 in the common shape with Retry-After, not a hang;
    once they are gone the service answers again."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    env = {
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "LIMIT_CONCURRENCY": "3",
        "RETRY_AFTER_SECONDS": "7",
    }
    with served(env) as server:
        holders = [_connect(server) for _ in range(3)]
        try:
            with _connect(server) as sock:
                sock.sendall(_head("GET", "/health/live"))
                code, headers, content = _response(_read_until_closed(sock, time.monotonic() + 10))
        finally:
            for holder in holders:
                holder.close()
        assert code == HTTPStatus.SERVICE_UNAVAILABLE
        assert headers["retry-after"] == "7"
        assert headers["content-type"] == "application/json"
        assert json.loads(content) == {
            "detail": "Too many connections; try again shortly.",
            "code": "server_busy",
        }
        live = f"{server.base}/health/live"
        wait_until(lambda: httpx.get(live).status_code == HTTPStatus.OK, what="answers again")


def test_forged_x_forwarded_for_does_not_change_the_client_address(edge, transactional_db):
    """Attack: a new X-Forwarded-For on every login, to escape the per-address throttle
    (THROTTLE_LOGIN_PER_MINUTE=2 here) and to forge the audited address.
    Expected: the service sees the socket's peer, 127.0.0.1: the third login is 429, and the
    audit log records 127.0.0.1, never a forged address."""
    from accounts.models import AuditEvent

    login = {"email": "nobody@example.com", "password": "not the password"}
    statuses = []
    for n in range(3):
        with httpx.Client(base_url=edge.base, timeout=10) as http:
            forged = {"X-Forwarded-For": f"1.2.3.{n + 4}"}
            statuses.append(http.post("/api/token/", json=login, headers=forged).status_code)
    refused = HTTPStatus.UNAUTHORIZED
    assert statuses == [refused, refused, HTTPStatus.TOO_MANY_REQUESTS]
    addresses = set(AuditEvent.objects.values_list("ip", flat=True))
    assert addresses == {"127.0.0.1"}


def test_the_server_runs_on_uvloop_and_httptools(edge):
    """The serve configuration names uvloop, our httptools protocol and no proxy trust, and the
    running server has both native modules loaded."""
    from config import serving

    options = serving.uvicorn_options()
    assert options["loop"] == "uvloop"
    assert options["http"] == "config.edge:EdgeHttpToolsProtocol"
    from config.edge import EdgeHttpToolsProtocol

    assert issubclass(EdgeHttpToolsProtocol, HttpToolsProtocol)
    assert options["proxy_headers"] is False
    assert options["forwarded_allow_ips"] == ""
    maps = Path(f"/proc/{edge.pid}/maps").read_text()
    assert "/uvloop/loop." in maps
    assert "/httptools/parser/parser." in maps


@pytest.mark.parametrize("module", ["uvloop", "httptools"])
def test_serve_refuses_to_start_without_uvloop_or_httptools(tmp_path, module):
    """Without uvloop or httptools, `manage.py serve` stops at once with a one-line reason,
    rather than serving on the stdlib loop or parser."""
    (tmp_path / module).mkdir()
    (tmp_path / module / "__init__.py").write_text("raise ImportError('hidden by the test')\n")
    env = {
        **os.environ,
        "PYTHONPATH": str(tmp_path),
        "PORT": str(free_port()),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "serve"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"CommandError: auth-service cannot start: {module} (")
    assert "hidden by the test" in last
    assert "Uvicorn running" not in result.stderr


def test_nothing_serves_the_app_with_bare_uvicorn():
    """Scripts, tests and the image start the service with `manage.py serve` only: bare uvicorn
    would trust X-Forwarded-For from 127.0.0.1."""
    places = [
        *ROOT.joinpath("tests").glob("*.py"),
        *ROOT.joinpath("bench").glob("*.py"),
        *ROOT.joinpath("docker").iterdir(),
        *ROOT.joinpath(".ci").iterdir(),
        ROOT / "Makefile",
        ROOT / "compose.yml",
    ]
    needles = ('"-m", "uvicorn"', "uvicorn config.asgi", "uvicorn.run(")
    offenders = [
        str(path.relative_to(ROOT))
        for path in places
        if path.is_file()
        and path.name != "test_edge.py"
        and any(needle in path.read_text(errors="replace") for needle in needles)
    ]
    assert offenders == []
