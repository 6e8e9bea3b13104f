"""drillbook as a scripting citizen, on real runs: exit codes of a stopped run, --json on stdout,
every stderr line a JSON record with --log-format json."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.serving import Serve
from tests.support import STANDARD_CHECKS, Repo, Workspace, write_drill


def _slow_restic(tmp_path: Path, marker: Path, seconds: str) -> Path:
    """restic, except that ``restore`` announces itself in ``marker`` and then takes its time."""
    wrapper = tmp_path / "restic-slow-restore"
    wrapper.write_text(f'#!/bin/sh\nif [ "$1" = restore ]; then touch {marker}; exec sleep {seconds}; fi\n'
                       'exec restic "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_mid_restore_aborts_the_run_and_exits_128_plus_its_number(
        workspace: Workspace, repo: Repo, tmp_path: Path, sig: signal.Signals, code: int) -> None:
    marker = tmp_path / "restore-started"
    seconds = f"{61 + int(sig) / 100:.2f}"
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    env = workspace.env(DRILLBOOK_RESTIC=str(_slow_restic(tmp_path, marker, seconds)))
    proc = subprocess.Popen([sys.executable, "-m", "drillbook", "run", "clinic", "--plain"], cwd=workspace.root,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert time.monotonic() < deadline and proc.poll() is None, "the restore never started"
            time.sleep(0.05)
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == code, stderr
    run = workspace.last_run("clinic")
    assert run["status"] == "aborted" and sig.name in run["reason"]
    assert list(workspace.sandboxes.iterdir()) == []
    assert subprocess.run(["pgrep", "-f", f"sleep {seconds}"], capture_output=True).returncode == 1


def test_a_json_run_prints_one_object_and_logs_only_json_records(workspace: Workspace, repo: Repo) -> None:
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    done = workspace.cli("--log-format", "json", "run", "clinic", "--json")
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    result = json.loads(line)
    run = workspace.last_run("clinic")
    assert (result["drill"], result["run_id"], result["status"], result["exit_code"]) == (
        "clinic", run["run_id"], "passed", 0)
    assert Path(result["reports"]["html"]).is_file() and Path(result["reports"]["json"]).is_file()
    assert result["rto"]["target_seconds"] == 600 and result["rto"]["met"] is True
    assert result["rpo"]["seconds"] == run["objectives"]["rpo"]["measured_seconds"]
    records = [json.loads(text) for text in done.stderr.splitlines()]
    events = [r["event"] for r in records if "event" in r]
    assert events[0] == "start" and events[-1] == "finish" and "phase-end" in events
    assert all(r["ts"].endswith("Z") and r["level"] in ("info", "warning") for r in records)
    assert {r["run_id"] for r in records if "run_id" in r} == {run["run_id"]}


def test_logfmt_lines_of_a_failing_run_all_parse(workspace: Workspace, repo: Repo) -> None:
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS, snapshot="{tags: [monthly]}")
    done = workspace.cli("--log-format", "logfmt", "run", "clinic")
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert lines and all(line.startswith("ts=") and " level=" in line for line in lines), done.stderr
    assert any("event=finish" in line and "status=failed" in line and "level=warning" in line for line in lines)


def test_serve_in_json_logs_its_events_and_its_childrens_records_one_json_object_a_line(
        workspace: Workspace, repo: Repo) -> None:
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS + "schedule: every 4s\n")
    server = Serve([sys.executable, "-m", "drillbook", "--log-format", "json", "serve"], workspace.root,
                   workspace.env())
    try:
        deadline = time.monotonic() + 60
        while '"event": "drill-finish"' not in server.log.read_text():
            assert time.monotonic() < deadline and server.proc.poll() is None, server.log.read_text()
            time.sleep(0.2)
        assert server.stop()[0] == 0
    finally:
        server.kill()
    records = [json.loads(line) for line in server.log.read_text().splitlines()]
    finish = next(r for r in records if r.get("event") == "drill-finish")
    assert finish["logger"] == "drillbook.serve" and finish["status"] == "passed"
    child = [r for r in records if r["logger"] == "drillbook.run" and r.get("run_id") == finish["run_id"]]
    assert [r["event"] for r in child][:1] == ["start"] and child[-1]["event"] == "finish"
    assert all(r["drill"] == "clinic" and "msg" not in r for r in child)  # records, not quoted lines
