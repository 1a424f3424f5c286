"""The shipped Grafana dashboard and Prometheus alerts name only metrics the service exposes, and the rules
have what Alertmanager routing and on-call need (severity, summary)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase

from app.metrics import definitions
from app.metrics.fleet import FleetCollector
from app.metrics.registry import render
from tests.metrics.scrape import parse

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "reprotect.json"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
METRIC_NAME = re.compile(r"\breprotect_[a-z0-9_]+")
SAMPLE_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def _alert_rules() -> list[dict]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def _dashboard_exprs() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel.get("targets", [])]


def _recorded_names() -> set[str]:
    """Sample names of every metric the processes record (``app.metrics.definitions``)."""
    names = set()
    for metric in vars(definitions).values():
        if isinstance(metric, MetricWrapperBase):
            for family in metric.describe():
                names.update(family.name + suffix for suffix in SAMPLE_SUFFIXES[family.type])
    return names


@pytest.fixture
def exposed_names(container) -> set[str]:
    """Every sample name /metrics can carry: the recorded metrics and the fleet gauges read from a real database."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector(lambda: container.sessions, redispatch_after=60))
    fleet = {name for name, _ in parse(render(registry).decode())}
    assert "reprotect_jobs" in fleet  # the database answered: the gauges are there, not only the `up` flag
    return _recorded_names() | fleet


def test_every_metric_in_the_dashboard_and_the_alerts_exists(exposed_names):
    used = {
        name
        for expr in _dashboard_exprs() + [rule["expr"] for rule in _alert_rules()]
        for name in METRIC_NAME.findall(expr)
    }
    assert used, "no metric names found: the files moved or changed shape"
    assert used - exposed_names == set()


def test_the_alerts_cover_the_failure_modes_and_carry_severity_and_summary():
    rules = _alert_rules()
    names = {rule["alert"] for rule in rules}
    assert {
        "ReprotectPipelineStalled",
        "ReprotectFailureRateHigh",
        "ReprotectWebhookBacklog",
        "ReprotectAzureThrottlingStorm",
    } <= names
    for rule in rules:
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
