"""Cases of the security checklist that held before without a test of their own: odd JWT
headers and claims, the token answers' cache headers, Redis wiped, and the refresh race
repeated."""

from __future__ import annotations

import base64
import json
import threading
import time
from http import HTTPStatus
from typing import Any

import pytest
from django.db import connection
from jwt.algorithms import ECAlgorithm

from accounts import sessions
from accounts.exceptions import InvalidToken, TokenReused
from accounts.types import Caller
from tests.factories import PASSWORD, UserFactory
from tests.helpers import (
    INVALID_TOKEN,
    assert_unauthorized,
    claims_of,
    login,
    me,
    refresh,
    sign,
    signer,
)

pytestmark = pytest.mark.django_db

RACE_ROUNDS = 100
RACERS = 4
HOUR = 3600


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _signed_under(token: str, header: dict[str, Any]) -> str:
    """The token's payload under another header, signed ES256 by our own key over that header:
    only the header's flaw can make it fail."""
    _, payload = token.split(".")[:2]
    signing_input = f"{_b64(header)}.{payload}".encode()
    signature = ECAlgorithm(ECAlgorithm.SHA256).sign(signing_input, signer()[1])
    return f"{signing_input.decode()}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def _unsigned_under(token: str, header: dict[str, Any]) -> str:
    """The token's payload under another header, with no signature at all."""
    return f"{_b64(header)}.{token.split('.')[1]}."


@pytest.fixture
def pair(client) -> dict[str, Any]:
    return login(client, UserFactory().email, PASSWORD).json()


def _kid() -> str:
    return signer()[0]


@pytest.mark.parametrize(
    "header",
    [
        pytest.param({"typ": "at+jwt"}, id="alg-absent"),
        pytest.param({"alg": None, "typ": "at+jwt"}, id="alg-null"),
    ],
)
def test_an_alg_that_is_absent_or_null_is_refused_even_with_our_signature(client, pair, header):
    """Attack: a header with no `alg` (or null), signed with our own ES256 key, in the hope
    that the verifier fills in an algorithm. Expected: 401 invalid_token."""
    forged = _signed_under(pair["access"], {**header, "kid": _kid()})

    assert_unauthorized(me(client, forged))


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_every_case_of_alg_none_is_refused(client, pair, alg):
    """Attack: the genuine payload with `alg` none in any letter case and no signature.
    Expected: 401 invalid_token."""
    forged = _unsigned_under(pair["access"], {"alg": alg, "typ": "at+jwt", "kid": _kid()})

    assert_unauthorized(me(client, forged))


def test_the_header_forgery_helper_makes_tokens_we_accept(client, pair):
    """The table above is honest: the same helper with a sound header is accepted."""
    genuine = _signed_under(pair["access"], {"alg": "ES256", "typ": "at+jwt", "kid": _kid()})

    assert me(client, genuine).status_code == HTTPStatus.OK


def test_a_token_not_valid_before_a_future_time_is_refused(client, pair):
    """Attack: a signed token whose `nbf` lies an hour ahead. Expected: 401 invalid_token."""
    claims = {**claims_of(pair["access"]), "nbf": int(time.time()) + HOUR}

    assert_unauthorized(me(client, sign(claims)))


def test_a_critical_header_extension_we_do_not_know_is_refused(client, pair):
    """Attack: a token signed by our key whose header marks an unknown extension critical
    (RFC 7515 `crit`). Expected: 401 invalid_token: a recipient must refuse what it cannot
    honour."""
    forged = sign(claims_of(pair["access"]), crit=["exp-extended"], **{"exp-extended": 1})

    assert_unauthorized(me(client, forged))


@pytest.mark.parametrize("issuer", ["auth-servic", "auth-service-evil", "auth-service/x"])
def test_an_issuer_that_only_starts_like_ours_is_refused(client, pair, issuer):
    """Attack: a token whose `iss` is a prefix or an extension of ours. Expected: 401
    invalid_token (the issuer is compared whole)."""
    assert_unauthorized(me(client, sign({**claims_of(pair["access"]), "iss": issuer})))


def test_token_answers_are_never_cached(client):
    user = UserFactory()

    logged_in = login(client, user.email, PASSWORD)
    rotated = refresh(client, logged_in.json()["refresh"])

    for answer in (logged_in, rotated):
        assert answer.status_code == HTTPStatus.OK
        assert (answer["Cache-Control"], answer["Pragma"]) == ("no-store", "no-cache")


def test_every_token_dies_when_redis_is_wiped(client, pair, token_store):
    """Fault: the token store is emptied (FLUSHDB, a restore from nothing). Expected: every
    access and refresh token is refused (401 invalid_token): missing state is never "valid"."""
    token_store.flushdb()

    assert_unauthorized(me(client, pair["access"]))
    assert refresh(client, pair["refresh"]).json() == INVALID_TOKEN


@pytest.mark.django_db(transaction=True)
def test_of_concurrent_refreshes_exactly_one_rotates_a_hundred_times_over(settings):
    """Attack: the same refresh token sent by several clients at once, a hundred times over,
    with the grace window off. Expected: in every round exactly one refresh rotates; the first
    one after it is refused as reuse and ends the session; the rest find no session (invalid);
    never two successors."""
    settings.REFRESH_REUSE_GRACE = type(settings.REFRESH_REUSE_GRACE)(0)
    caller = Caller(user_agent="race", ip="127.0.0.1")
    user = UserFactory()
    for _ in range(RACE_ROUNDS):
        token = sessions.session_start(user=user, caller=caller).refresh
        outcomes = _race(token, caller)
        expected = ["invalid"] * (RACERS - 2) + ["reused", "rotated"]
        assert sorted(outcomes) == expected, outcomes


def _race(token: str, caller: Caller) -> list[str]:
    start = threading.Barrier(RACERS)
    outcomes: list[str] = []

    def one() -> None:
        start.wait()
        try:
            sessions.session_refresh(refresh=token, caller=caller)
        except TokenReused:
            outcomes.append("reused")
        except InvalidToken:
            outcomes.append("invalid")
        else:
            outcomes.append("rotated")
        finally:
            connection.close()  # this thread's, back to the pool

    threads = [threading.Thread(target=one) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.parametrize("path", ["/api/openapi.json", "/api/docs", "/admin/login/", "/nope/"])
def test_every_response_carries_a_content_security_policy(client, settings, path):
    """Attack: script injected into a page the service serves (the admin, Swagger UI).
    Expected: the browser is told to run only this origin's scripts, never in a frame."""
    policy = client.get(path)["Content-Security-Policy"]

    assert policy == settings.CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "'unsafe-eval'" not in policy
