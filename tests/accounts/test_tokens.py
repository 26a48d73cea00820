"""The token codec: access tokens are at+jwt ES256 JWTs, refresh tokens are opaque and MAC'd."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from django.test import override_settings

from accounts import tokens
from accounts.exceptions import InvalidToken
from accounts.types import AccessClaims
from tests.helpers import T0, claims_of, header_of, sign, signer

USER_ID = str(uuid.UUID("0b5e2f4c-3f1e-4d57-9a0e-6a1f3c2b9d10"))
SESSION_ID = uuid.UUID("9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a").hex
ACCESS_LIFETIME = timedelta(minutes=5)
REQUIRED_CLAIMS = ["exp", "iat", "jti", "sub", "sid", "iss", "aud", "client_id"]
COUNTER = 7
# The decoded refresh token: user id (16), session id (16), counter (8), HMAC-SHA256 (32).
USER_BYTE, SESSION_BYTE, COUNTER_BYTE, MAC_BYTE = 0, 16, 39, 71


def _access() -> str:
    return tokens.access_encode(user_id=USER_ID, session_id=SESSION_ID)


def _refresh(counter: int = COUNTER) -> str:
    return tokens.refresh_encode(user_id=USER_ID, session_id=SESSION_ID, counter=counter)


def _with_byte_flipped(token: str, index: int) -> str:
    body = token.removeprefix("rt1_")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[index] ^= 1
    return "rt1_" + base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


# --- access tokens ---------------------------------------------------------------------------


def test_an_access_token_is_an_es256_at_jwt_under_the_signers_kid():
    kid, _ = signer()

    assert header_of(_access()) == {"alg": "ES256", "kid": kid, "typ": "at+jwt"}


def test_an_access_token_carries_every_required_claim(time_machine):
    time_machine.move_to(T0, tick=False)

    claims = claims_of(_access())

    assert set(claims) == {*REQUIRED_CLAIMS, "token_type"}
    now = int(T0.timestamp())
    assert claims == {
        "sub": USER_ID,
        "sid": SESSION_ID,
        "iss": settings.JWT_ISSUER,
        "aud": settings.JWT_AUDIENCE,
        "client_id": settings.JWT_CLIENT_ID,
        "token_type": "access",
        "iat": now,
        "exp": now + int(ACCESS_LIFETIME.total_seconds()),
        "jti": claims["jti"],
    }
    assert claims["jti"] != claims_of(_access())["jti"]


def test_access_decode_returns_whose_token_of_which_session_until_when(time_machine):
    time_machine.move_to(T0, tick=False)

    claims = tokens.access_decode(_access())

    expires = int((T0 + ACCESS_LIFETIME).timestamp())
    assert claims == AccessClaims(user_id=USER_ID, session_id=SESSION_ID, expires_at=expires)


def test_a_remembered_token_still_expires_on_time(time_machine):
    """The verified-token cache skips the signature, never the expiry check."""
    time_machine.move_to(T0, tick=False)
    token = _access()
    tokens.access_decode(token)

    time_machine.move_to(T0 + ACCESS_LIFETIME - timedelta(seconds=1), tick=False)
    assert tokens.access_decode(token).user_id == USER_ID
    time_machine.move_to(T0 + ACCESS_LIFETIME, tick=False)
    with pytest.raises(InvalidToken):
        tokens.access_decode(token)


@pytest.mark.parametrize("claim", REQUIRED_CLAIMS)
def test_an_access_token_without_a_required_claim_is_refused(claim):
    """Attack: a token signed with the real key but missing one claim.
    Expected: InvalidToken, whichever claim it is."""
    claims = claims_of(_access())
    del claims[claim]

    with pytest.raises(InvalidToken):
        tokens.access_decode(sign(claims))


def test_the_same_claims_signed_the_same_way_are_accepted():
    """The forgery tests are honest: re-signing unchanged claims gives a good token."""
    assert tokens.access_decode(sign(claims_of(_access()))).session_id == SESSION_ID


def test_an_access_token_is_not_a_refresh_token():
    """Attack: an access token given where a refresh token is expected. Expected: refused."""
    with pytest.raises(InvalidToken):
        tokens.refresh_decode(_access())


# --- refresh tokens --------------------------------------------------------------------------


def test_a_refresh_token_names_its_user_session_and_counter():
    token = _refresh()

    assert token.startswith("rt1_")
    assert tokens.refresh_decode(token) == (USER_ID, SESSION_ID, COUNTER)


def test_a_refresh_token_is_deterministic():
    """The grace window hands back the byte-identical successor: same inputs, same token."""
    assert _refresh() == _refresh()
    assert _refresh(COUNTER + 1) != _refresh()


def test_a_refresh_token_is_not_a_jwt():
    """Attack: a refresh token offered to a JWT verifier. Expected: no verifier can read it."""
    with pytest.raises(jwt.InvalidTokenError):
        jwt.decode(_refresh(), options={"verify_signature": False})
    with pytest.raises(InvalidToken):
        tokens.access_decode(_refresh())


def _under_another_secret() -> str:
    with override_settings(SECRET_KEY="another secret key, not the service's one at all"):
        return _refresh()


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda: _with_byte_flipped(_refresh(), USER_BYTE), id="user-id-changed"),
        pytest.param(lambda: _with_byte_flipped(_refresh(), SESSION_BYTE), id="session-changed"),
        pytest.param(lambda: _with_byte_flipped(_refresh(), COUNTER_BYTE), id="counter-changed"),
        pytest.param(lambda: _with_byte_flipped(_refresh(), MAC_BYTE), id="mac-changed"),
        pytest.param(lambda: _refresh()[:-1], id="truncated-by-one"),
        pytest.param(lambda: _refresh()[:40], id="truncated-to-half"),
        pytest.param(lambda: _refresh() + "A", id="one-character-more"),
        pytest.param(lambda: "rt1_" + "A" * 200, id="over-long"),
        pytest.param(lambda: "rt2_" + _refresh()[4:], id="other-prefix"),
        pytest.param(lambda: _refresh()[4:], id="no-prefix"),
        pytest.param(lambda: "rt1_!!!!", id="not-base64"),
        pytest.param(lambda: "", id="empty"),
        pytest.param(_under_another_secret, id="mac-under-another-secret"),
    ],
)
def test_a_tampered_or_foreign_refresh_token_is_refused(make_token):
    """Attack: a refresh token edited, cut, or MAC'd under another key. Expected: InvalidToken."""
    with pytest.raises(InvalidToken):
        tokens.refresh_decode(make_token())
