"""A real Prometheus (Debian's package) scrapes the service served with 2 uvicorn workers, after
a scripted flow: login, a failed login, refresh, reuse, logout. Queried through Prometheus's
HTTP API, every counter has moved by exactly what the flow did, whichever worker answered each
request and each scrape (prometheus-client's multiprocess mode sums the workers); the alert
rules load and evaluate."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

import httpx
import pytest

from tests.factories import PASSWORD
from tests.live.calls import unique_email
from tests.servers import free_port, served, stop, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RULES = Path(__file__).resolve().parent.parent.parent / "docker" / "prometheus" / "alerts.yml"
JWKS_REQUESTS = 20
CONFIG = """
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [{rules}]
scrape_configs:
  - job_name: auth-service
    static_configs:
      - targets: ["127.0.0.1:{port}"]
"""


@contextlib.contextmanager
def prometheus(target_port: int, directory: Path) -> Iterator[str]:
    """Prometheus scraping 127.0.0.1:`target_port` every second; yields its base URL."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not installed (apt-get install prometheus; .ci/run does)")
    config = directory / "prometheus.yml"
    config.write_text(CONFIG.format(rules=RULES, port=target_port))
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: httpx.get(f"{base}/-/ready").status_code == HTTPStatus.OK, 30, "prometheus"
        )
        yield base
    finally:
        stop(proc)


def _flow(http: httpx.Client) -> None:
    email = unique_email("prom")
    assert http.post("/api/register/", json={"email": email, "password": PASSWORD}).is_success
    wrong = http.post("/api/token/", json={"email": email, "password": "wrong password 1"})
    assert wrong.status_code == HTTPStatus.UNAUTHORIZED
    first = http.post("/api/token/", json={"email": email, "password": PASSWORD}).json()
    assert http.post("/api/token/refresh/", json={"refresh": first["refresh"]}).is_success
    reused = http.post("/api/token/refresh/", json={"refresh": first["refresh"]})
    assert reused.json()["code"] == "token_reused"
    second = http.post("/api/token/", json={"email": email, "password": PASSWORD}).json()
    logout = http.post("/api/logout/", json={"refresh": second["refresh"]})
    assert logout.status_code == HTTPStatus.NO_CONTENT


# What the flow (and JWKS_REQUESTS fetches of the key set) must show, summed over the workers.
EXPECTED = {
    'sum(auth_logins_total{outcome="ok"})': 2,
    'sum(auth_logins_total{outcome="failed"})': 1,
    'sum(auth_session_ends_total{reason="reuse"})': 1,
    'sum(auth_session_ends_total{reason="logout"})': 1,
    'sum(auth_tokens_issued_total{kind="refresh"})': 3,
    'sum(auth_tokens_issued_total{kind="access"})': 3,
    'sum(auth_http_requests_total{route="/api/token/refresh/",status="200"})': 1,
    'sum(auth_http_requests_total{route="/api/token/refresh/",status="401"})': 1,
    'sum(auth_http_requests_total{route="/.well-known/jwks.json",method="GET"})': JWKS_REQUESTS,
    'sum(auth_http_request_duration_seconds_count{route="/api/token/"})': 3,
    'sum(auth_redis_duration_seconds_count{operation="session_rotate"})': 2,
    "sum(auth_db_query_duration_seconds_count) > 0": None,
    'up{job="auth-service"}': 1,
}


def _query(prom: str, expr: str) -> float | None:
    body = httpx.get(f"{prom}/api/v1/query", params={"query": expr}).json()
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def _seen(prom: str) -> dict[str, float | None]:
    seen = {expr: _query(prom, expr) for expr in EXPECTED}
    return {e: (None if EXPECTED[e] is None and v is not None else v) for e, v in seen.items()}


def test_prometheus_scrapes_two_workers_and_sees_the_flow(live_env, tmp_path):
    metrics_dir = tmp_path / "metrics"
    env = {
        **live_env,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "REFRESH_REUSE_GRACE": "0",
    }
    with served(env, workers=2) as server, prometheus(server.port, tmp_path) as prom:
        with httpx.Client(base_url=server.base, timeout=30) as http:
            _flow(http)
        for _ in range(JWKS_REQUESTS):  # a connection each: both workers take some
            assert httpx.get(f"{server.base}/.well-known/jwks.json").status_code == HTTPStatus.OK

        with contextlib.suppress(TimeoutError):
            wait_until(lambda: _seen(prom) == EXPECTED, timeout=30, what="the counters")
        assert _seen(prom) == EXPECTED

        groups = httpx.get(f"{prom}/api/v1/rules").json()["data"]["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        assert len(rules) == 8  # noqa: PLR2004 (docker/prometheus/alerts.yml)
        wait_until(
            lambda: all(
                r["health"] == "ok"
                for g in httpx.get(f"{prom}/api/v1/rules").json()["data"]["groups"]
                for r in g["rules"]
            ),
            timeout=15,
            what="the rules to evaluate",
        )

    # Every process wrote its own files there: the server's and each worker's.
    pids = {path.stem.rsplit("_", 1)[1] for path in metrics_dir.glob("counter_*.db")}
    assert len(pids) >= 3  # noqa: PLR2004
