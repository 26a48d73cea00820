"""schemathesis (issue 9, item 12): every check, the stateful phase included, against the
OpenAPI schema of the service running under `manage.py serve`, bounded in time. Any failure
fails the test, with schemathesis's report of it (and a JUnit report in $ARTIFACTS_DIR)."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from http import HTTPStatus
from pathlib import Path

import httpx
import pytest

from tests.servers import ROOT, uvicorn_server

pytestmark = pytest.mark.slow

# Seconds for the whole run: fuzzing and the stateful phase repeat until it is spent.
MAX_TIME = int(os.environ.get("SCHEMATHESIS_MAX_TIME", "75"))
ARTIFACTS = Path(os.environ.get("ARTIFACTS_DIR") or ROOT / "tests" / "artifacts")
EMAIL = "fuzz@example.com"
# Links register -> log in, log in -> refresh and log out at least (api/openapi.py).
MIN_LINKS_COVERED = 3
# The throttles are tested on their own (tests/accounts/test_throttling.py); here they would
# only turn the fuzzer's thousands of logins into 429s, and lock the test's own account.
NO_THROTTLING = {
    "THROTTLE_LOGIN_PER_MINUTE": "0",
    "THROTTLE_REGISTER_PER_MINUTE": "0",
    "THROTTLE_BACKOFF_BASE_SECONDS": "0",
    "THROTTLE_ACCOUNT_FAILURES": "0",
    "THROTTLE_ACCOUNT_MAX_FAILURES": "0",
}


def test_the_api_passes_every_schemathesis_check(server_env, transactional_db):
    """Its account's password is no example of the schema, which the fuzzer tries."""
    password = secrets.token_urlsafe(16)
    with uvicorn_server({**server_env, **NO_THROTTLING}) as base:
        created = httpx.post(f"{base}/api/register/", json={"email": EMAIL, "password": password})
        assert created.status_code == HTTPStatus.CREATED, created.text

        run = subprocess.run(
            [
                str(Path(sys.executable).with_name("schemathesis")),
                "--config-file",
                str(ROOT / "tests" / "live" / "schemathesis.toml"),
                "run",
                f"{base}/api/openapi.json",
                "--checks",
                "all",
                "--phases",
                "examples,coverage,fuzzing,stateful",
                "--max-time",
                str(MAX_TIME),
                "--report",
                "junit",
                "--report-junit-path",
                str(ARTIFACTS / "schemathesis-junit.xml"),
            ],
            cwd=ROOT,
            env={
                **os.environ,
                "AUTH_FUZZ_BASE_URL": base,
                "AUTH_FUZZ_EMAIL": EMAIL,
                "AUTH_FUZZ_PASSWORD": password,
            },
            capture_output=True,
            text=True,
            timeout=MAX_TIME + 120,
        )

    report = run.stdout + run.stderr
    assert run.returncode == 0, report[-6000:]
    covered = re.search(r"API Links:\s+(\d+) covered", report)
    assert covered, report[-3000:]
    assert int(covered.group(1)) >= MIN_LINKS_COVERED, report[-3000:]
