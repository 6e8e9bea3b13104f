"""The metrics of ``drillbook run`` for cron installs: a node_exporter textfile, a Pushgateway push.

A drill run from cron has no server to scrape. After its runs, ``drillbook run`` exports what
``drillbook serve`` exposes for each drill it ran, under the same names (:class:`DrillMetrics`):
last status, last run and last success times, RTO and RPO measured and targets, run counts and
durations, the schedule's interval, plus ``drillbook_build_info`` and the failure counters. One
set of alert rules (deploy/prometheus/drillbook-alerts.yml) serves both kinds of install. The
last-run series come from the drill's records, as the server's do, so they survive a lost file.

**Textfile** (``--metrics-textfile PATH``, PATH ending in ``.prom`` in node_exporter's
``--collector.textfile.directory``): one file for all drills, merged, never clobbered. The series
of the drills this run ran replace theirs; the series of every other drill stay as they were;
counters and histograms add this run's counts to the file's, so ``increase()`` works across runs.
The read-merge-replace holds a lock beside the file (``PATH.lock``: node_exporter reads only
``*.prom``), so two cron jobs finishing together lose nothing. The file is replaced in one rename
(a scrape never sees half of it) and is 0644 whatever the umask: node_exporter runs as its own
account. prometheus_client's ``write_to_textfile`` renames too, but leaves the mode to the umask
(a service with ``UMask=0077`` would write a file node_exporter cannot read) and never fsyncs.

**Pushgateway** (``--pushgateway URL``): one PUT per drill with grouping key ``job=drillbook,
drill=<name>`` holding that drill's series and the failures of its post-run steps. A PUT replaces
its group, so there the counters are the last run's, not totals.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest, push_to_gateway
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from drillbook.errors import BadInput
from drillbook.evidence import trend
from drillbook.outputs import faults
from drillbook.outputs.faults import Fault
from drillbook.outputs.runstore import RUN_FILE, read_record
from drillbook.serve.duestatus import recent_runs
from drillbook.serve.metrics import DrillMetrics
from drillbook.serve.schedules import longest_gap
from drillbook.settings import Settings
from drillbook.status import Status
from drillbook.util.atomic import write_text_atomic
from drillbook.util.clock import parse_iso, utc_now
from drillbook.util.locks import file_lock

log = logging.getLogger("drillbook.metrics")

TEXTFILE_MODE = 0o644  # node_exporter runs as its own account: the file must be readable by others
LOCK_TIMEOUT = 60.0
PUSH_TIMEOUT = 10.0
JOB = "drillbook"

#: The families a run exports: the server's series about a drill's runs, not those about the
#: server itself (scheduled drills, next run, overdue, running, spec problems).
RUN_FAMILIES = frozenset({
    "drillbook_build_info", "drillbook_drill_last_status", "drillbook_drill_last_run_timestamp_seconds",
    "drillbook_drill_last_success_timestamp_seconds", "drillbook_drill_rto_seconds",
    "drillbook_drill_rto_target_seconds", "drillbook_drill_rpo_seconds", "drillbook_drill_rpo_target_seconds",
    "drillbook_drill_duration_seconds", "drillbook_drill_runs", "drillbook_drill_interval_seconds",
    "drillbook_drill_declared_timestamp_seconds", "drillbook_drill_rto_forecast_seconds",
    "drillbook_notification_failures",
    "drillbook_worm_upload_failures", "drillbook_ledger_seal_failures",
})
CUMULATIVE = frozenset({"counter", "histogram"})

Failure = tuple[Fault, str, str]  # as outputs.faults tells it: (fault, target, drill)


@dataclass
class RunExport:
    """What one ``drillbook run`` learns while it runs: its records and its post-run failures."""

    settings: Settings
    drills: Mapping[str, Any]
    names: Sequence[str]
    textfile: Path | None
    pushgateway: str | None
    records: list[dict[str, Any]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    def heard(self, fault: Fault, target: str, drill: str) -> None:
        self.failures.append((fault, target, drill))

    def publish(self) -> None:
        """Write and push; a metrics problem is logged and never changes the runs' outcome."""
        if self.textfile:
            try:
                write_textfile(self.textfile, self.metrics(self.names, self.failures), self.names)
            except Exception as exc:
                log.error("could not write the metrics textfile %s: %s", self.textfile, exc)
        if self.pushgateway:
            for name in self.names:
                try:
                    push(self.pushgateway, name, self.metrics([name], self._failures_of(name)))
                except Exception as exc:
                    log.error("could not push the metrics of %s to %s: %s", name, self.pushgateway, exc)

    def metrics(self, names: Sequence[str], failures: Iterable[Failure]) -> DrillMetrics:
        return run_metrics(self.settings, self.drills, names,
                           [r for r in self.records if r.get("drill") in names], failures)

    def _failures_of(self, name: str) -> list[Failure]:
        """A failure of a drill not run now (a queued upload retried) goes with the first drill."""
        mine = [f for f in self.failures if f[2] == name]
        if name == self.names[0]:
            mine += [f for f in self.failures if f[2] not in self.names]
        return mine


@contextmanager
def exporting(settings: Settings, drills: Mapping[str, Any], names: Sequence[str],
              textfile: Path | None, pushgateway: str | None) -> Iterator[list[dict[str, Any]]]:
    """Around the runs: counts their failures, and exports at the end (also after an interrupt).

    Yields a list the caller extends with the runs' records (their counts and durations). Bad
    options are refused before anything runs: a drill may take hours.
    """
    check_textfile(textfile)
    check_gateway(pushgateway)
    if textfile is None and pushgateway is None:
        yield []
        return
    export = RunExport(settings, drills, list(names), textfile, pushgateway)
    try:
        with faults.counted_by(export.heard):
            yield export.records
    finally:
        export.publish()


def check_textfile(path: Path | None) -> None:
    if path is None:
        return
    if path.suffix != ".prom":
        raise BadInput(f"--metrics-textfile {path}: node_exporter's textfile collector reads only "
                       "files ending in .prom; name it e.g. drillbook.prom")
    if not path.parent.is_dir():
        raise BadInput(f"--metrics-textfile {path}: folder {path.parent} does not exist; give a file in "
                       "node_exporter's --collector.textfile.directory")


def check_gateway(url: str | None) -> None:
    if url is None:
        return
    parts = urllib.parse.urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadInput(f"--pushgateway {url!r}: give the Pushgateway's address, e.g. http://127.0.0.1:9091")


# -- the series ----------------------------------------------------------------------------------
def run_metrics(settings: Settings, drills: Mapping[str, Any], names: Sequence[str],
                records: Iterable[dict[str, Any]], failures: Iterable[Failure]) -> DrillMetrics:
    """A fresh registry with the server's series of ``names``, from their records."""
    records = list(records)
    metrics = DrillMetrics()
    metrics.set_build(next(((r.get("versions") or {}).get("restic") for r in reversed(records)
                            if (r.get("versions") or {}).get("restic")), None))
    for fault, target, drill in failures:
        metrics.count_failure(fault, target, drill)
    for name in names:
        drill = drills[name]
        metrics.declare(name, drill)
        runs = recent_runs(settings.reports_dir, name)
        metrics.set_last(name, runs[0] if runs else None,
                         next((r for r in runs if r.get("status") == Status.PASSED), None))
        metrics.set_forecast(name, trend.of_records(runs), utc_now())
        interval = longest_gap(drill.schedule, drill.timezone) if drill.schedule else None
        metrics.set_cadence(name, interval, first_run(settings.reports_dir, name))
    for record in records:
        metrics.observe_run(str(record.get("drill")), str(record.get("status")), _duration(record))
    return metrics


def first_run(reports: Path, name: str) -> float | None:
    """Start of the drill's oldest recorded run: since then it is expected to pass (run ids sort by time)."""
    folder = reports / name
    if not folder.is_dir():
        return None
    for run_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        record = read_record(run_dir / RUN_FILE)
        if record and record.get("kind", "drill") == "drill" and record.get("started_at"):
            try:
                return parse_iso(record["started_at"]).timestamp()
            except ValueError:
                continue
    return None


def _duration(record: dict[str, Any]) -> float:
    try:
        return (parse_iso(record["finished_at"]) - parse_iso(record["started_at"])).total_seconds()
    except (KeyError, TypeError, ValueError):
        return 0.0


def families(metrics: DrillMetrics) -> list[Metric]:
    return [f for f in metrics.registry.collect() if f.name in RUN_FAMILIES]


# -- textfile ------------------------------------------------------------------------------------
def write_textfile(path: Path, metrics: DrillMetrics, names: Iterable[str]) -> None:
    """Merge this run's series into ``path`` (see the module's doc) and replace it in one rename."""
    with file_lock(path.with_name(path.name + ".lock"), timeout=LOCK_TIMEOUT, mode=0o600):
        try:
            old = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            old = ""
        merged = merge(families(metrics), _parse(path, old), set(names))
        write_text_atomic(path, as_text(merged), mode=TEXTFILE_MODE)


def _parse(path: Path, text: str) -> list[Metric]:
    try:
        return list(text_string_to_metric_families(text))
    except ValueError as exc:  # a broken file would break node_exporter's whole textfile collector
        log.warning("metrics textfile %s does not parse (%s): it is written anew", path, exc)
        return []


def merge(new: Iterable[Metric], old: Iterable[Metric], drills: set[str]) -> list[Metric]:
    """This run's families over the file's: see the module's doc for the rules."""
    previous = {family.name: family for family in old}
    out = []
    for family in new:
        before = previous.pop(family.name, None)
        if before is not None:
            if family.type in CUMULATIVE:
                family.samples = _added(family.samples, before.samples)
            elif any("drill" in s.labels for s in family.samples):
                family.samples = [s for s in before.samples if s.labels.get("drill") not in drills] + family.samples
        out.append(family)
    return out + list(previous.values())  # families this run has nothing of are kept as they were


def _added(new: list[Sample], old: list[Sample]) -> list[Sample]:
    totals = {_key(s): s for s in old}
    for sample in new:
        before = totals.get(_key(sample))
        totals[_key(sample)] = sample._replace(value=sample.value + before.value) if before else sample
    return list(totals.values())


def _key(sample: Sample) -> tuple[str, tuple[tuple[str, str], ...]]:
    return sample.name, tuple(sorted(sample.labels.items()))


def as_text(metric_families: list[Metric]) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(metric_families))
    return generate_latest(registry).decode("utf-8")


class _Fixed:
    """A collector that gives what it was given (merged families are no longer live metrics)."""

    def __init__(self, metric_families: list[Metric]):
        self.metric_families = metric_families

    def collect(self) -> Iterator[Metric]:
        return iter(self.metric_families)


# -- pushgateway ---------------------------------------------------------------------------------
def push(url: str, name: str, metrics: DrillMetrics) -> None:
    """PUT the drill's series to its group ``job=drillbook, drill=<name>`` (loopback or as given)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(families(metrics)))
    push_to_gateway(url, job=JOB, registry=registry, grouping_key={"drill": name}, timeout=PUSH_TIMEOUT)
