"""The session lifecycle called directly: start, the me path, refresh (rotation, grace window,
reuse, idle and absolute deadlines), logout, end one, end all, and the list."""

from __future__ import annotations

from datetime import timedelta

import pytest

from accounts import sessions
from accounts.exceptions import InvalidToken, SessionNotFound, TokenReused
from accounts.models import AuditEvent, User
from accounts.types import Caller, Principal
from tests.factories import UserFactory
from tests.helpers import T0

pytestmark = pytest.mark.django_db

GRACE = timedelta(seconds=10)  # REFRESH_REUSE_GRACE's default
MAX_LIFETIME = timedelta(days=30)  # SESSION_MAX_LIFETIME's default
REFRESH_LIFETIME = timedelta(days=1)  # REFRESH_TOKEN_LIFETIME's default
ACCESS_LIFETIME = timedelta(minutes=5)  # ACCESS_TOKEN_LIFETIME's default
DAY_SECONDS = 86_400
REFRESHES_IN_30_DAYS_EVERY_23_HOURS = 31  # 31 * 23 h < 30 days < 32 * 23 h


def _refresh(pair, caller):
    return sessions.session_refresh(refresh=pair.refresh, caller=caller)


def _reused(pair, caller) -> None:
    with pytest.raises(TokenReused):
        _refresh(pair, caller)


def test_defaults_are_what_these_tests_assume(settings):
    assert settings.REFRESH_REUSE_GRACE == GRACE
    assert settings.SESSION_MAX_LIFETIME == MAX_LIFETIME
    assert settings.REFRESH_TOKEN_LIFETIME == REFRESH_LIFETIME
    assert settings.ACCESS_TOKEN_LIFETIME == ACCESS_LIFETIME


# --- start and the me path -------------------------------------------------------------------


def test_start_opens_a_listed_session_and_returns_its_first_pair(user, clock):
    pair = sessions.session_start(user=user, caller=Caller(user_agent="Phone/1.0", ip="10.0.0.7"))

    assert (pair.expires_in, pair.refresh_expires_in) == (300, DAY_SECONDS)
    [session] = sessions.sessions_list(user=user)
    assert (session.session_id, session.user_agent, session.ip) == (
        pair.session_id,
        "Phone/1.0",
        "10.0.0.7",
    )
    assert (session.created, session.last_used, session.expires) == (
        T0,
        T0,
        T0 + REFRESH_LIFETIME,
    )


def test_access_authenticate_makes_exactly_one_query(user, start, django_assert_num_queries):
    pair = start(user)

    with django_assert_num_queries(1):
        principal = sessions.access_authenticate(pair.access)

    assert isinstance(principal, Principal)
    assert principal.user == user
    assert (principal.claims.user_id, principal.claims.session_id) == (
        str(user.pk),
        pair.session_id,
    )


def test_an_access_token_works_until_its_last_second(user, start, clock):
    pair = start(user)

    clock.move_to(T0 + ACCESS_LIFETIME - timedelta(seconds=1), tick=False)
    assert sessions.access_authenticate(pair.access).user == user
    clock.move_to(T0 + ACCESS_LIFETIME, tick=False)
    with pytest.raises(InvalidToken):
        sessions.access_authenticate(pair.access)


# --- refresh: rotation and reuse -------------------------------------------------------------


def test_refresh_rotates_to_a_new_pair_of_the_same_session_in_one_query(
    user, caller, start, alive, django_assert_num_queries
):
    first = start(user)

    with django_assert_num_queries(1):
        second = _refresh(first, caller)

    assert second.refresh != first.refresh
    assert second.access != first.access
    assert second.session_id == first.session_id
    assert (second.expires_in, second.refresh_expires_in) == (300, DAY_SECONDS)
    alive(second)


def test_a_replayed_refresh_token_ends_the_whole_session(
    user, caller, start, dead, alive, settings
):
    """Attack: a stolen refresh token used after its owner already rotated it (grace off).
    Expected: TokenReused, and the whole session dies: the newest refresh token and every
    access token of the session stop working; other sessions are untouched."""
    settings.REFRESH_REUSE_GRACE = timedelta(0)
    first, other_session = start(user), start(user)
    second = _refresh(first, caller)

    _reused(first, caller)

    dead(second)
    with pytest.raises(InvalidToken):
        sessions.access_authenticate(first.access)
    alive(other_session)
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.REFRESH_REUSE).count() == 1


def test_a_grandparent_replayed_within_the_window_is_reuse(user, caller, start, dead, clock):
    """Attack: an older token (not the immediate parent) replayed within seconds.
    Expected: grace covers only the immediate parent: TokenReused, session ended."""
    grandparent = start(user)
    clock.shift(timedelta(seconds=1))
    parent = _refresh(grandparent, caller)
    clock.shift(timedelta(seconds=1))
    child = _refresh(parent, caller)
    clock.shift(timedelta(seconds=1))

    _reused(grandparent, caller)

    dead(child)


# --- refresh: the grace window ---------------------------------------------------------------


@pytest.fixture
def rotated(user, caller, start, clock):
    """A session opened at T0 and rotated an hour later: (parent, child)."""
    parent = start(user)
    clock.shift(timedelta(hours=1))
    return parent, _refresh(parent, caller)


def test_the_parent_within_the_window_gets_the_byte_identical_successor(
    rotated, caller, clock, alive
):
    """A lost response retried: the immediate parent within the window (measured from the
    rotation, not the login) gets the current refresh token back, and no reuse is recorded."""
    parent, child = rotated
    clock.shift(GRACE - timedelta(milliseconds=1))

    again = _refresh(parent, caller)

    assert again.refresh == child.refresh
    assert again.session_id == child.session_id
    assert sessions.access_authenticate(again.access).claims.session_id == child.session_id
    assert sessions.access_authenticate(child.access).claims.session_id == child.session_id
    assert not AuditEvent.objects.filter(kind=AuditEvent.Kind.REFRESH_REUSE).exists()
    # The successor handed out twice is still the session's one valid refresh token.
    alive(child)


def test_the_parent_replayed_twice_within_the_window_gets_the_successor_both_times(
    rotated, caller, alive
):
    parent, child = rotated

    replays = [_refresh(parent, caller).refresh for _ in range(2)]

    assert replays == [child.refresh, child.refresh]
    alive(child)


@pytest.mark.parametrize(
    ("grace", "after", "same_successor"),
    [
        pytest.param(None, GRACE - timedelta(seconds=1), True, id="default-inside"),
        pytest.param(None, GRACE, False, id="default-at-the-edge"),
        pytest.param(None, GRACE + timedelta(seconds=1), False, id="default-after"),
        pytest.param(timedelta(seconds=30), timedelta(seconds=29), True, id="30s-inside"),
        pytest.param(timedelta(seconds=30), timedelta(seconds=31), False, id="30s-after"),
    ],
)
def test_the_window_is_honoured_on_both_sides_of_its_edge(
    user, caller, start, alive, dead, clock, settings, grace, after, same_successor
):
    """Attack (the reuse rows): replay a used refresh token outside the window.
    Expected: TokenReused, a refresh_reuse row, and the session ended."""
    if grace is not None:
        settings.REFRESH_REUSE_GRACE = grace
    parent = start(user)
    child = _refresh(parent, caller)
    clock.shift(after)

    if same_successor:
        assert _refresh(parent, caller).refresh == child.refresh
        alive(child)
    else:
        _reused(parent, caller)
        dead(child)
        assert AuditEvent.objects.filter(kind=AuditEvent.Kind.REFRESH_REUSE).count() == 1


def test_grace_off_is_reuse_even_for_a_replay_stamped_before_the_rotation(
    user, caller, start, dead, clock, settings
):
    """Attack: race the winner so that the replay's clock read is earlier.
    Expected: with REFRESH_REUSE_GRACE=0 still TokenReused, never inside a window.

    Two instances (or two threads) read the clock before reaching Redis; the loser's reading
    can be a millisecond older than the winner's."""
    settings.REFRESH_REUSE_GRACE = timedelta(0)
    parent = start(user)
    clock.shift(timedelta(seconds=1))
    child = _refresh(parent, caller)
    clock.shift(timedelta(milliseconds=-1))

    _reused(parent, caller)

    dead(child)


def test_after_a_reuse_the_parent_gets_nothing_within_the_window(user, caller, start, dead):
    """Once reuse ended the session, the parent inside the window gets nothing either."""
    grandparent = start(user)
    parent = _refresh(grandparent, caller)
    child = _refresh(parent, caller)
    _reused(grandparent, caller)

    with pytest.raises(InvalidToken) as refused:
        _refresh(parent, caller)

    assert refused.type is InvalidToken
    dead(child)


@pytest.mark.parametrize("ending", ["logout", "end-all"])
def test_the_parent_cannot_revive_a_session_ended_within_the_window(
    rotated, user, caller, dead, ending
):
    """Attack: after the owner logs out, replay the parent within the window.
    Expected: InvalidToken; the session stays dead."""
    parent, child = rotated
    if ending == "logout":
        sessions.session_logout(refresh=child.refresh, caller=caller)
    else:
        sessions.sessions_end_all(user=user, kind=AuditEvent.Kind.LOGOUT_ALL)

    with pytest.raises(InvalidToken):
        _refresh(parent, caller)

    dead(child)


# --- refresh: who may --------------------------------------------------------------------


def test_an_inactive_user_cannot_refresh_and_reactivation_revives_nothing(
    user, caller, start, dead
):
    pair = start(user)
    User.objects.filter(pk=user.pk).update(is_active=False)

    with pytest.raises(InvalidToken):
        _refresh(pair, caller)

    # The session was ended, not just refused: reactivation does not bring it back.
    User.objects.filter(pk=user.pk).update(is_active=True)
    dead(pair)


def test_a_deleted_user_cannot_refresh(user, caller, start):
    pair = start(user)
    User.objects.filter(pk=user.pk).delete()

    with pytest.raises(InvalidToken):
        _refresh(pair, caller)


# --- idle and absolute deadlines -------------------------------------------------------------


@pytest.mark.parametrize(
    ("idle", "lives"),
    [
        pytest.param(REFRESH_LIFETIME - timedelta(seconds=1), True, id="a-second-before"),
        pytest.param(REFRESH_LIFETIME, False, id="at-the-refresh-lifetime"),
        pytest.param(REFRESH_LIFETIME + timedelta(seconds=1), False, id="a-second-after"),
    ],
)
def test_an_idle_session_ends_after_the_refresh_lifetime(
    user, caller, start, dead, clock, idle, lives
):
    pair = start(user)

    clock.shift(idle)

    if lives:
        assert _refresh(pair, caller).session_id == pair.session_id
    else:
        dead(pair)


def test_the_idle_deadline_slides_with_each_refresh(user, caller, start, clock):
    pair = start(user)
    for _ in range(3):
        clock.shift(REFRESH_LIFETIME - timedelta(minutes=1))
        pair = _refresh(pair, caller)
        assert pair.refresh_expires_in == DAY_SECONDS


def test_refreshing_often_never_outlives_the_absolute_lifetime(user, caller, start, clock):
    """Attack: keep a stolen session alive forever by refreshing every 23 hours.
    Expected: InvalidToken at the absolute deadline, both tokens."""
    pair = start(user)
    deadline = T0 + MAX_LIFETIME
    refreshes = 0
    while True:
        clock.shift(timedelta(hours=23))
        try:
            pair = _refresh(pair, caller)
        except InvalidToken:
            break
        refreshes += 1
        now = T0 + timedelta(hours=23 * refreshes)
        assert now + timedelta(seconds=pair.refresh_expires_in) <= deadline

    assert refreshes == REFRESHES_IN_30_DAYS_EVERY_23_HOURS
    with pytest.raises(InvalidToken):
        sessions.access_authenticate(pair.access)


def test_the_last_refresh_token_expires_exactly_at_the_absolute_deadline(
    user, caller, start, dead, clock
):
    deadline = T0 + MAX_LIFETIME
    pair = start(user)
    for _ in range(29):
        clock.shift(REFRESH_LIFETIME - timedelta(seconds=1))
        pair = _refresh(pair, caller)
    clock.move_to(deadline - timedelta(hours=1), tick=False)

    last = _refresh(pair, caller)

    assert last.refresh_expires_in == timedelta(hours=1).total_seconds()
    clock.move_to(deadline - timedelta(seconds=1), tick=False)
    final = _refresh(last, caller)
    assert final.refresh_expires_in == 1
    clock.move_to(deadline + timedelta(seconds=1), tick=False)
    dead(final)


def test_an_access_token_dies_with_its_session_at_the_absolute_deadline(
    user, caller, start, dead, clock, settings
):
    """An access token issued just before the deadline stops working at it, not at its exp."""
    settings.SESSION_MAX_LIFETIME = timedelta(hours=2)
    pair = start(user)
    clock.move_to(T0 + timedelta(hours=2) - timedelta(minutes=1), tick=False)
    late = _refresh(pair, caller)
    assert sessions.access_authenticate(late.access).user == user

    clock.move_to(T0 + timedelta(hours=2, seconds=1), tick=False)

    dead(late)


def test_refresh_lifetimes_are_read_at_call_time(user, caller, start, dead, clock, settings):
    settings.REFRESH_TOKEN_LIFETIME = timedelta(minutes=10)
    pair = start(user)

    assert pair.refresh_expires_in == timedelta(minutes=10).total_seconds()
    clock.shift(timedelta(minutes=10, seconds=1))
    dead(pair)


# --- logout, end one, end all ----------------------------------------------------------------


def test_logout_ends_that_session_only(user, caller, start, dead, alive):
    phone, laptop = start(user, agent="Phone/1.0"), start(user, agent="Laptop/2.0")

    sessions.session_logout(refresh=phone.refresh, caller=caller)

    dead(phone)
    alive(laptop)


def test_logout_with_the_rotated_successor_ends_the_session(user, caller, start, dead):
    first = start(user)
    second = _refresh(first, caller)

    sessions.session_logout(refresh=second.refresh, caller=caller)

    with pytest.raises(InvalidToken):
        sessions.access_authenticate(first.access)
    dead(second)


def test_logout_twice_is_silent_and_ends_nothing_else(user, caller, start, alive):
    """Replayed logout: no error, no second audit row, and the other session lives on."""
    phone, laptop = start(user), start(user)
    sessions.session_logout(refresh=phone.refresh, caller=caller)

    sessions.session_logout(refresh=phone.refresh, caller=caller)

    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.LOGOUT).count() == 1
    alive(laptop)


def test_logout_with_another_users_token_ends_only_that_users_session(
    user, caller, start, dead, alive
):
    """Another user's token ends that user's session (it is theirs), never the caller's."""
    mine, theirs = start(user), start(UserFactory())

    sessions.session_logout(refresh=theirs.refresh, caller=caller)

    dead(theirs)
    alive(mine)


def test_logout_with_an_idle_expired_refresh_token_is_silent(user, caller, start, dead, clock):
    pair = start(user)
    clock.shift(timedelta(days=2))

    sessions.session_logout(refresh=pair.refresh, caller=caller)

    dead(pair)
    assert not AuditEvent.objects.filter(kind=AuditEvent.Kind.LOGOUT).exists()


def test_end_one_session_of_the_user(user, caller, start, dead, alive):
    phone, laptop = start(user), start(user)

    sessions.session_end(user=user, session_id=laptop.session_id, caller=caller)

    dead(laptop)
    assert [s.session_id for s in sessions.sessions_list(user=user)] == [phone.session_id]
    alive(phone)


def test_ending_another_users_or_an_ended_session_is_not_found(user, caller, start, alive):
    """Attack: end another user's session by its id. Expected: SessionNotFound, it lives."""
    victim = start(UserFactory())
    mine, ended = start(user), start(user)
    sessions.session_end(user=user, session_id=ended.session_id, caller=caller)

    for session_id in (victim.session_id, ended.session_id):
        with pytest.raises(SessionNotFound):
            sessions.session_end(user=user, session_id=session_id, caller=caller)

    alive(victim)
    alive(mine)


def test_end_all_ends_every_session_and_its_rotated_successors(user, caller, start, dead, alive):
    devices = [start(user, agent=f"Device/{n}") for n in range(3)]
    rotated = _refresh(devices[0], caller)
    bystander = start(UserFactory())

    sessions.sessions_end_all(user=user, kind=AuditEvent.Kind.LOGOUT_ALL, caller=caller)

    for pair in (*devices[1:], rotated):
        dead(pair)
    with pytest.raises(InvalidToken):
        sessions.access_authenticate(devices[0].access)
    alive(bystander)
    user.refresh_from_db()
    assert sessions.sessions_list(user=user) == []


def test_after_end_all_a_new_session_works(user, start, dead, alive):
    old = start(user)
    sessions.sessions_end_all(user=user, kind=AuditEvent.Kind.LOGOUT_ALL)

    new = start(user)

    alive(new)
    dead(old)


def test_end_all_moves_the_generation_so_nothing_in_redis_must_succeed(
    user, start, dead, token_store
):
    """The sessions die by the PostgreSQL generation; the Redis records are only garbage,
    purged after the commit."""
    pair = start(user)

    sessions.sessions_end_all(user=user, kind=AuditEvent.Kind.LOGOUT_ALL)

    assert User.objects.get(pk=user.pk).session_generation == 1
    assert token_store.keys(f"auth:{{u:{user.pk}}}:*")  # the purge runs on commit only
    dead(pair)


def test_end_all_purges_the_redis_records_on_commit(
    user, start, token_store, django_capture_on_commit_callbacks
):
    start(user)
    start(user)

    with django_capture_on_commit_callbacks(execute=True):
        sessions.sessions_end_all(user=user, kind=AuditEvent.Kind.LOGOUT_ALL)

    # Left: the user's generation floor, which forward auth checks sessions against.
    floor = f"auth:{{u:{user.pk}}}:gen"
    assert token_store.keys(f"auth:{{u:{user.pk}}}:*") == [floor.encode()]
    assert token_store.get(floor) == b"1"


# --- the list --------------------------------------------------------------------------------


def test_the_list_holds_the_users_live_sessions_newest_first(user, caller, start, clock):
    older = start(user, agent="Phone/1.0")
    clock.shift(timedelta(seconds=5))
    newer = start(user, agent="Laptop/2.0")
    ended = start(user)
    sessions.session_logout(refresh=ended.refresh, caller=caller)
    start(UserFactory())

    listed = sessions.sessions_list(user=user)

    assert [(s.session_id, s.user_agent) for s in listed] == [
        (newer.session_id, "Laptop/2.0"),
        (older.session_id, "Phone/1.0"),
    ]


def test_an_idle_session_leaves_the_list(user, start, clock):
    idle = start(user)
    clock.shift(REFRESH_LIFETIME - timedelta(seconds=1))
    active = start(user)
    assert [s.session_id for s in sessions.sessions_list(user=user)] == [
        active.session_id,
        idle.session_id,
    ]
    clock.shift(timedelta(seconds=2))

    assert [s.session_id for s in sessions.sessions_list(user=user)] == [active.session_id]
