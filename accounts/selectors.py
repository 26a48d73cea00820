"""Reads of the accounts domain."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import Group
from django.contrib.postgres.aggregates import ArrayAgg
from django.db import DEFAULT_DB_ALIAS, connection, models
from django.db.models import Q, Value

from accounts import pg
from accounts.managers import normalize_email
from accounts.models import User

# The user's group names ride along on the instance, as an ORM annotation would put them there:
# the selectors below read them in the query that reads the user, user_roles() uses them.
_ROLES = "role_names"


def user_get_by_email(*, email: str) -> User | None:
    """The user with this email (any case), with their group names on PostgreSQL (one query)."""
    users = User.objects.filter(email=normalize_email(email))
    if connection.vendor == "postgresql":
        names = ArrayAgg(
            "groups__name",
            filter=Q(groups__isnull=False),
            order_by="groups__name",
            default=Value([]),
        )
        users = users.annotate(**{_ROLES: names})
    return users.first()


def user_roles(*, user: User) -> tuple[str, ...]:
    """The user's group names, sorted: read with the user when a selector did, else one query."""
    names: Sequence[str] | None = getattr(user, _ROLES, None)
    if names is not None:
        return tuple(names)
    return tuple(Group.objects.filter(user=user).order_by("name").values_list("name", flat=True))


def user_get_active(*, user_id: str) -> User | None:
    """The active user with this id, or None (also for an id that is not a UUID).

    Every me and refresh makes this read. On PostgreSQL it is one prepared statement and a
    model built from the row (the ORM compiles the same query for 4-6x the CPU); psycopg
    returns the fields' Python types already. Other databases go through the ORM.
    """
    return _read(user_id, roles=False)


def user_get_active_with_roles(*, user_id: str) -> User | None:
    """user_get_active, with the user's group names in the same single query (user_roles()).

    The refresh path's read: a new access token carries the user's roles as they are now.
    """
    return _read(user_id, roles=True)


async def user_get_active_async(*, user_id: str, roles: bool = False) -> User | None:
    """user_get_active(_with_roles) for the event loop: the same query through the async pool
    (accounts.pg), with no thread hop. PostgreSQL only (the hot path is off elsewhere)."""
    pk = _pk(user_id)
    if pk is None:
        return None
    sql, names = _active_user_with_roles_sql() if roles else _active_user_sql()
    return _user(await pg.fetch_one(sql, [pk]), names, roles=roles)


def _read(user_id: str, *, roles: bool) -> User | None:
    pk = _pk(user_id)
    if pk is None:
        return None
    if connection.vendor != "postgresql":
        return User.objects.filter(pk=pk, is_active=True).first()
    sql, names = _active_user_with_roles_sql() if roles else _active_user_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, [pk])
        return _user(cursor.fetchone(), names, roles=roles)


def _pk(user_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(user_id)
    except ValueError:
        return None


def _user(row: tuple[Any, ...] | None, names: list[str], *, roles: bool) -> User | None:
    if row is None:
        return None
    if not roles:
        return User.from_db(DEFAULT_DB_ALIAS, names, row)
    user = User.from_db(DEFAULT_DB_ALIAS, names, row[:-1])
    setattr(user, _ROLES, row[-1])
    return user


@functools.cache
def _active_user_sql() -> tuple[str, list[str]]:
    fields = User._meta.concrete_fields
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(field.get_attname_column()[1])) for field in fields)
    table = quote(User._meta.db_table)
    pk, active = quote("id"), quote("is_active")
    sql = f"SELECT {columns} FROM {table} WHERE {pk} = %s AND {active} LIMIT 1"  # noqa: S608
    return sql, [field.attname for field in fields]


@functools.cache
def _active_user_with_roles_sql() -> tuple[str, list[str]]:
    # The user's columns and an array of their group names: LEFT JOINs, so a user in no group
    # is one row with an empty array; GROUP BY the primary key lets the columns stand bare.
    fields = User._meta.concrete_fields
    quote = connection.ops.quote_name
    columns = ", ".join(f"u.{quote(str(field.get_attname_column()[1]))}" for field in fields)
    membership = User.groups.through
    user_column, group_column = (quote(_column(membership, name)) for name in ("user", "group"))
    sql = (
        f"SELECT {columns}, "  # noqa: S608
        "COALESCE(array_agg(g.name ORDER BY g.name) FILTER (WHERE g.name IS NOT NULL), '{}') "
        f"FROM {quote(User._meta.db_table)} u "
        f"LEFT JOIN {quote(membership._meta.db_table)} ug ON ug.{user_column} = u.id "
        f"LEFT JOIN {quote(Group._meta.db_table)} g ON g.id = ug.{group_column} "
        "WHERE u.id = %s AND u.is_active GROUP BY u.id"
    )
    return sql, [field.attname for field in fields]


def _column(model: type[models.Model], name: str) -> str:
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field)
    return str(field.column)
