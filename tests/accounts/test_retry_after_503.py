"""A refresh whose answer was lost (Redis answered after the client's time-out, the client got
503) must not punish the client's retry: the rotation already happened, and the retry of the
same token is its immediate parent, answered from the grace window with the same successor."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from accounts import sessions, token_store, tokens
from accounts.exceptions import TokenReused
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

GRACE = timedelta(seconds=10)
LIFETIME_MS = 86_400_000


def _apply_rotation_whose_answer_is_lost(user, pair) -> str:
    """Run the rotation in Redis exactly as a refresh does, and drop its answer."""
    user_id, session_id, counter = tokens.refresh_decode(pair.refresh)
    rotation = token_store.session_rotate(
        user_id=user_id,
        session_id=session_id,
        counter=counter,
        generation=user.session_generation,
        now_ms=time.time_ns() // 1_000_000,
        lifetime_ms=LIFETIME_MS,
        grace_ms=int(GRACE.total_seconds() * 1000),
        user_agent="pytest",
        ip="127.0.0.1",
    )
    assert rotation.outcome == "rotated"
    return tokens.refresh_encode(user_id=user_id, session_id=session_id, counter=rotation.counter)


def test_a_retry_after_a_lost_answer_gets_the_successor_it_missed(start, caller, clock, settings):
    """Fault: the rotation was applied but its answer never reached the client (503 after
    REDIS_TIMEOUT). Expected: the retry of the same refresh token, within the grace window, is
    answered with the successor the lost answer carried (byte-identical), and no reuse is
    recorded; the successor then rotates normally."""
    settings.REFRESH_REUSE_GRACE = GRACE
    user = UserFactory()
    pair = start(user)
    lost = _apply_rotation_whose_answer_is_lost(user, pair)

    retried = sessions.session_refresh(refresh=pair.refresh, caller=caller)

    assert retried.refresh == lost
    assert sessions.session_refresh(refresh=retried.refresh, caller=caller).refresh != lost


def test_the_retry_window_is_the_grace_window(start, caller, clock, settings):
    """Fault: as above, but the client retries after the grace window. Expected: it reads as a
    replay (TokenReused, the session ends), which is why REFRESH_REUSE_GRACE must cover a
    client's retry after a 503 (default 10 s, RETRY_AFTER_SECONDS 5 s)."""
    settings.REFRESH_REUSE_GRACE = GRACE
    user = UserFactory()
    pair = start(user)
    _apply_rotation_whose_answer_is_lost(user, pair)
    clock.shift(GRACE + timedelta(milliseconds=1))

    with pytest.raises(TokenReused):
        sessions.session_refresh(refresh=pair.refresh, caller=caller)


def test_the_default_grace_covers_the_retry_after_a_503(settings):
    """A client told `Retry-After: RETRY_AFTER_SECONDS` retries inside the grace window."""
    assert timedelta(seconds=settings.RETRY_AFTER_SECONDS) < settings.REFRESH_REUSE_GRACE
