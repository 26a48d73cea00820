"""NGINX from Debian's packages in front of a small upstream, `auth_request` pointing at our
forward-auth endpoint (GET /api/auth/verify), with the configuration docs/consumers.md gives.

A good token passes and the upstream sees who it is (X-Auth-User-Id, X-Auth-Session-Id,
X-Auth-Roles, X-Auth-Scope, set by NGINX from our answer, never taken from the client); a
missing, bad, refresh, ended or rotated-out one gets 401 with our `WWW-Authenticate`, and the
upstream never sees the request.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from django.contrib.auth.models import Group

from tests.factories import UserFactory
from tests.helpers import CHALLENGE, other_ec_key
from tests.live.calls import HTTP_TIMEOUT, login, logout
from tests.live.consumers import GROUP_SCOPES, which
from tests.servers import free_port, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

AUTH_HEADERS = ("x-auth-user-id", "x-auth-session-id", "x-auth-roles", "x-auth-scope")

# The server block of docs/consumers.md, with the addresses filled in.
CONFIG = """
daemon off;
master_process off;
pid {tmp}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;

    server {{
        listen 127.0.0.1:{port};

        location = /_auth {{
            internal;
            proxy_pass {auth}/api/auth/verify;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
        }}

        location / {{
            auth_request /_auth;
            auth_request_set $auth_user $upstream_http_x_auth_user_id;
            auth_request_set $auth_session $upstream_http_x_auth_session_id;
            auth_request_set $auth_roles $upstream_http_x_auth_roles;
            auth_request_set $auth_scope $upstream_http_x_auth_scope;
            proxy_set_header X-Auth-User-Id $auth_user;
            proxy_set_header X-Auth-Session-Id $auth_session;
            proxy_set_header X-Auth-Roles $auth_roles;
            proxy_set_header X-Auth-Scope $auth_scope;
            proxy_pass {upstream};
        }}
    }}
}}
"""


class _Echo(BaseHTTPRequestHandler):
    """The protected upstream: answers with what it was sent, and remembers it."""

    seen: list[dict[str, Any]]

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request = {
            "method": self.command,
            "path": self.path,
            "headers": {name.lower(): value for name, value in self.headers.items()},
            "body": self.rfile.read(length).decode(),
        }
        self.seen.append(request)
        body = json.dumps(request).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def upstream() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []
    handler = type("Echo", (_Echo,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def nginx(tmp: Path, auth: str, upstream_url: str) -> Iterator[httpx.Client]:
    """Debian's nginx as a child process on a free port; a client of it."""
    binary = which("nginx")
    port = free_port()
    config = tmp / "nginx.conf"
    config.write_text(CONFIG.format(tmp=tmp, port=port, auth=auth, upstream=upstream_url))
    proc = subprocess.Popen(
        [binary, "-p", str(tmp), "-c", str(config), "-e", str(tmp / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: proc.poll() is not None or httpx.get(base).status_code > 0, what="nginx")
        assert proc.poll() is None, (tmp / "error.log").read_text()
        with httpx.Client(base_url=base, timeout=HTTP_TIMEOUT) as client:
            yield client
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def gateway(keyed_server, tmp_path) -> Iterator[tuple[httpx.Client, list[dict[str, Any]]]]:
    with upstream() as (url, seen), nginx(tmp_path, keyed_server, url) as client:
        yield client, seen


def _bearer(token: str, **more: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **more}


def _refused(response: httpx.Response) -> None:
    assert response.status_code == HTTPStatus.UNAUTHORIZED, response.text
    assert response.headers["WWW-Authenticate"] == CHALLENGE


def test_a_good_token_passes_and_the_upstream_sees_who_it_is(gateway, keyed_http):
    """Expected: 200 from the upstream, for a GET and for a POST with its body intact; the
    upstream gets the user, session, roles and scope from NGINX. Attack within it: the client
    sends its own X-Auth-User-Id and X-Auth-Roles; NGINX replaces them with ours."""
    client, seen = gateway
    user = UserFactory()
    user.groups.add(Group.objects.create(name="staff"))
    access = login(keyed_http, user.email)["access"]
    sid = jwt.decode(access, options={"verify_signature": False})["sid"]
    forged = {"X-Auth-User-Id": "someone-else", "X-Auth-Roles": "admin"}

    got = client.get("/orders?page=2", headers=_bearer(access, **forged))
    posted = client.post("/orders", headers=_bearer(access), json={"item": 42})

    assert (got.status_code, posted.status_code) == (HTTPStatus.OK, HTTPStatus.OK)
    expected = {
        "x-auth-user-id": str(user.pk),
        "x-auth-session-id": sid,
        "x-auth-roles": "staff",
        "x-auth-scope": " ".join(GROUP_SCOPES["staff"]),
    }
    for request in seen:
        assert {name: request["headers"].get(name) for name in AUTH_HEADERS} == expected
    assert [(r["method"], r["path"]) for r in seen] == [
        ("GET", "/orders?page=2"),
        ("POST", "/orders"),
    ]
    assert json.loads(seen[1]["body"]) == {"item": 42}


def test_missing_bad_refresh_and_ended_tokens_get_401_and_never_reach_the_upstream(
    gateway, keyed_http
):
    """Attacks: no token; garbage; a token signed by another key; the refresh token as a bearer
    token; the access token of a session that has logged out (still unexpired, so only a check
    against the session stops it). Expected: 401 with `WWW-Authenticate: Bearer
    error="invalid_token"` for each, and the upstream sees none of them."""
    client, seen = gateway
    pair = login(keyed_http, UserFactory().email)
    claims = jwt.decode(pair["access"], options={"verify_signature": False})
    kid = jwt.get_unverified_header(pair["access"])["kid"]
    foreign = jwt.encode(claims, other_ec_key(), "ES256", headers={"kid": kid, "typ": "at+jwt"})
    assert client.get("/orders", headers=_bearer(pair["access"])).status_code == HTTPStatus.OK
    seen.clear()

    _refused(client.get("/orders"))
    _refused(client.get("/orders", headers=_bearer("not-a-token")))
    _refused(client.get("/orders", headers=_bearer(foreign)))
    _refused(client.get("/orders", headers=_bearer(pair["refresh"])))
    assert logout(keyed_http, pair["refresh"]).status_code == HTTPStatus.NO_CONTENT
    _refused(client.get("/orders", headers=_bearer(pair["access"])))

    assert seen == []


def test_after_a_rotation_a_token_of_the_rotated_out_key_gets_401(rotating, tmp_path):
    """Attack: a token of a key rotated out of the set. Expected: once the service runs on the
    new set, NGINX answers it 401 (our verify refuses its unknown kid) and lets a new token
    through; NGINX itself keeps running through the rotation."""
    email = UserFactory().email
    with upstream() as (url, seen), nginx(tmp_path, rotating.base, url) as client:
        with rotating.start() as base, httpx.Client(base_url=base, timeout=HTTP_TIMEOUT) as http:
            old = login(http, email)["access"]
            assert client.get("/orders", headers=_bearer(old)).status_code == HTTPStatus.OK

        dropped = rotating.rotate_out()

        with rotating.start() as base, httpx.Client(base_url=base, timeout=HTTP_TIMEOUT) as http:
            new = login(http, email)["access"]
            refused = client.get("/orders", headers=_bearer(old))
            accepted = client.get("/orders", headers=_bearer(new))

    assert jwt.get_unverified_header(old)["kid"] == dropped
    _refused(refused)
    assert accepted.status_code == HTTPStatus.OK
    # The upstream saw the old token's request before the rotation and the new one's after.
    assert [request["method"] for request in seen] == ["GET", "GET"]
