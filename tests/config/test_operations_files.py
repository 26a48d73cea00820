"""The operations files (docker/prometheus/, docker/grafana/): Prometheus's own checker accepts
them, and every metric they query is one the service exports (a renamed metric would leave
an alert that never fires and a panel that shows nothing). Also: the multiprocess directory."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from config import observability

ROOT = Path(__file__).resolve().parent.parent.parent
PROMETHEUS = ROOT / "docker" / "prometheus"
DASHBOARD = ROOT / "docker" / "grafana" / "dashboards" / "auth-service.json"
METRIC = re.compile(r"\bauth_[a-z_]+")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed (apt-get install prometheus; .ci/run does)")
    return subprocess.run([promtool, *args], capture_output=True, text=True, check=False)


def _exported() -> set[str]:
    import accounts.metrics  # noqa: F401 (registers the metrics)

    return {
        family.name + suffix
        for family in REGISTRY.collect()
        for suffix in SUFFIXES.get(family.type, ())
    }


def test_promtool_accepts_the_alert_rules():
    checked = _promtool("check", "rules", str(PROMETHEUS / "alerts.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 8 rules found" in checked.stdout


def test_promtool_accepts_composes_prometheus_config():
    checked = _promtool("check", "config", str(PROMETHEUS / "prometheus.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_alerts_and_the_dashboard_query_only_exported_metrics():
    exprs = [
        target["expr"]
        for panel in json.loads(DASHBOARD.read_text())["panels"]
        for target in panel["targets"]
    ]
    used = set(METRIC.findall((PROMETHEUS / "alerts.yml").read_text() + "\n".join(exprs)))
    assert len(used) >= 10  # noqa: PLR2004
    assert used - _exported() == set()


def test_several_workers_share_a_new_metrics_directory(monkeypatch):
    # Recorded first, so that the variable multiprocess_prepare sets is undone after the test.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    assert observability.multiprocess_prepare(1) is None
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ

    directory = observability.multiprocess_prepare(2)

    assert directory is not None
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == directory
    assert Path(directory).is_dir()
    shutil.rmtree(directory)


def test_a_given_metrics_directory_is_emptied_of_a_previous_run(monkeypatch, tmp_path):
    (tmp_path / "counter_99999999.db").write_bytes(b"stale")
    (tmp_path / f"counter_{os.getpid()}.db").write_bytes(b"this process's own")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))

    assert observability.multiprocess_prepare(4) == str(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"counter_{os.getpid()}.db"]
