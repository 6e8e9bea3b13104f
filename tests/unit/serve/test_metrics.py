"""The metrics the example alert rules use exist, with the labels the rules expect."""

from __future__ import annotations

import re
import socket
import threading
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import yaml

from drillbook.serve import metrics as metrics_module
from drillbook.serve.metrics import DrillMetrics, serve_http
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
