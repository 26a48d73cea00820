"""GET /api/me/: the bearer's account for a good access token; 401 for every bad one.

Each row of the table is an attack or a stale credential, and the expected answer is always
the same: 401, {"detail": "Token is invalid or expired.", "code": "invalid_token"}, and
`WWW-Authenticate: Bearer error="invalid_token"`. Forged tokens are built with PyJWT here;
tokens whose only flaw is one claim are signed with the service's real key, so that the claim
check, not the signature, is what refuses them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from accounts.models import User
from tests.factories import UserFactory
from tests.helpers import (
    INVALID_TOKEN,
    TOKEN_REUSED,
    assert_unauthorized,
    claims_of,
    hs256_with_public_key,
    me,
    other_ec_key,
    refresh,
    sign,
    signer,
    unsigned,
)

pytestmark = pytest.mark.django_db

ME = "/api/me/"
ACCESS_LIFETIME = timedelta(minutes=5)


@dataclass
class Ctx:
    api: Any
    user: User
    access: str
    refresh: str
    clock: Any

    @property
    def claims(self) -> dict[str, Any]:
        return claims_of(self.access)

    def with_claims(self, **changes: Any) -> dict[str, Any]:
        claims = {**self.claims, **changes}
        return {name: value for name, value in claims.items() if value is not None}


@pytest.fixture
def ctx(api, user, login, time_machine) -> Ctx:
    pair = login(user)
    return Ctx(
        api=api, user=user, access=pair["access"], refresh=pair["refresh"], clock=time_machine
    )


def _bearer(token: str) -> str:
    return f"Bearer {token}"


def _expired(ctx: Ctx) -> str:
    ctx.clock.move_to(datetime.now(UTC) + ACCESS_LIFETIME + timedelta(seconds=1))
    return _bearer(ctx.access)


def _dead_session(ctx: Ctx) -> str:
    """Reuse detection ends the session: its access token must die with it."""
    assert refresh(ctx.api, ctx.refresh).status_code == HTTPStatus.OK
    ctx.clock.move_to(datetime.now(UTC) + timedelta(minutes=1))  # past the grace window
    assert refresh(ctx.api, ctx.refresh).json() == TOKEN_REUSED
    ctx.clock.move_to(datetime.now(UTC) - timedelta(minutes=1))  # the access token is fresh
    return _bearer(ctx.access)


def _bad_signature(ctx: Ctx) -> str:
    return _bearer(sign(ctx.claims, key=other_ec_key()))


def _embedded_jwk(ctx: Ctx) -> str:
    """The attacker's own key, offered in the header (`jwk`), must not be trusted."""
    key = other_ec_key()
    jwk = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return _bearer(sign(ctx.claims, key=key, jwk=jwk))


def _rs256_with_right_kid(ctx: Ctx) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid, _ = signer()
    headers = {"kid": kid, "typ": "at+jwt"}
    return _bearer(jwt.encode(ctx.claims, key, algorithm="RS256", headers=headers))


def _tampered_payload(ctx: Ctx) -> str:
    other = UserFactory()
    header, _, signature = ctx.access.split(".")
    forged = sign(ctx.with_claims(sub=str(other.pk))).split(".")[1]
    return _bearer(f"{header}.{forged}.{signature}")


def _other_users_session(ctx: Ctx) -> str:
    """A real sid, but claimed for another user: the session belongs to someone else."""
    other = UserFactory()
    return _bearer(sign(ctx.with_claims(sub=str(other.pk))))


def _deactivated(ctx: Ctx) -> str:
    User.objects.filter(pk=ctx.user.pk).update(is_active=False)
    return _bearer(ctx.access)


def _deleted(ctx: Ctx) -> str:
    User.objects.filter(pk=ctx.user.pk).delete()
    return _bearer(ctx.access)


BAD_TOKENS = [
    pytest.param(lambda ctx: None, id="missing-header"),
    pytest.param(lambda ctx: f"Basic {ctx.access}", id="wrong-scheme-basic"),
    pytest.param(lambda ctx: f"Token {ctx.access}", id="wrong-scheme-token"),
    pytest.param(lambda ctx: "Bearer", id="bearer-without-token"),
    pytest.param(lambda ctx: "Bearer not-a-jwt", id="malformed-not-a-jwt"),
    pytest.param(lambda ctx: "Bearer a.b.c", id="malformed-three-parts"),
    pytest.param(lambda ctx: _bearer(ctx.access[:-6]), id="truncated-signature"),
    pytest.param(_tampered_payload, id="tampered-payload-original-signature"),
    pytest.param(_bad_signature, id="signed-by-another-key-with-right-kid"),
    pytest.param(_embedded_jwk, id="attacker-key-in-jwk-header"),
    pytest.param(_rs256_with_right_kid, id="rs256-with-right-kid"),
    pytest.param(lambda ctx: _bearer(unsigned(ctx.claims)), id="alg-none"),
    pytest.param(
        lambda ctx: _bearer(hs256_with_public_key(ctx.claims)), id="hs256-signed-with-public-key"
    ),
    pytest.param(_expired, id="expired"),
    pytest.param(
        lambda ctx: _bearer(sign(ctx.with_claims(exp=int(datetime.now(UTC).timestamp()) - 1))),
        id="expired-exp-claim",
    ),
    pytest.param(
        lambda ctx: _bearer(sign(ctx.with_claims(iss="https://evil.example"))), id="wrong-issuer"
    ),
    pytest.param(
        lambda ctx: _bearer(sign(ctx.with_claims(aud="another-service"))), id="wrong-audience"
    ),
    pytest.param(lambda ctx: _bearer(sign(ctx.with_claims(aud=None))), id="no-audience"),
    pytest.param(lambda ctx: _bearer(sign(ctx.with_claims(exp=None))), id="no-exp"),
    pytest.param(lambda ctx: _bearer(sign(ctx.with_claims(sid=None))), id="no-session-id"),
    pytest.param(lambda ctx: _bearer(sign(ctx.with_claims(client_id=None))), id="no-client-id"),
    pytest.param(lambda ctx: _bearer(sign(ctx.claims, typ="JWT")), id="typ-jwt-not-at+jwt"),
    pytest.param(lambda ctx: _bearer(sign(ctx.claims, typ="")), id="no-typ-header"),
    pytest.param(lambda ctx: _bearer(sign(ctx.with_claims(sub=12345))), id="sub-not-a-string"),
    pytest.param(
        lambda ctx: _bearer(sign(ctx.with_claims(sid=uuid.uuid4().hex))), id="unknown-session"
    ),
    pytest.param(_other_users_session, id="session-of-another-user"),
    pytest.param(lambda ctx: _bearer(ctx.refresh), id="refresh-token-as-access"),
    pytest.param(_dead_session, id="session-ended-by-reuse-detection"),
    pytest.param(lambda ctx: _bearer(sign(ctx.claims, kid="no-such-key")), id="unknown-kid"),
    pytest.param(lambda ctx: _bearer(sign(ctx.claims, kid="")), id="no-kid"),
    pytest.param(_deactivated, id="user-deactivated"),
    pytest.param(_deleted, id="user-deleted"),
]


@pytest.mark.parametrize("make_header", BAD_TOKENS)
def test_bad_token_is_answered_401_invalid_token(ctx, make_header):
    """Attack: every forged, stale, misplaced or missing bearer token.
    Expected: 401 invalid_token with the challenge."""
    header = make_header(ctx)
    extra = {} if header is None else {"HTTP_AUTHORIZATION": header}

    assert_unauthorized(ctx.api.get(ME, **extra), INVALID_TOKEN)


def test_the_forged_tokens_differ_from_a_good_one_only_by_their_flaw(ctx):
    """The table is honest: the same claims signed the same way are accepted."""
    response = ctx.api.get(ME, HTTP_AUTHORIZATION=_bearer(sign(ctx.claims)))

    assert response.status_code == HTTPStatus.OK


def test_me_answers_the_bearers_account_in_one_query(
    api, login, time_machine, django_assert_num_queries
):
    joined = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    user = UserFactory(email="ada@example.com", date_joined=joined)
    time_machine.move_to(datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=UTC), tick=False)
    access = login(user)["access"]

    with django_assert_num_queries(1):
        response = me(api, access)

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {
        "id": str(user.pk),
        "email": "ada@example.com",
        "email_verified": False,
        "is_active": True,
        "date_joined": "2030-01-01T12:00:00Z",
        "last_login": "2030-01-02T03:04:05.678Z",
    }
