"""``drillbook run --metrics-textfile/--pushgateway``: the server's series of a run, for cron installs."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from devtools.receiver import Receiver
from drillbook.errors import BadInput
from drillbook.outputs import faults
from drillbook.outputs.faults import Fault
from drillbook.serve import export
from drillbook.settings import Settings
from drillbook.spec.models import Duration
from drillbook.util.atomic import write_json_atomic
from drillbook.util.clock import parse_iso

TARGET = "webhook https://hooks.example.org/***"


def drill(schedule: str | None = "daily") -> SimpleNamespace:
    return SimpleNamespace(objectives=SimpleNamespace(rto=Duration("10m"), rpo=Duration("1d")),
                           schedule=schedule, timezone="UTC")


DRILLS = {"alpha": drill(), "beta": drill("every 6h"), "gamma": drill(None)}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(drills_dir=tmp_path / "drills", reports_dir=tmp_path / "reports", state_dir=tmp_path / "state")


def record(settings: Settings, name: str, status: str, day: int) -> dict[str, Any]:
    """A finished run of ``name`` on 2026-05-<day>, written where the server would read it."""
    run_id = f"202605{day:02d}T030000Z-aaaaaa"
    data = {"run_id": run_id, "drill": name, "kind": "drill", "status": status,
            "started_at": f"2026-05-{day:02d}T03:00:00.000Z", "finished_at": f"2026-05-{day:02d}T03:01:30.000Z",
            "objectives": {"rto": {"measured_seconds": 42.0}, "rpo": {"measured_seconds": 3600.0}},
            "versions": {"restic": "0.16.4"}}
    write_json_atomic(settings.reports_dir / name / run_id / "run.json", data)
    return data


def ran(settings: Settings, path: Path | None, name: str, status: str, day: int,
        failures: tuple[tuple[Fault, str], ...] = (), gateway: str | None = None) -> None:
    """One `drillbook run NAME` as the CLI wraps it: failures told during it, its record at the end."""
    with export.exporting(settings, DRILLS, [name], path, gateway) as seen:
        for fault, target in failures:
            faults.failed(fault, target, name)
        seen.append(record(settings, name, status, day))


def samples(text: str) -> dict[str, float]:
    return {f"{s.name}{dict(sorted(s.labels.items()))}": s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def ts(text: str) -> float:
    return parse_iso(text).timestamp()


def test_a_run_writes_its_drills_series_under_the_servers_names(settings, tmp_path):
    path = tmp_path / "textfile" / "drillbook.prom"
    path.parent.mkdir()
    ran(settings, path, "alpha", "passed", 6, failures=((Fault.NOTIFICATION, TARGET),))
    text = path.read_text()
    got = samples(text)
    assert got["drillbook_drill_last_status{'drill': 'alpha', 'status': 'passed'}"] == 1
    assert got["drillbook_drill_last_status{'drill': 'alpha', 'status': 'failed'}"] == 0
    assert got["drillbook_drill_last_success_timestamp_seconds{'drill': 'alpha'}"] == ts("2026-05-06T03:00:00Z")
    assert got["drillbook_drill_rto_seconds{'drill': 'alpha'}"] == 42.0
    assert got["drillbook_drill_rto_target_seconds{'drill': 'alpha'}"] == 600.0
    assert got["drillbook_drill_rpo_seconds{'drill': 'alpha'}"] == 3600.0
    assert got["drillbook_drill_runs_total{'drill': 'alpha', 'status': 'passed'}"] == 1
    assert got["drillbook_drill_duration_seconds_sum{'drill': 'alpha'}"] == 90.0
    assert got["drillbook_drill_interval_seconds{'drill': 'alpha'}"] == 86400.0
    assert got["drillbook_drill_declared_timestamp_seconds{'drill': 'alpha'}"] == ts("2026-05-06T03:00:00Z")
    assert got[f"drillbook_notification_failures_total{{'target': '{TARGET}'}}"] == 1
    assert got["drillbook_worm_upload_failures_total{}"] == 0
    assert [k for k in got if k.startswith("drillbook_build_info")] == [
        next(k for k in got if k.startswith("drillbook_build_info") and "'restic': '0.16.4'" in k)]
    assert "_created" not in text
    for server_only in ("drillbook_drills_scheduled", "drillbook_drill_overdue", "drillbook_drill_running",
                        "drillbook_spec_problems", "drillbook_drill_next_run"):
        assert server_only not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # node_exporter runs as its own account
    assert sorted(p.name for p in path.parent.iterdir()) == ["drillbook.prom", "drillbook.prom.lock"]


def test_the_mode_is_0644_whatever_the_umask(settings, tmp_path):
    path = tmp_path / "drillbook.prom"
    umask = os.umask(0o077)
    try:
        ran(settings, path, "alpha", "passed", 6)
    finally:
        os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_a_second_drill_keeps_the_first_drills_series_and_counters_add_up(settings, tmp_path):
    path = tmp_path / "drillbook.prom"
    ran(settings, path, "alpha", "passed", 6, failures=((Fault.NOTIFICATION, TARGET),))
    ran(settings, path, "beta", "failed", 6, failures=((Fault.NOTIFICATION, TARGET), (Fault.LEDGER_SEAL, "")))
    got = samples(path.read_text())
    assert got["drillbook_drill_last_status{'drill': 'alpha', 'status': 'passed'}"] == 1
    assert got["drillbook_drill_last_status{'drill': 'beta', 'status': 'failed'}"] == 1
    assert got["drillbook_drill_runs_total{'drill': 'alpha', 'status': 'passed'}"] == 1
    assert got["drillbook_drill_interval_seconds{'drill': 'beta'}"] == 6 * 3600.0
    assert got[f"drillbook_notification_failures_total{{'target': '{TARGET}'}}"] == 2
    assert got["drillbook_ledger_seal_failures_total{}"] == 1

    ran(settings, path, "alpha", "failed", 7)
    got = samples(path.read_text())
    assert got["drillbook_drill_last_status{'drill': 'alpha', 'status': 'failed'}"] == 1
    assert got["drillbook_drill_last_success_timestamp_seconds{'drill': 'alpha'}"] == ts("2026-05-06T03:00:00Z")
    assert got["drillbook_drill_runs_total{'drill': 'alpha', 'status': 'passed'}"] == 1
    assert got["drillbook_drill_runs_total{'drill': 'alpha', 'status': 'failed'}"] == 1
    assert got["drillbook_drill_duration_seconds_count{'drill': 'alpha'}"] == 2
    assert got["drillbook_drill_last_status{'drill': 'beta', 'status': 'failed'}"] == 1
    assert got[f"drillbook_notification_failures_total{{'target': '{TARGET}'}}"] == 2


def test_a_drill_that_never_passed_has_no_success_but_its_cadence_for_the_alert(settings, tmp_path):
    path = tmp_path / "drillbook.prom"
    ran(settings, path, "alpha", "failed", 6)
    ran(settings, path, "alpha", "failed", 7)
    got = samples(path.read_text())
    assert not [k for k in got if k.startswith("drillbook_drill_last_success")]
    assert got["drillbook_drill_declared_timestamp_seconds{'drill': 'alpha'}"] == ts("2026-05-06T03:00:00Z")
    assert got["drillbook_drill_interval_seconds{'drill': 'alpha'}"] == 86400.0


def test_an_interrupted_run_still_exports_what_its_record_says(settings, tmp_path):
    path = tmp_path / "drillbook.prom"
    with pytest.raises(KeyboardInterrupt), export.exporting(settings, DRILLS, ["alpha"], path, None):
        record(settings, "alpha", "aborted", 6)
        raise KeyboardInterrupt
    assert samples(path.read_text())["drillbook_drill_last_status{'drill': 'alpha', 'status': 'aborted'}"] == 1


def test_a_broken_textfile_is_written_anew(settings, tmp_path):
    path = tmp_path / "drillbook.prom"
    path.write_text("this is { not prometheus\n")
    ran(settings, path, "alpha", "passed", 6)
    assert samples(path.read_text())["drillbook_drill_runs_total{'drill': 'alpha', 'status': 'passed'}"] == 1


@pytest.mark.parametrize(("textfile", "gateway", "says"), [
    ("drillbook.txt", None, "ending in .prom"),
    ("missing/drillbook.prom", None, "does not exist"),
    (None, "ftp://127.0.0.1:9091", "Pushgateway's address"),
])
def test_bad_options_are_refused_before_anything_runs(settings, tmp_path, textfile, gateway, says):
    ran_at_all = []
    with pytest.raises(BadInput, match=says), export.exporting(
            settings, DRILLS, ["alpha"], tmp_path / textfile if textfile else None, gateway):
        ran_at_all.append(True)
    assert not ran_at_all


def test_a_push_puts_each_drills_series_in_its_own_group(settings):
    with Receiver() as gateway:
        with export.exporting(settings, DRILLS, ["alpha", "beta"], None, gateway.url) as seen:
            faults.failed(Fault.WORM_UPLOAD, "", "beta")
            seen.extend([record(settings, "alpha", "passed", 6), record(settings, "beta", "failed", 6)])
        pushes = gateway.wait_for(2)
    assert [(p["method"], p["path"]) for p in pushes] == [("PUT", "/metrics/job/drillbook/drill/alpha"),
                                                          ("PUT", "/metrics/job/drillbook/drill/beta")]
    alpha, beta = (samples(p["text"]) for p in pushes)
    assert alpha["drillbook_drill_last_status{'drill': 'alpha', 'status': 'passed'}"] == 1
    assert not [k for k in alpha if "'beta'" in k]
    assert alpha["drillbook_worm_upload_failures_total{}"] == 0
    assert beta["drillbook_worm_upload_failures_total{}"] == 1
    assert beta["drillbook_drill_last_status{'drill': 'beta', 'status': 'failed'}"] == 1


def test_an_unreachable_pushgateway_never_changes_the_run(settings, caplog):
    with Receiver(status=503) as gateway:
        ran(settings, None, "alpha", "passed", 6, gateway=gateway.url)
    assert "could not push the metrics of alpha" in caplog.text


def test_the_rto_forecast_is_exported_when_three_passed_runs_give_one(settings, tmp_path):
    """Sizes 10, 13.1, 16.2 GiB and RTOs 500, 624, 748 s: the 10m target (600 s) is already
    reached, so 0 seconds are left; beta's flat size gives no forecast and no series."""
    for day, size, rto in ((1, 10, 500), (2, 13.1, 624), (3, 16.2, 748)):
        data = record(settings, "alpha", "passed", day)
        data["objectives"]["rto"] = {"measured_seconds": rto, "target_seconds": 600.0, "target": "10m"}
        data["restore"] = {"restored": {"total_bytes": round(size * 1024**3)}}
        write_json_atomic(settings.reports_dir / "alpha" / data["run_id"] / "run.json", data)
    for day in (1, 2, 3):
        data = record(settings, "beta", "passed", day)
        data["restore"] = {"restored": {"total_bytes": 1024**3}}
        write_json_atomic(settings.reports_dir / "beta" / data["run_id"] / "run.json", data)
    path = tmp_path / "drillbook.prom"
    with export.exporting(settings, DRILLS, ["alpha", "beta"], path, None):
        pass
    got = samples(path.read_text())
    assert got["drillbook_drill_rto_forecast_seconds{'drill': 'alpha'}"] == 0
    assert not any(k.startswith("drillbook_drill_rto_forecast_seconds{'drill': 'beta'") for k in got)
