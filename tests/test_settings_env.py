"""config.env: the URLs first, else the original brief's DB_* / REDIS_* variables, else embedded."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from config import env

STORAGE_VARIABLES = [
    "DATABASE_URL",
    "DB_HOST",
    "DB_PORT",
    "DB_NAME",
    "DB_USER",
    "DB_PASS",
    "REDIS_URL",
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_DB",
    "DB_POOL_MAX_SIZE",
    "DB_CONNECT_TIMEOUT",
]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in STORAGE_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_brief_db_variables_are_used_when_database_url_is_unset(monkeypatch):
    monkeypatch.setenv("DB_HOST", "db.internal")
    monkeypatch.setenv("DB_NAME", "auth")
    monkeypatch.setenv("DB_USER", "svc")
    monkeypatch.setenv("DB_PASS", "p@ss:w/rd#1")

    config, embedded = env.database("/unused.sqlite3")

    assert embedded is False
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db.internal", 5432, "auth")
    assert (config["USER"], config["PASSWORD"]) == ("svc", "p@ss:w/rd#1")


def test_db_port_is_honoured(monkeypatch):
    monkeypatch.setenv("DB_HOST", "db.internal")
    monkeypatch.setenv("DB_PORT", "6543")

    config, _ = env.database("/unused.sqlite3")

    assert config["PORT"] == 6543


def test_database_url_wins_over_the_brief_variables(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://app:secret@primary:5433/main")
    monkeypatch.setenv("DB_HOST", "ignored")

    config, embedded = env.database("/unused.sqlite3")

    assert embedded is False
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("primary", 5433, "main")


def test_postgresql_uses_a_bounded_connection_pool(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://app@primary/main")
    monkeypatch.setenv("DB_POOL_MAX_SIZE", "4")
    monkeypatch.setenv("DB_CONNECT_TIMEOUT", "2")

    config, _ = env.database("/unused.sqlite3")

    assert config["OPTIONS"] == {
        "pool": {"min_size": 1, "max_size": 4, "timeout": 2},
        "connect_timeout": 2,
    }


@pytest.mark.parametrize("value", [None, "", "   "])
def test_no_database_configured_means_embedded_sqlite(monkeypatch, value):
    if value is not None:
        monkeypatch.setenv("DATABASE_URL", value)

    config, embedded = env.database("/state/db.sqlite3")

    assert embedded is True
    assert config == {"ENGINE": "django.db.backends.sqlite3", "NAME": "/state/db.sqlite3"}


def test_a_malformed_database_url_is_refused(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "nonsense://what")

    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        env.database("/unused.sqlite3")


def test_brief_redis_variables_are_used_when_redis_url_is_unset(monkeypatch):
    monkeypatch.setenv("REDIS_HOST", "cache.internal")
    monkeypatch.setenv("REDIS_PORT", "6380")

    assert env.redis_url() == "redis://cache.internal:6380/0"


def test_redis_port_defaults_to_6379(monkeypatch):
    monkeypatch.setenv("REDIS_HOST", "cache.internal")

    assert env.redis_url() == "redis://cache.internal:6379/0"


def test_redis_url_wins_and_nothing_means_the_in_process_store(monkeypatch):
    assert env.redis_url() is None
    monkeypatch.setenv("REDIS_HOST", "ignored")
    monkeypatch.setenv("REDIS_URL", "redis://primary:6379/3")

    assert env.redis_url() == "redis://primary:6379/3"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("true", True),
        ("Yes", True),
        ("on", True),
        ("0", False),
        ("false", False),
        ("", False),
        ("off", False),
    ],
)
def test_debug_is_read_as_a_boolean(monkeypatch, raw, expected):
    monkeypatch.setenv("DEBUG", raw)

    assert env.get_bool("DEBUG", False) is expected


def test_a_boolean_that_is_not_one_is_refused(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")

    with pytest.raises(ImproperlyConfigured, match="DEBUG"):
        env.get_bool("DEBUG")


def test_integers_are_checked(monkeypatch):
    monkeypatch.setenv("ACCESS_TOKEN_LIFETIME", "five minutes")
    with pytest.raises(ImproperlyConfigured, match="ACCESS_TOKEN_LIFETIME"):
        env.get_int("ACCESS_TOKEN_LIFETIME", 300, minimum=1)

    monkeypatch.setenv("ACCESS_TOKEN_LIFETIME", "0")
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        env.get_int("ACCESS_TOKEN_LIFETIME", 300, minimum=1)


def test_lists_are_comma_separated_and_trimmed(monkeypatch):
    monkeypatch.setenv("ALLOWED_HOSTS", " auth.example.com, ,localhost ")

    assert env.get_list("ALLOWED_HOSTS") == ["auth.example.com", "localhost"]


def test_the_defaults_of_the_brief(settings):
    """Token lifetimes and grace as the issue sets them, when nothing overrides them."""
    assert settings.ACCESS_TOKEN_LIFETIME.total_seconds() == 300
    assert settings.REFRESH_TOKEN_LIFETIME.total_seconds() == 86400
    assert settings.SESSION_MAX_LIFETIME.total_seconds() == 30 * 86400
    assert settings.REFRESH_REUSE_GRACE.total_seconds() == 10
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 64 * 1024
