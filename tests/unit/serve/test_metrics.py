"""The metrics the example alert rules use exist, with the labels the rules expect."""

from __future__ import annotations

import platform
import re
import socket
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from drillbook import __version__
from drillbook.evidence.trend import GIB, MONTH_SECONDS, Forecast, Point, forecast
from drillbook.outputs import faults
from drillbook.outputs.faults import Fault
from drillbook.serve import metrics as metrics_module
from drillbook.serve.metrics import DrillMetrics, serve_http
from drillbook.spec.models import Duration

RULES = Path(__file__).resolve().parents[3] / "deploy" / "prometheus" / "drillbook-alerts.yml"


def drill(rto: str = "10m", rpo: str = "1d") -> SimpleNamespace:
    return SimpleNamespace(objectives=SimpleNamespace(rto=Duration(rto), rpo=Duration(rpo)))


JAN1 = datetime(2026, 1, 1, tzinfo=UTC)


def growing() -> Forecast:
    """+1 GiB a month, RTO = 100 s + 40 s/GiB: 900 s at 20 GiB, 10 months after the 10 GiB run."""
    month = timedelta(seconds=MONTH_SECONDS)
    found = [Point(f"r{i}", JAN1 + i * month, 500.0 + 40 * i, (10 + i) * GIB) for i in range(3)]
    return forecast(found, 900.0, "15m")


def test_alert_rules_only_use_metrics_the_server_exposes():
    metrics = DrillMetrics()
    metrics.declare("clinic", drill())
    metrics.set_last("clinic", {"status": "failed", "started_at": "2026-05-06T03:00:00.000Z",
                                "objectives": {"rto": {"measured_seconds": 700.0}}},
                     {"status": "passed", "started_at": "2026-02-06T03:00:00.000Z"})
    metrics.set_schedule("clinic", 1.8e9, overdue=True)
    metrics.set_cadence("clinic", 86400.0, 1.7e9)
    metrics.count_failure(Fault.NOTIFICATION, "webhook https://hooks.example.org/***")
    metrics.set_forecast("clinic", growing(), JAN1)
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


def _read_to_end(conn: socket.socket) -> bytes:
    data = b""
    while chunk := conn.recv(1024):
        data += chunk
    return data


def _handler_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith("Thread-") and "process_request" in t.name)


def test_idle_connections_are_closed_and_bounded_and_metrics_still_answer(monkeypatch):
    """Connections that send nothing used to keep a thread each, for ever."""
    monkeypatch.setattr(metrics_module, "IDLE_TIMEOUT", 0.5, raising=False)
    monkeypatch.setattr(metrics_module, "MAX_HANDLERS", 4, raising=False)
    server = serve_http(DrillMetrics(), "127.0.0.1", 0, lambda: {"ok": True})
    port = server.server_port
    idle = []
    try:
        idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(12)]
        time.sleep(0.2)
        assert _handler_threads() <= 4, "one thread per idle connection"
        for conn in idle:  # refused at once (503), or closed after the idle timeout: never kept
            answer = _read_to_end(conn)
            assert answer == b"" or answer.startswith(b"HTTP/1.0 503"), answer
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
        assert b"drillbook_drills_scheduled" in body
        deadline = time.monotonic() + 5
        while _handler_threads() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _handler_threads() == 0
    finally:
        for conn in idle:
            conn.close()
        server.shutdown()
        server.server_close()


# -- build info, failure counters, cadence, no _created ------------------------------------------
def series(metrics: DrillMetrics) -> dict[str, float]:
    """Every sample as ``name{labels}`` -> value, from a scrape of the registry."""
    text = generate_latest(metrics.registry).decode()
    return {f"{s.name}{dict(sorted(s.labels.items()))}": s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_build_info_names_the_versions_in_use():
    metrics = DrillMetrics()
    metrics.set_build("0.16.4")
    metrics.set_build("0.17.0")  # one series: the versions now
    build = {k: v for k, v in series(metrics).items() if k.startswith("drillbook_build_info")}
    assert build == {"drillbook_build_info" + str({"python": platform.python_version(), "restic": "0.17.0",
                                                   "version": __version__}): 1.0}


def test_no_series_ends_in_created():
    metrics = DrillMetrics()
    metrics.declare("clinic", drill())
    metrics.observe_run("clinic", "passed", 12.0)
    metrics.count_failure(Fault.LEDGER_SEAL)
    assert not [name for name in series(metrics) if "_created" in name]


def test_failures_told_to_the_seam_are_counted_by_a_listening_registry():
    metrics = DrillMetrics()
    with faults.counted_by(metrics.count_failure):
        faults.failed(Fault.NOTIFICATION, "webhook https://hooks.example.org/***", "clinic")
        faults.failed(Fault.NOTIFICATION, "webhook https://hooks.example.org/***", "clinic")
        faults.failed(Fault.WORM_UPLOAD, drill="clinic")
        faults.failed(Fault.LEDGER_SEAL, drill="clinic")
    faults.failed(Fault.LEDGER_SEAL)  # no longer listening
    got = series(metrics)
    assert got["drillbook_notification_failures_total{'target': 'webhook https://hooks.example.org/***'}"] == 2
    assert got["drillbook_worm_upload_failures_total{}"] == 1
    assert got["drillbook_ledger_seal_failures_total{}"] == 1


def test_a_childs_failures_are_added_from_its_metrics_file_which_is_removed(tmp_path):
    child = DrillMetrics()
    child.count_failure(Fault.NOTIFICATION, "command /usr/local/bin/page")
    child.count_failure(Fault.WORM_UPLOAD)
    path = tmp_path / "run.prom"
    path.write_bytes(child.text())
    server = DrillMetrics()
    server.count_failure(Fault.WORM_UPLOAD)
    server.absorb_failures(path)
    server.absorb_failures(tmp_path / "never-written.prom")
    got = series(server)
    assert got["drillbook_notification_failures_total{'target': 'command /usr/local/bin/page'}"] == 1
    assert got["drillbook_worm_upload_failures_total{}"] == 2
    assert got["drillbook_ledger_seal_failures_total{}"] == 0
    assert not path.exists()


def test_interval_and_declared_time_are_exported_and_forgotten_with_the_drill():
    metrics = DrillMetrics()
    metrics.declare("clinic", drill())
    metrics.set_cadence("clinic", 86400.0, 1.7e9)
    got = series(metrics)
    assert got["drillbook_drill_interval_seconds{'drill': 'clinic'}"] == 86400.0
    assert got["drillbook_drill_declared_timestamp_seconds{'drill': 'clinic'}"] == 1.7e9
    metrics.set_cadence("clinic", None, None)  # the drill lost its schedule
    assert "drillbook_drill_interval_seconds{'drill': 'clinic'}" not in series(metrics)
    metrics.set_cadence("clinic", 3600.0, 1.7e9)
    metrics.forget("clinic")
    assert not [k for k in series(metrics) if "clinic" in k]


def test_the_rto_forecast_is_the_time_left_and_goes_away_without_one():
    metrics = DrillMetrics()
    metrics.declare("clinic", drill())
    metrics.set_forecast("clinic", growing(), JAN1 + timedelta(days=100))
    values = [s.value for f in text_string_to_metric_families(metrics.text().decode()) for s in f.samples
              if s.name == "drillbook_drill_rto_forecast_seconds"]
    assert values == [pytest.approx(10 * MONTH_SECONDS - 100 * 86400, abs=1)]
    metrics.set_forecast("clinic", forecast([], 900.0), JAN1)
    assert "drillbook_drill_rto_forecast_seconds{" not in metrics.text().decode()
    metrics.set_forecast("clinic", growing(), JAN1)
    metrics.forget("clinic")
    assert "drillbook_drill_rto_forecast_seconds{" not in metrics.text().decode()
