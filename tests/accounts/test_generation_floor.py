"""The user's generation floor in Redis: what lets forward auth check a session with no
PostgreSQL read, and how it stays right when Redis or a commit fails.

Every end-all (logout-all, password change, deactivation, deletion) raises the floor inside its
transaction, before the commit; a session opened in an older generation is dead for every
check from then on."""

from __future__ import annotations

import pytest
from django.db import transaction

from accounts import services, sessions, token_store
from accounts.exceptions import InvalidCredentials, InvalidToken, StoreUnavailable
from accounts.models import AuditEvent, User
from accounts.types import Caller
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CLOSED = "redis://127.0.0.1:9/0"


def _floor(user: User) -> int:
    return int(token_store.client().get(f"auth:{{u:{user.pk}}}:gen") or -1)


@pytest.mark.parametrize(
    "end",
    [
        lambda user: sessions.sessions_end_all(user=user, kind=AuditEvent.Kind.LOGOUT_ALL),
        lambda user: services.user_deactivate(user=user),
    ],
    ids=["logout-all", "deactivation"],
)
def test_an_ended_session_fails_forward_auth_with_no_sql(end, django_assert_num_queries):
    """Attack: a gateway keeps accepting a token after its user logged out everywhere or was
    deactivated. Expected: forward auth refuses it (InvalidToken, 401) without reading SQL."""
    user = UserFactory()
    pair = sessions.session_start(user=user, caller=Caller())
    assert sessions.access_verify(pair.access).user_id == str(user.pk)

    end(user)

    with django_assert_num_queries(0), pytest.raises(InvalidToken):
        sessions.access_verify(pair.access)
    assert _floor(user) == User.objects.get(pk=user.pk).session_generation


def test_without_redis_an_end_all_changes_nothing(settings):
    """Fault: Redis down when the password changes. Expected: StoreUnavailable (503) and the
    change rolled back: the generation is as before, and so the old session is live again once
    Redis is back (nothing half-done: never changed-but-alive)."""
    user = UserFactory()
    pair = sessions.session_start(user=user, caller=Caller())
    url = settings.TOKEN_STORE_URL
    settings.TOKEN_STORE_URL = CLOSED

    with pytest.raises(StoreUnavailable):
        _change_password(user, "a brand new passphrase 42")

    settings.TOKEN_STORE_URL = url
    fresh = User.objects.get(pk=user.pk)
    assert fresh.session_generation == 0
    assert not fresh.check_password("a brand new passphrase 42")
    assert sessions.access_verify(pair.access).session_id == pair.session_id


def _change_password(user: User, password: str) -> None:
    # What every password change does (services, the admin's form): one transaction.
    with transaction.atomic():
        user.set_password(password)
        user.save()
        sessions.sessions_end_all(user=user, kind=AuditEvent.Kind.PASSWORD_CHANGED)


def test_a_floor_left_ahead_by_a_failed_commit_is_caught_up_by_the_next_login():
    """Fault: the floor rose, then the end-all's commit failed (PostgreSQL still says 0).
    Expected: the old session is dead (the floor says so), and the next login works, in the
    floor's generation, which PostgreSQL now has too."""
    user = UserFactory()
    old = sessions.session_start(user=user, caller=Caller())
    token_store.generation_raise(user_id=str(user.pk), generation=1, keep_ms=60_000)

    new = sessions.session_start(user=User.objects.get(pk=user.pk), caller=Caller())

    with pytest.raises(InvalidToken):
        sessions.access_verify(old.access)
    with pytest.raises(InvalidToken):
        sessions.access_authenticate(old.access)
    assert sessions.access_authenticate(new.access).user.session_generation == 1
    assert User.objects.get(pk=user.pk).session_generation == 1


def test_a_login_checked_against_a_password_changed_meanwhile_opens_nothing():
    """Race: a login verified the old password while a password change was committing (its
    floor already up). Expected: the session does not open (InvalidCredentials), since the
    row's password is no longer the one verified; the generation is untouched."""
    user = UserFactory()
    stale = User.objects.get(pk=user.pk)  # what the login read and verified
    token_store.generation_raise(user_id=str(user.pk), generation=1, keep_ms=60_000)
    User.objects.filter(pk=user.pk).update(password="argon2$changed-meanwhile")

    with pytest.raises(InvalidCredentials):
        sessions.session_start(user=stale, caller=Caller())
    assert User.objects.get(pk=user.pk).session_generation == 0


def test_the_floor_is_never_lowered():
    user = UserFactory()
    token_store.generation_raise(user_id=str(user.pk), generation=3, keep_ms=60_000)
    token_store.generation_raise(user_id=str(user.pk), generation=1, keep_ms=60_000)

    assert _floor(user) == 3  # noqa: PLR2004
