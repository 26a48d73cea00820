"""config.env: the URLs first, else the original brief's DB_* / REDIS_* variables, else embedded."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from datetime import timedelta

import pytest
from django.core.checks import Error
from django.core.exceptions import ImproperlyConfigured

from accounts import checks
from config import env
from tests.servers import ROOT

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
    "TOKEN_STORE_URL",
    "CACHE_URL",
    "REDIS_CONNECT_TIMEOUT",
    "REDIS_TIMEOUT",
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

    assert config["PORT"] == 6543  # noqa: PLR2004 (the port in the URL above)


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
    assert config == {"ENGINE": "config.sqlite", "NAME": "/state/db.sqlite3"}


def test_a_malformed_database_url_is_refused(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "nonsense://what")

    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        env.database("/unused.sqlite3")


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
    assert timedelta(minutes=5) == settings.ACCESS_TOKEN_LIFETIME
    assert timedelta(days=1) == settings.REFRESH_TOKEN_LIFETIME
    assert timedelta(days=30) == settings.SESSION_MAX_LIFETIME
    assert timedelta(seconds=10) == settings.REFRESH_REUSE_GRACE
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 64 * 1024


def _settings_module(monkeypatch, **variables: str) -> dict:
    """config/settings.py run under these variables (importing it has no side effects)."""
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "config" / "settings.py"))


def test_the_token_store_timeouts_and_a_local_django_cache_by_default(monkeypatch):
    loaded = _settings_module(monkeypatch, REDIS_CONNECT_TIMEOUT="0.5", REDIS_TIMEOUT="1.5")

    assert (loaded["TOKEN_STORE_CONNECT_TIMEOUT"], loaded["TOKEN_STORE_TIMEOUT"]) == (0.5, 1.5)
    assert loaded["CACHES"] == {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    }


@pytest.mark.parametrize(
    ("variables", "url"),
    [
        ({}, None),
        ({"REDIS_HOST": "cache.internal", "REDIS_PORT": "6380"}, "redis://cache.internal:6380/0"),
        ({"REDIS_HOST": "cache.internal"}, "redis://cache.internal:6379/0"),
        (
            {"REDIS_HOST": "ignored", "REDIS_URL": "redis://primary:6379/3"},
            "redis://primary:6379/3",
        ),
        (
            {"REDIS_URL": "redis://ignored:6379/0", "TOKEN_STORE_URL": "redis://s:6379/1"},
            "redis://s:6379/1",
        ),
    ],
    ids=[
        "nothing-means-in-process",
        "brief-variables",
        "brief-port-default",
        "redis-url-wins",
        "token-store-url-wins",
    ],
)
def test_the_token_store_url_comes_first_then_redis_url_then_the_brief_variables(
    monkeypatch, variables, url
):
    loaded = _settings_module(monkeypatch, **variables)

    assert (loaded["TOKEN_STORE_URL"], loaded["EMBEDDED_TOKEN_STORE"]) == (url, url is None)


def test_cache_url_puts_the_django_cache_on_redis(monkeypatch):
    loaded = _settings_module(monkeypatch, CACHE_URL="redis://cache:6379/4")

    assert loaded["CACHES"] == {
        "default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://cache:6379/4"}
    }


@pytest.mark.parametrize("raw", ["soon", "0", "-1"])
def test_timeouts_are_positive_numbers(monkeypatch, raw):
    monkeypatch.setenv("REDIS_TIMEOUT", raw)

    with pytest.raises(ImproperlyConfigured, match="REDIS_TIMEOUT must be"):
        env.get_float("REDIS_TIMEOUT", 2.0)


@pytest.mark.slow
def test_setting_django_up_creates_nothing_and_imports_no_fakeredis(tmp_path):
    """Importing settings has no side effects: STATE_DIR appears on first use, not before."""
    state = tmp_path / "state"
    script = "import django, sys; django.setup(); print('fakeredis' in sys.modules)"
    variables = {
        "STATE_DIR": str(state),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "APP_ENV": "development",
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, **variables},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == "False\n"
    assert not state.exists()


STRONG_SECRET = "q8Vn3xT0bLk2Rz7Wc5Hs1Pj9Ud4Fy6Me8Ga0Ko3Ni7Xt2Bv5Lq1Zr9Sw4Cp6Dh8Jf0"
DEV_SECRET = "dev-insecure-secret-key-only-for-local-development-never-in-production"
NEW_SECRET = "python -c 'import secrets; print(secrets.token_urlsafe(64))'"
WEAK_SECRET = Error(
    f"SECRET_KEY is missing or weak: set it to 50+ random characters, e.g. {NEW_SECRET}",
    id="auth.E001",
)


@pytest.fixture
def production(settings):
    """Complete production settings: the checks have nothing to say."""
    settings.PRODUCTION, settings.DEBUG, settings.SECRET_KEY = True, False, STRONG_SECRET
    settings.EMBEDDED = settings.EMBEDDED_DATABASE = settings.EMBEDDED_TOKEN_STORE = False
    settings.ALLOWED_HOSTS = ["auth.example.com"]
    settings.WEB_CONCURRENCY = 4
    return settings


def test_complete_production_settings_pass_the_checks(production):
    assert checks.production_settings(None) + checks.serving_settings(None) == []


@pytest.mark.parametrize(
    "secret",
    [DEV_SECRET, "short", "a" * 64, "django-insecure-" + "x1y2z3" * 10],
    ids=["missing-so-the-development-one", "short", "one-character", "django-insecure"],
)
def test_production_refuses_a_missing_or_weak_secret_key(production, secret):
    production.SECRET_KEY = secret

    assert checks.production_settings(None) == [WEAK_SECRET]


PRODUCTION_FLAWS = {
    "embedded": (
        {"EMBEDDED": True, "EMBEDDED_DATABASE": True, "EMBEDDED_TOKEN_STORE": True},
        "production cannot run on the embedded default (SQLite, the in-process token store): "
        "set DATABASE_URL (or DB_HOST) and TOKEN_STORE_URL or REDIS_URL (or REDIS_HOST)",
        "auth.E002",
    ),
    "no-allowed-hosts": (
        {"ALLOWED_HOSTS": []},
        "ALLOWED_HOSTS is empty: set it to the comma-separated host names the service answers "
        "to, e.g. ALLOWED_HOSTS=auth.example.com",
        "auth.E003",
    ),
    "debug": (
        {"DEBUG": True},
        "DEBUG is on in production: unset DEBUG or set DEBUG=false",
        "auth.E004",
    ),
}


@pytest.mark.parametrize(
    ("overrides", "message", "check_id"), PRODUCTION_FLAWS.values(), ids=PRODUCTION_FLAWS.keys()
)
def test_production_refuses_what_it_cannot_run_safely(production, overrides, message, check_id):
    for name, value in overrides.items():
        setattr(production, name, value)

    assert checks.production_settings(None) == [Error(message, id=check_id)]


def test_any_mode_refuses_two_workers_on_the_embedded_default_and_an_unknown_algorithm(settings):
    settings.PRODUCTION, settings.EMBEDDED, settings.WEB_CONCURRENCY = False, True, 2
    settings.JWT_ALGORITHM = "HS256"

    assert checks.serving_settings(None) == [
        Error(
            "WEB_CONCURRENCY is 2 on the embedded default, which serves one worker only: set "
            "WEB_CONCURRENCY=1, or DATABASE_URL and REDIS_URL",
            id="auth.E005",
        ),
        Error("JWT_ALGORITHM is 'HS256': set it to ES256 (the default) or RS256", id="auth.E006"),
    ]


@pytest.mark.parametrize("url", ["127.0.0.1:6379", "localhost", "http://redis:6379/0"])
def test_a_token_store_url_that_is_not_redis_is_refused_at_start(settings, url):
    """Fault: REDIS_URL without its scheme (it used to start, then answer 500 to every request).
    Expected: a system check error naming the setting and the fix, without any password."""
    settings.TOKEN_STORE_URL = url.replace("://", "://user:s3cret@", 1)

    errors = [e for e in checks.serving_settings(None) if e.id == "auth.E009"]

    assert len(errors) == 1
    assert "s3cret" not in errors[0].msg
    assert errors[0].msg.endswith(
        "is not a Redis URL: set TOKEN_STORE_URL or REDIS_URL to redis://host:6379/0 "
        "(or rediss://, unix://)"
    )


def test_a_redis_url_passes_the_check(settings):
    settings.TOKEN_STORE_URL = "rediss://:pw@cache.internal:6380/2"

    assert [e.id for e in checks.serving_settings(None)] == []


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("postgres://postgres@127.0.0.1:5432/no_such_database_here", "does not exist"),
        ("postgres://no_such_role_here@127.0.0.1:5432/postgres", 'role "no_such_role_here"'),
    ],
    ids=["missing-database", "missing-role"],
)
def test_a_database_url_that_cannot_connect_is_one_line_not_a_traceback(url, reason):
    """Fault: DATABASE_URL names a database or a role that does not exist. Expected: the
    command exits non-zero with one line that says so, no traceback."""
    env = {**os.environ, "DATABASE_URL": url, "DB_CONNECT_TIMEOUT": "1"}

    run = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("manage.py: cannot use the database: ")
    assert reason in last
