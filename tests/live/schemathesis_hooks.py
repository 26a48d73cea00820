"""schemathesis hooks (tests/live/test_schemathesis.py): a real Bearer token for the
operations that need one, from a real login of the account the test registered.

The token is fetched again whenever the API answers 401 (schemathesis's `retry_on`): the fuzzer
itself ends the account's sessions (logout-all) and the test wants the next call authenticated.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
import schemathesis


@schemathesis.auth()
class AccountBearer:
    def get(self, case: Any, context: Any) -> str:
        response = httpx.post(
            f"{os.environ['AUTH_FUZZ_BASE_URL']}/api/token/",
            json={
                "email": os.environ["AUTH_FUZZ_EMAIL"],
                "password": os.environ["AUTH_FUZZ_PASSWORD"],
            },
            timeout=10,
        )
        response.raise_for_status()
        return str(response.json()["access"])

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}
