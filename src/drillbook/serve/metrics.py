"""Prometheus metrics of ``drillbook serve``: per-drill series labelled ``drill="<name>"``.

Served with ``/healthz`` by a small threaded HTTP server bound to 127.0.0.1 unless told otherwise
(metrics name drills and their objectives: not for the open internet). A connection that stays
silent for ``IDLE_TIMEOUT`` is closed, and at most ``MAX_HANDLERS`` are served at once (more are
answered 503 and closed), so idle or slow clients cannot pile up threads for ever. Alert rules
that use these series live in ``deploy/prometheus/drillbook-alerts.yml``.

``drillbook run --metrics-textfile/--pushgateway`` exports a drill's series under the same names
(serve/export.py), so one set of alert rules serves cron installs and ``serve`` installs alike.
No counter or histogram has a ``_created`` series: it doubles the series for nothing an alert uses.
"""

from __future__ import annotations

import json
import platform
import socket
import threading
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.parser import text_string_to_metric_families

from drillbook import __version__
from drillbook.evidence.trend import Forecast
from drillbook.outputs.faults import Fault
from drillbook.status import Status
from drillbook.util.clock import parse_iso

IDLE_TIMEOUT = 10.0  # seconds a connection may send nothing before it is closed
MAX_HANDLERS = 8  # connections served at once; a scrape takes milliseconds
BUSY = b"HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

STATUSES = (Status.PASSED, Status.FAILED, Status.ABORTED, Status.ERROR)
DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 86400)

disable_created_metrics()

FAILURE_SAMPLES = {  # sample name -> the failure it counts (what absorb_failures reads back)
    "drillbook_notification_failures_total": Fault.NOTIFICATION,
    "drillbook_worm_upload_failures_total": Fault.WORM_UPLOAD,
    "drillbook_ledger_seal_failures_total": Fault.LEDGER_SEAL,
}


class DrillMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.last_status = Gauge("drillbook_drill_last_status",
                                 "1 for the status of the drill's last finished run, 0 for the others",
                                 ["drill", "status"], registry=r)
        self.last_run = Gauge("drillbook_drill_last_run_timestamp_seconds",
                              "Start of the last finished run (Unix time)", ["drill"], registry=r)
        self.last_success = Gauge("drillbook_drill_last_success_timestamp_seconds",
                                  "Start of the last passed run (Unix time)", ["drill"], registry=r)
        self.rto = Gauge("drillbook_drill_rto_seconds", "RTO measured by the last run", ["drill"], registry=r)
        self.rto_target = Gauge("drillbook_drill_rto_target_seconds", "RTO objective", ["drill"], registry=r)
        self.rpo = Gauge("drillbook_drill_rpo_seconds", "RPO measured by the last run", ["drill"], registry=r)
        self.rpo_target = Gauge("drillbook_drill_rpo_target_seconds", "RPO objective", ["drill"], registry=r)
        self.duration = Histogram("drillbook_drill_duration_seconds", "Wall time of scheduled runs",
                                  ["drill"], buckets=DURATION_BUCKETS, registry=r)
        self.runs = Counter("drillbook_drill_runs", "Scheduled runs by outcome since the server started",
                            ["drill", "status"], registry=r)
        self.site_runs = Counter("drillbook_site_runs", "Runs received from site workers (or recorded lost) "
                                 "by site and outcome since the server started", ["site", "drill", "status"],
                                 registry=r)
        self.overdue = Gauge("drillbook_drill_overdue",
                             "1 when a due run has not happened within its allowance", ["drill"], registry=r)
        self.next_run = Gauge("drillbook_drill_next_run_timestamp_seconds",
                              "Next scheduled run (Unix time)", ["drill"], registry=r)
        self.forecast = Gauge("drillbook_drill_rto_forecast_seconds",
                              "Seconds until the RTO trend reaches the target at the present growth of the "
                              "restored size (0: reached); absent without a forecast", ["drill"], registry=r)
        self.running = Gauge("drillbook_drill_running", "1 while a run is in progress", ["drill"], registry=r)
        self.spec_problems = Gauge("drillbook_spec_problems",
                                   "Problems in the drills folder at the last (re)load", registry=r)
        self.drills = Gauge("drillbook_drills_scheduled", "Drills on a schedule", registry=r)
        self.interval = Gauge("drillbook_drill_interval_seconds",
                              "Longest time between two due runs of the drill's schedule", ["drill"], registry=r)
        self.declared = Gauge("drillbook_drill_declared_timestamp_seconds",
                              "Since when the drill is expected to pass: put on its current schedule "
                              "(serve), or its first recorded run (drillbook run) (Unix time)", ["drill"], registry=r)
        self.build_info = Gauge("drillbook_build_info", "Versions of drillbook, Python and restic (always 1)",
                                ["version", "python", "restic"], registry=r)
        self.notification_failures = Counter("drillbook_notification_failures",
                                             "Notifications that could not be delivered", ["target"], registry=r)
        self.worm_failures = Counter("drillbook_worm_upload_failures",
                                     "WORM evidence uploads (runs, retries, ledger heads) that failed", registry=r)
        self.seal_failures = Counter("drillbook_ledger_seal_failures",
                                     "Runs that could not be sealed into the evidence ledger", registry=r)
        self.known: set[str] = set()

    def set_build(self, restic: str | None) -> None:
        """``drillbook_build_info``: one series, the versions in use now."""
        self.build_info.clear()
        self.build_info.labels(__version__, platform.python_version(), restic or "unknown").set(1)

    def count_failure(self, fault: Fault, target: str = "", drill: str = "", amount: float = 1.0) -> None:
        """A :mod:`drillbook.outputs.faults` listener (``drill`` is not a label: failures are rare)."""
        if fault == Fault.NOTIFICATION:
            self.notification_failures.labels(target or "unknown").inc(amount)
        elif fault == Fault.WORM_UPLOAD:
            self.worm_failures.inc(amount)
        elif fault == Fault.LEDGER_SEAL:
            self.seal_failures.inc(amount)

    def absorb_failures(self, path: Path) -> None:
        """Add a child run's failure counters (its metrics textfile) to these; the file is removed.

        A file that is missing (the child died first) or broken adds nothing: never raises.
        """
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            text = ""
        for leftover in (path, path.with_name(path.name + ".lock")):
            with suppress(OSError):
                leftover.unlink()
        try:
            samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
        except ValueError:
            return
        for sample in samples:
            fault = FAILURE_SAMPLES.get(sample.name)
            if fault is not None and sample.value > 0:
                self.count_failure(fault, sample.labels.get("target", ""), amount=sample.value)

    def set_cadence(self, name: str, interval: float | None, declared: float | None) -> None:
        """What the "no recent success" alert compares with: the schedule's interval and its start."""
        for gauge, value in ((self.interval, interval), (self.declared, declared)):
            if value is None:
                _remove(gauge, name)
            else:
                gauge.labels(name).set(value)

    def declare(self, name: str, drill: Any) -> None:
        """Make every series of ``name`` exist, so a drill shows before its first run."""
        self.known.add(name)
        for status in STATUSES:
            self.last_status.labels(name, status)
            self.runs.labels(name, status)
        self.duration.labels(name)
        self.running.labels(name).set(0)
        self.overdue.labels(name)
        self.rto_target.labels(name).set(float(drill.objectives.rto))
        self.rpo_target.labels(name).set(float(drill.objectives.rpo))

    def forget(self, name: str) -> None:
        self.known.discard(name)
        for metric in (self.last_run, self.last_success, self.rto, self.rto_target, self.rpo,
                       self.rpo_target, self.duration, self.overdue, self.next_run, self.running,
                       self.interval, self.declared, self.forecast):
            _remove(metric, name)
        for status in STATUSES:
            _remove(self.last_status, name, status)
            _remove(self.runs, name, status)

    def set_last(self, name: str, record: dict[str, Any] | None, success: dict[str, Any] | None) -> None:
        """Last-run series from records (at start-up, and after runs started by people)."""
        if record:
            self.set_status(name, record.get("status", "error"))
            _set_time(self.last_run.labels(name), record.get("started_at"))
            for key, gauge in (("rto", self.rto), ("rpo", self.rpo)):
                measured = ((record.get("objectives") or {}).get(key) or {}).get("measured_seconds")
                if measured is not None:
                    gauge.labels(name).set(measured)
        if success:
            _set_time(self.last_success.labels(name), success.get("started_at"))

    def set_forecast(self, name: str, forecast: Forecast, now: datetime) -> None:
        """The RTO forecast of the drill's recent runs; the series goes away when there is none."""
        left = forecast.seconds_left(now)
        if left is None:
            _remove(self.forecast, name)
        else:
            self.forecast.labels(name).set(left)

    def set_status(self, name: str, status: str) -> None:
        for each in STATUSES:
            self.last_status.labels(name, each).set(1 if each == status else 0)

    def observe_run(self, name: str, status: str, duration: float) -> None:
        self.runs.labels(name, status if status in STATUSES else Status.ERROR).inc()
        self.duration.labels(name).observe(duration)

    def set_schedule(self, name: str, next_run: float | None, overdue: bool) -> None:
        if next_run is None:
            _remove(self.next_run, name)
        else:
            self.next_run.labels(name).set(next_run)
        self.overdue.labels(name).set(1 if overdue else 0)

    def text(self) -> bytes:
        return generate_latest(self.registry)


def serve_http(metrics: DrillMetrics, host: str, port: int,
               health: Callable[[], dict[str, Any]]) -> ThreadingHTTPServer:
    """Start ``/metrics`` and ``/healthz`` in a daemon thread; the bound port is ``server_port``."""

    class Handler(BaseHTTPRequestHandler):
        timeout = IDLE_TIMEOUT  # the socket's: a silent client is dropped, its thread freed

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, metrics.text(), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                state = health()
                self._send(200 if state.get("ok") else 503, (json.dumps(state) + "\n").encode(),
                           "application/json")
            else:
                self._send(404, b"not found: try /metrics or /healthz\n", "text/plain")

        def _send(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:  # scrapes every 15 s would drown the log
            pass

    server = BoundedHTTPServer((host, port), Handler, MAX_HANDLERS)
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    return server


class BoundedHTTPServer(ThreadingHTTPServer):
    """A thread per connection, but no more than ``limit`` at once: the others get a 503."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], limit: int):
        super().__init__(address, handler)
        self.slots = threading.BoundedSemaphore(limit)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            _refuse(request)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:  # no thread was started: its slot is free again
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


def _refuse(request: socket.socket) -> None:
    """A short answer without a thread, never waiting on the client: it may be the one that is idle."""
    with suppress(OSError):
        request.setblocking(False)
        request.send(BUSY)


def _set_time(gauge: Any, text: str | None) -> None:
    if text:
        with suppress(ValueError):  # a record with a broken time leaves the series as it was
            gauge.set(parse_iso(text).timestamp())


def _remove(metric: Any, *labels: str) -> None:
    with suppress(KeyError):  # a series that was never set
        metric.remove(*labels)
