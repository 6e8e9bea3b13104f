"""The metrics the example alert rules use exist, with the labels the rules expect."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import yaml

from drillbook.serve.metrics import DrillMetrics
from drillbook.spec.models import Duration

RULES = Path(__file__).resolve().parents[3] / "deploy" / "prometheus" / "drillbook-alerts.yml"


def drill(rto: str = "10m", rpo: str = "1d") -> SimpleNamespace:
    return SimpleNamespace(objectives=SimpleNamespace(rto=Duration(rto), rpo=Duration(rpo)))


def test_alert_rules_only_use_metrics_the_server_exposes():
    metrics = DrillMetrics()
    metrics.declare("clinic", drill())
    metrics.set_last("clinic", {"status": "failed", "started_at": "2026-05-06T03:00:00.000Z",
                                "objectives": {"rto": {"measured_seconds": 700.0}}},
                     {"status": "passed", "started_at": "2026-02-06T03:00:00.000Z"})
    metrics.set_schedule("clinic", 1.8e9, overdue=True)
    exposed = metrics.text().decode()
    rules = yaml.safe_load(RULES.read_text())["groups"][0]["rules"]
    names = {n for rule in rules for n in re.findall(r"drillbook_[a-z_]+", rule["expr"])}
    assert names
    for name in names:
        assert re.search(rf"^{name}(\{{|\s)", exposed, re.M), f"{name} is used by an alert but not exposed"
    assert 'drillbook_drill_last_status{drill="clinic",status="failed"} 1.0' in exposed
    assert 'drillbook_drill_overdue{drill="clinic"} 1.0' in exposed


def test_a_removed_drill_disappears_from_the_metrics():
    metrics = DrillMetrics()
    metrics.declare("clinic", drill())
    metrics.observe_run("clinic", "passed", 12.0)
    metrics.forget("clinic")
    assert 'drill="clinic"' not in metrics.text().decode()
