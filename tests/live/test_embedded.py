"""The embedded default (SQLite + in-process token store): it serves the flow, and refuses what
it cannot do safely (production mode, more than one worker)."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from http import HTTPStatus

import httpx
import pytest

from tests.factories import PASSWORD
from tests.helpers import header_of
from tests.servers import ROOT, free_port, wait_until

pytestmark = pytest.mark.slow

# Empty values count as unset (config.env): this removes every storage setting the tests use.
UNCONFIGURED = {
    "DATABASE_URL": "",
    "REDIS_URL": "",
    "DB_HOST": "",
    "REDIS_HOST": "",
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "APP_ENV": "development",
    "WEB_CONCURRENCY": "",
    "JWT_KEYS": "",
    "JWT_KEYS_FILE": "",
}
# Generous: the machine may be busy; the server imports Django and makes a key at start-up.
START_TIMEOUT = 60
STRONG_SECRET = "q8Vn3xT0bLk2Rz7Wc5Hs1Pj9Ud4Fy6Me8Ga0Ko3Ni7Xt2Bv5Lq1Zr9Sw4Cp6Dh8Jf0"


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def state_dir(tmp_path):
    """A STATE_DIR that does not exist yet: the first database connection makes it."""
    return tmp_path / "state"


@pytest.fixture
def embedded_env(state_dir) -> dict[str, str]:
    return {**UNCONFIGURED, "STATE_DIR": str(state_dir)}


@contextlib.contextmanager
def _serve(env: dict[str, str]) -> Iterator[tuple[str, list[str]]]:
    """`manage.py serve`, what `make run` starts; yields its URL and (after exit) its stderr."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "serve"],
        cwd=ROOT,
        env={**os.environ, **env, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base, stderr = f"http://127.0.0.1:{port}", []
    try:
        wait_until(
            lambda: httpx.get(f"{base}/health/live").status_code == HTTPStatus.OK,
            timeout=START_TIMEOUT,
            what="manage.py serve",
        )
        yield base, stderr
    finally:
        proc.terminate()
        stderr.append(proc.communicate(timeout=15)[1])


def test_embedded_default_migrates_and_serves_the_whole_flow(embedded_env, state_dir):
    """`make run` with nothing configured: migrate, serve, and the flow works end to end."""
    migrated = _manage("migrate", "--noinput", env=embedded_env)
    assert migrated.returncode == 0, migrated.stderr
    assert (state_dir / "db.sqlite3").exists()

    with _serve(embedded_env) as (base, stderr), httpx.Client(base_url=base, timeout=20) as http:
        credentials = {"email": "Ada@Example.com", "password": PASSWORD}
        created = http.post("/api/register/", json=credentials)
        assert created.status_code == HTTPStatus.CREATED, created.text
        pair = http.post("/api/token/", json=credentials)
        assert pair.status_code == HTTPStatus.OK, pair.text
        tokens = pair.json()
        me = http.get("/api/me/", headers={"Authorization": f"Bearer {tokens['access']}"})
        assert me.status_code == HTTPStatus.OK
        assert me.json()["email"] == "ada@example.com"
        refreshed = http.post("/api/token/refresh/", json={"refresh": tokens["refresh"]})
        assert refreshed.status_code == HTTPStatus.OK
        assert refreshed.json()["refresh"] != tokens["refresh"]
        ready = http.get("/health/ready")
        assert ready.json() == {
            "status": "ok",
            "checks": {"database": "ok", "token_store": "ok", "signing_keys": "ok"},
        }
        jwks = http.get("/.well-known/jwks.json").json()

    # It said so at start-up, and signed with the development key it made in STATE_DIR.
    assert "embedded default" in stderr[0]
    assert "DATABASE_URL" in stderr[0]
    assert (state_dir / "dev-jwt-keys.json").exists()
    assert [key["kid"] for key in jwks["keys"]] == [header_of(tokens["access"])["kid"]]


PRODUCTION_STORAGE = {
    "APP_ENV": "production",
    "DATABASE_URL": "postgres://u:p@db:5432/auth",
    "REDIS_URL": "redis://cache:6379/0",
}


@pytest.mark.parametrize(
    ("env", "named"),
    [
        pytest.param(
            {"APP_ENV": "production", "SECRET_KEY": STRONG_SECRET, "ALLOWED_HOSTS": "a.example"},
            "(auth.E002) production cannot run on the embedded default",
            id="production-on-embedded",
        ),
        pytest.param(
            {"WEB_CONCURRENCY": "2"},
            "(auth.E005) WEB_CONCURRENCY is 2",
            id="two-workers-on-embedded",
        ),
        pytest.param(
            {**PRODUCTION_STORAGE, "SECRET_KEY": "short"},
            "(auth.E001) SECRET_KEY is missing or weak",
            id="production-weak-secret",
        ),
    ],
)
def test_unsafe_configurations_refuse_to_start(embedded_env, env, named):
    """`manage.py check` (any command that checks: serve too) stops saying what to set."""
    result = _manage("check", env={**embedded_env, **env})

    assert result.returncode != 0
    assert "SystemCheckError" in result.stderr
    assert named in result.stderr


def test_embedded_default_prints_mails_on_the_console_and_needs_no_worker(
    embedded_env, state_dir, tmp_path
):
    """`make run`: the reset mail is printed by the server itself (console backend, the job
    run at commit), and its link's token resets the password."""
    assert _manage("migrate", "--noinput", env=embedded_env).returncode == 0
    out = tmp_path / "stdout.txt"
    port = free_port()
    with out.open("w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "serve"],
            cwd=ROOT,
            env={**os.environ, **embedded_env, "PORT": str(port)},
            stdout=sink,
            stderr=subprocess.DEVNULL,
            text=True,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(
            lambda: httpx.get(f"{base}/health/live").status_code == HTTPStatus.OK,
            timeout=START_TIMEOUT,
            what="manage.py serve",
        )
        with httpx.Client(base_url=base, timeout=20) as http:
            credentials = {"email": "ada@example.com", "password": PASSWORD}
            assert http.post("/api/register/", json=credentials).status_code == HTTPStatus.CREATED
            asked = http.post("/api/password/reset/", json={"email": "ada@example.com"})
            assert asked.status_code == HTTPStatus.ACCEPTED
            wait_until(lambda: "Subject: Reset your password" in out.read_text(), what="mail")
            token = re.search(r"reset-password\?token=([A-Za-z0-9_-]+)", out.read_text())
            assert token is not None
            body = {"token": token.group(1), "new_password": "a brand new passphrase 42"}
            confirmed = http.post("/api/password/reset/confirm/", json=body)
            assert confirmed.status_code == HTTPStatus.OK, confirmed.text
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    assert "Subject: Confirm your email address" in out.read_text()
