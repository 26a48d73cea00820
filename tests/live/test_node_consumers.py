"""Node.js consumes our tokens with its own libraries, from tests/consumers/node (npm packages
pinned by its package-lock.json; `npm ci` there installs them):

- `jose`: createRemoteJWKSet on the jwks_uri of our discovery document, then jwtVerify with the
  issuer, audience, algorithm and `typ: at+jwt` pinned (verify.mjs);
- `express-oauth2-jwt-bearer` in strict mode (the RFC 9068 profile), configured from our
  discovery document, protecting a small Express app (app.mjs).

For each: a valid access token is accepted, a refresh token is refused, and a token of a key
rotated out of the set is refused once the service runs on the new set.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

import httpx
import jwt
import pytest
from django.conf import settings
from django.contrib.auth.models import Group

from tests.factories import UserFactory
from tests.helpers import other_ec_key
from tests.live.calls import HTTP_TIMEOUT, login
from tests.live.consumers import GROUP_SCOPES, require, which
from tests.servers import ROOT, free_port, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

NODE_DIR = ROOT / "tests" / "consumers" / "node"
# Strict mode's answer to a token it refuses (RFC 6750).
CHALLENGE = 'Bearer realm="api", error="invalid_token"'


@pytest.fixture(scope="module")
def node() -> str:
    binary = which("node")
    require((NODE_DIR / "node_modules").is_dir(), f"run `npm ci` in {NODE_DIR}")
    return binary


def _env(issuer: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "ISSUER": issuer, "AUDIENCE": settings.JWT_AUDIENCE, **extra}


def jose_verify(node: str, issuer: str, *tokens: str) -> list[dict[str, Any]]:
    """jose's verdict on each token: {"ok": True, "payload": ...} or {"ok": False, "code": ...}."""
    done = subprocess.run(
        [node, "verify.mjs", *tokens],
        cwd=NODE_DIR,
        env=_env(issuer),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [json.loads(line) for line in done.stdout.splitlines()]


@contextlib.contextmanager
def express(node: str, issuer: str, *, jwks_cache_ms: int = 300_000) -> Iterator[httpx.Client]:
    """The Express app protected by express-oauth2-jwt-bearer; a client of it."""
    port = free_port()
    env = _env(issuer, PORT=str(port), JWKS_CACHE_MS=str(jwks_cache_ms))
    proc = subprocess.Popen(
        [node, "app.mjs"], cwd=NODE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{base}/orders").status_code > 0, what="the Express app")
        with httpx.Client(base_url=base, timeout=HTTP_TIMEOUT) as client:
            yield client
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _staff(http: httpx.Client) -> tuple[Any, dict[str, Any]]:
    user = UserFactory()
    user.groups.add(Group.objects.create(name="staff"))
    return user, login(http, user.email)


# --- jose ------------------------------------------------------------------------------------


def test_jose_accepts_the_access_token_and_refuses_the_rest(node, keyed, keyed_server, keyed_http):
    """Expected: the access token is accepted with its roles and scope. Attacks, each refused:
    the refresh token (not a JWS), a token signed by another key under our kid (signature),
    and one signed by our own key but typed `JWT`, not `at+jwt` (an ID token or another JWT of
    ours must not pass for an access token)."""
    user, pair = _staff(keyed_http)
    kid, key = keyed.signer()
    claims = jwt.decode(pair["access"], options={"verify_signature": False})
    foreign = jwt.encode(claims, other_ec_key(), "ES256", headers={"kid": kid, "typ": "at+jwt"})
    plain_jwt = jwt.encode(claims, key, "ES256", headers={"kid": kid, "typ": "JWT"})

    access, refresh, forged, untyped = jose_verify(
        node, keyed_server, pair["access"], pair["refresh"], foreign, plain_jwt
    )

    assert access["ok"] is True
    assert access["payload"]["sub"] == str(user.pk)
    assert access["payload"]["roles"] == ["staff"]
    assert access["payload"]["scope"] == " ".join(GROUP_SCOPES["staff"])
    assert refresh == {"ok": False, "code": "ERR_JWS_INVALID"}
    assert forged == {"ok": False, "code": "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"}
    assert untyped == {"ok": False, "code": "ERR_JWT_CLAIM_VALIDATION_FAILED"}


# --- express-oauth2-jwt-bearer, strict ---------------------------------------------------------


def test_express_strict_lets_the_access_token_in_with_its_roles_and_scope(
    node, keyed_server, keyed_http
):
    """Expected: 200 from the app, which sees the user, their roles and scope; the role and
    scope guards of the library let the staff member through."""
    user, pair = _staff(keyed_http)

    with express(node, keyed_server) as app:
        orders = app.get("/orders", headers=_bearer(pair["access"]))
        staff = app.get("/staff", headers=_bearer(pair["access"]))
        write = app.get("/users/write", headers=_bearer(pair["access"]))

    assert orders.status_code == HTTPStatus.OK, orders.text
    assert orders.json() == {
        "sub": str(user.pk),
        "sid": jwt.decode(pair["access"], options={"verify_signature": False})["sid"],
        "roles": ["staff"],
        "scope": "users:read users:write",
    }
    assert (staff.status_code, write.status_code) == (HTTPStatus.OK, HTTPStatus.OK)


def test_express_strict_refuses_the_refresh_token_and_what_the_user_may_not(
    node, keyed, keyed_server, keyed_http
):
    """Attacks: no token; the refresh token as a bearer token; a token signed by our own key
    but typed `JWT` (strict mode wants `at+jwt`); a valid token of a user in no group on a
    staff-only route and a users:write route. Expected: 401 invalid_token with its challenge
    for the first three; the library's refusal for the last two."""
    pair = login(keyed_http, UserFactory().email)
    kid, key = keyed.signer()
    claims = jwt.decode(pair["access"], options={"verify_signature": False})
    untyped = jwt.encode(claims, key, "ES256", headers={"kid": kid, "typ": "JWT"})

    with express(node, keyed_server) as app:
        missing = app.get("/orders")
        refresh = app.get("/orders", headers=_bearer(pair["refresh"]))
        plain_jwt = app.get("/orders", headers=_bearer(untyped))
        staff = app.get("/staff", headers=_bearer(pair["access"]))
        write = app.get("/users/write", headers=_bearer(pair["access"]))
        assert app.get("/orders", headers=_bearer(pair["access"])).status_code == HTTPStatus.OK

    assert missing.status_code == HTTPStatus.UNAUTHORIZED
    assert refresh.status_code == HTTPStatus.UNAUTHORIZED
    assert refresh.json() == {"error": "invalid_token"}
    assert refresh.headers["WWW-Authenticate"].startswith(CHALLENGE)
    assert plain_jwt.status_code == HTTPStatus.UNAUTHORIZED
    assert plain_jwt.json() == {"error": "invalid_token"}
    assert staff.status_code == HTTPStatus.UNAUTHORIZED
    assert staff.json() == {"error": "invalid_token"}
    assert write.status_code == HTTPStatus.FORBIDDEN
    assert write.json() == {"error": "insufficient_scope"}


# --- key rotation --------------------------------------------------------------------------------

JWKS_CACHE_MS = 1000  # the Express app's key-set cache in this test


def test_after_a_rotation_jose_and_express_refuse_a_token_of_the_rotated_out_key(node, rotating):
    """Attack: a token of a key rotated out of the set. Expected: once the service runs on the
    new set (and the Express app's cache of the key set has expired), jose finds no key for it
    (ERR_JWKS_NO_MATCHING_KEY) and the Express app answers 401; new tokens pass both. The app
    keeps running through the rotation, as a real consumer does."""
    email = UserFactory().email
    with express(node, rotating.base, jwks_cache_ms=JWKS_CACHE_MS) as app:
        with rotating.start() as base, httpx.Client(base_url=base, timeout=HTTP_TIMEOUT) as http:
            old = login(http, email)["access"]
            assert jose_verify(node, base, old)[0]["ok"] is True
            assert app.get("/orders", headers=_bearer(old)).status_code == HTTPStatus.OK
            trusted_at = time.monotonic()

        dropped = rotating.rotate_out()

        with rotating.start() as base, httpx.Client(base_url=base, timeout=HTTP_TIMEOUT) as http:
            new = login(http, email)["access"]
            # The app trusts the old key until its cache of the key set expires, as documented.
            time.sleep(max(0.0, trusted_at + JWKS_CACHE_MS / 1000 - time.monotonic()))
            old_verdict, new_verdict = jose_verify(node, base, old, new)
            refused = app.get("/orders", headers=_bearer(old))
            accepted = app.get("/orders", headers=_bearer(new))

    assert jwt.get_unverified_header(old)["kid"] == dropped
    assert old_verdict == {"ok": False, "code": "ERR_JWKS_NO_MATCHING_KEY"}
    assert new_verdict["ok"] is True
    assert refused.status_code == HTTPStatus.UNAUTHORIZED
    assert refused.json() == {"error": "invalid_token"}
    assert accepted.status_code == HTTPStatus.OK, accepted.text
