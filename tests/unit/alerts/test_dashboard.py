"""deploy/: every metric the Grafana dashboard queries is one the worker exposes, and
Prometheus scrapes the port the worker serves on."""

from __future__ import annotations

import json
import re

import yaml

from postwatch.settings import Settings
from postwatch.streams.metrics import Metrics
from tests.conftest import ROOT

GRAFANA = ROOT / "deploy" / "grafana"
METRIC = re.compile(r"\bpostwatch_[a-z0-9_]+")
# the series names prometheus-client exposes for each kind of metric
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
}


def exposed() -> set[str]:
    names: set[str] = set()
    for family in Metrics().registry.collect():
        names.update(family.name + suffix for suffix in SUFFIXES[family.type])
    return names


def queries() -> list[str]:
    dashboard = json.loads((GRAFANA / "dashboards" / "postwatch.json").read_text())
    return [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]


def test_every_metric_the_dashboard_queries_exists() -> None:
    known = exposed()
    used = {name for expr in queries() for name in METRIC.findall(expr)}
    assert len(used) >= 6  # the dashboard does query the worker
    assert used <= known, f"not exposed by the worker: {sorted(used - known)}"


def test_every_metric_of_the_worker_is_on_the_dashboard() -> None:
    used = {name for expr in queries() for name in METRIC.findall(expr)}
    for family in Metrics().registry.collect():
        assert any(name.startswith(family.name) for name in used), family.name


def test_prometheus_scrapes_the_workers_metrics_port() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    [job] = [j for j in config["scrape_configs"] if j["job_name"] == "postwatch-worker"]
    assert job["metrics_path"] == "/metrics"
    targets = [t for group in job["static_configs"] for t in group["targets"]]
    assert targets
    assert all(t.endswith(f":{Settings().metrics_port}") for t in targets)


def test_grafana_reads_the_dashboard_folder_from_the_provisioned_prometheus() -> None:
    provisioning = GRAFANA / "provisioning"
    sources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    uids = {s["uid"] for s in sources["datasources"]}
    dashboard = json.loads((GRAFANA / "dashboards" / "postwatch.json").read_text())
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] in uids
