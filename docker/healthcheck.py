"""Container health check: exit 0 when GET /health/ready answers 200 (PostgreSQL and Redis up).

Sends a Host header from ALLOWED_HOSTS, so that the check also passes in production, where
127.0.0.1 is usually not an allowed host.
"""

import os
import sys
import urllib.request
from http import HTTPStatus


def _host() -> str:
    for name in os.environ.get("ALLOWED_HOSTS", "").split(","):
        name = name.strip().lstrip(".")
        if name and name != "*":
            return name
    return "127.0.0.1"


def main() -> int:
    url = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/health/ready"
    request = urllib.request.Request(url, headers={"Host": _host()})
    try:
        with urllib.request.urlopen(request, timeout=4) as response:  # noqa: S310
            return 0 if response.status == HTTPStatus.OK else 1
    except Exception as exc:
        print(f"not ready: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
