"""Item 7 of issue 9: the production configuration that .env.example and docs/deployment.md
give passes `manage.py check --deploy --fail-level WARNING`, and the HTTPS settings behave as
documented (HSTS, the redirect, X-Forwarded-Proto)."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from http import HTTPStatus

import pytest
from dotenv import dotenv_values

from tests.servers import ROOT

STRONG_SECRET = "q8Vn3xT0bLk2Rz7Wc5Hs1Pj9Ud4Fy6Me8Ga0Ko3Ni7Xt2Bv5Lq1Zr9Sw4Cp6Dh8Jf0"
_BLOCK = re.compile(r"<!-- production-env: [^\n]*-->\n```sh\n(.*?)```", re.S)


def _production_env(tmp_path) -> dict[str, str]:
    """.env.example, then the docs' production block, then the two secrets no file holds."""
    values = {k: v or "" for k, v in dotenv_values(ROOT / ".env.example").items()}
    [block] = _BLOCK.findall((ROOT / "docs" / "deployment.md").read_text())
    production = {k: v or "" for k, v in dotenv_values(stream=io.StringIO(block)).items()}
    assert {"APP_ENV", "SECRET_KEY", "JWT_KEYS_FILE"} <= set(production)
    keys = tmp_path / "jwt-keys.json"
    generated = _manage("jwtkeys", "generate", "--out", str(keys), env={"APP_ENV": "development"})
    assert generated.returncode == 0, generated.stderr
    return {**values, **production, "SECRET_KEY": STRONG_SECRET, "JWT_KEYS_FILE": str(keys)}


def _manage(*command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # Only the process's own basics: none of this machine's (or the test run's) settings.
    base = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    return subprocess.run(
        [sys.executable, "manage.py", *command],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_the_documented_production_configuration_passes_check_deploy_with_no_warning(tmp_path):
    """CI's `check --deploy`: any warning (HSTS, SSL redirect, cookies, ...) fails it."""
    env = _production_env(tmp_path)

    checked = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)

    assert checked.returncode == 0, checked.stderr + checked.stdout
    assert "System check identified no issues" in checked.stdout


@pytest.mark.slow
def test_turning_the_redirect_off_is_a_warning_and_without_forwarded_proto_an_error(tmp_path):
    env = _production_env(tmp_path)

    no_redirect = _manage(
        "check", "--deploy", "--fail-level", "WARNING", env={**env, "SECURE_SSL_REDIRECT": "false"}
    )
    looping = _manage("check", "--deploy", env={**env, "TRUST_X_FORWARDED_PROTO": "false"})

    assert no_redirect.returncode != 0
    assert "(security.W008)" in no_redirect.stderr
    assert looping.returncode != 0
    assert "(auth.E010) SECURE_SSL_REDIRECT is on but TRUST_X_FORWARDED_PROTO is off" in (
        looping.stderr
    )


@pytest.fixture
def behind_tls_proxy(settings):
    """Production's HTTPS defaults, on the test settings."""
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    return settings


@pytest.mark.django_db
def test_behind_the_proxy_https_answers_with_hsts_and_plain_http_is_redirected(
    api, behind_tls_proxy
):
    """Plain HTTP that did not come through the proxy is sent to HTTPS; the proxy's HTTPS
    requests get HSTS; a client's own `X-Forwarded-Proto: http` is no way around it."""
    secure = api.get("/.well-known/jwks.json", HTTP_X_FORWARDED_PROTO="https")
    plain = api.get("/.well-known/jwks.json")
    spoofed_down = api.get("/api/me/", HTTP_X_FORWARDED_PROTO="http")

    assert secure.status_code == HTTPStatus.OK
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert (plain.status_code, plain["Location"]) == (
        HTTPStatus.MOVED_PERMANENTLY,
        "https://testserver/.well-known/jwks.json",
    )
    assert "Strict-Transport-Security" not in plain
    assert spoofed_down.status_code == HTTPStatus.MOVED_PERMANENTLY


@pytest.mark.django_db
def test_health_checks_answer_over_plain_http(api, behind_tls_proxy):
    assert api.get("/health/live").status_code == HTTPStatus.OK
