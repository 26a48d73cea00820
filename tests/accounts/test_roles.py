"""Roles and scope in the access token: the user's Django groups as `roles`, and the scopes
JWT_GROUP_SCOPES grants them as `scope`, read in the same query as the user (login and refresh
keep their query counts), and exposed on the verified token's claims."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ImproperlyConfigured

from accounts import selectors, services, sessions, tokens
from accounts.exceptions import InvalidToken
from config import env
from tests.factories import PASSWORD, UserFactory
from tests.helpers import claims_of, sign

pytestmark = pytest.mark.django_db

LOGIN_QUERIES = 3  # the user by email (with the group names), last_login, the audit row
SCOPES = {"staff": ("users:read", "users:write"), "billing": ("invoices:read", "users:read")}
# The claims of a user's access token, and nothing else: no email, no profile.
CLAIMS = {"iss", "aud", "sub", "sid", "jti", "iat", "exp", "client_id", "token_type"}


@pytest.fixture
def scoped(settings):
    settings.JWT_GROUP_SCOPES = SCOPES


def _member(*groups: str, **fields):
    user = UserFactory(**fields)
    user.groups.set([Group.objects.get_or_create(name=name)[0] for name in groups])
    return user


def test_login_puts_the_users_groups_and_their_scopes_in_the_token_in_three_queries(
    scoped, caller, django_assert_num_queries
):
    user = _member("staff", "billing", "readers")

    with django_assert_num_queries(LOGIN_QUERIES):
        pair = services.user_login(email=user.email, password=PASSWORD, caller=caller)

    claims = claims_of(pair.access)
    assert claims["roles"] == ["billing", "readers", "staff"]
    assert claims["scope"] == "invoices:read users:read users:write"
    verified = tokens.access_decode(pair.access)
    assert (verified.roles, verified.scope) == (
        ("billing", "readers", "staff"),
        "invoices:read users:read users:write",
    )


def test_a_user_in_no_group_gets_neither_claim(scoped, caller):
    """Not `roles: []`: Authlib's RFC 9068 validator refuses a blank claim."""
    user = UserFactory()

    pair = services.user_login(email=user.email, password=PASSWORD, caller=caller)

    claims = claims_of(pair.access)
    assert "roles" not in claims
    assert "scope" not in claims
    assert (tokens.access_decode(pair.access).roles, tokens.access_decode(pair.access).scope) == (
        (),
        "",
    )


def test_the_claim_set_stays_small(scoped, caller):
    """A user in five groups: the claims are the registered ones, roles and scope, nothing
    else, and the token stays well under a kilobyte (a header a gateway passes on as is)."""
    user = _member("staff", "billing", "support", "ops-oncall", "reporting")

    access = services.user_login(email=user.email, password=PASSWORD, caller=caller).access

    assert set(claims_of(access)) == CLAIMS | {"roles", "scope"}
    assert len(access) < 1024  # noqa: PLR2004


def test_session_start_reads_the_groups_of_a_user_that_came_without_them(start):
    """Password change opens its session for a user read without groups: one more query."""
    user = _member("staff")
    plain = selectors.user_get_active(user_id=str(user.pk))

    assert claims_of(start(plain).access)["roles"] == ["staff"]


def test_user_get_active_with_roles_reads_user_and_groups_in_one_query(django_assert_num_queries):
    user = _member("staff", "billing")
    lonely = UserFactory()

    with django_assert_num_queries(1):
        found = selectors.user_get_active_with_roles(user_id=str(user.pk))
    with django_assert_num_queries(1):
        alone = selectors.user_get_active_with_roles(user_id=str(lonely.pk))

    assert found == user
    assert found is not None
    assert (found.email, found.session_generation) == (user.email, 0)
    with django_assert_num_queries(0):
        assert selectors.user_roles(user=found) == ("billing", "staff")
        assert alone is not None
        assert selectors.user_roles(user=alone) == ()


@pytest.mark.parametrize("user_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_user_get_active_with_roles_finds_no_unknown_user(user_id):
    assert selectors.user_get_active_with_roles(user_id=user_id) is None


def test_user_get_active_with_roles_finds_no_inactive_user():
    user = _member("staff", is_active=False)

    assert selectors.user_get_active_with_roles(user_id=str(user.pk)) is None


def test_a_refreshed_token_carries_the_users_roles_as_they_are_now(
    scoped, caller, start, django_assert_num_queries
):
    user = _member("staff")
    first = start(user)
    user.groups.add(Group.objects.create(name="billing"))

    with django_assert_num_queries(1):
        second = sessions.session_refresh(refresh=first.refresh, caller=caller)

    assert claims_of(second.access)["roles"] == ["billing", "staff"]


@pytest.mark.parametrize(
    "changes",
    [{"roles": "staff"}, {"roles": [1, 2]}, {"roles": None}, {"scope": ["users:read"]}],
    ids=["roles a string", "roles not strings", "roles null", "scope a list"],
)
def test_a_signed_token_with_malformed_roles_or_scope_is_refused(user, start, changes):
    """Attack (or a bug elsewhere): a token signed with our key whose roles or scope is not
    the shape consumers rely on. Expected: InvalidToken, not a crash or a wrong header."""
    claims = {**claims_of(start(user).access), **changes}

    with pytest.raises(InvalidToken):
        tokens.access_decode(sign(claims))


@pytest.mark.parametrize(
    "raw",
    [
        "staff=users:read",
        '["users:read"]',
        '{"staff": "users:read"}',
        '{"staff": ["users read"]}',
        '{"staff": ["say \\"hi\\""]}',
        '{"staff": [1]}',
    ],
    ids=["not json", "not an object", "not a list", "space", "quote", "not a string"],
)
def test_a_malformed_group_scope_map_is_refused_at_start(monkeypatch, raw):
    monkeypatch.setenv("JWT_GROUP_SCOPES", raw)

    with pytest.raises(ImproperlyConfigured, match="JWT_GROUP_SCOPES"):
        env.get_scope_map("JWT_GROUP_SCOPES")


def test_the_group_scope_map_is_read(monkeypatch):
    monkeypatch.setenv("JWT_GROUP_SCOPES", '{"staff": ["users:read", "users:write"], "x y": []}')

    assert env.get_scope_map("JWT_GROUP_SCOPES") == {
        "staff": ("users:read", "users:write"),
        "x y": (),
    }
