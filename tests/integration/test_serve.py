"""The real `drillbook serve` as a subprocess: on time, never overlapping, observable, alerting."""

from __future__ import annotations

import itertools
import json
import signal
import sqlite3
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devtools.receiver import Receiver
from drillbook.util.clock import parse_iso
from tests.integration.serving import Serve
from tests.support import STANDARD_CHECKS, Workspace, write_drill, write_orphan_record


@pytest.fixture
def serving(workspace):
    started: list[Serve] = []

    def start(*args: str) -> Serve:
        server = Serve([sys.executable, "-m", "drillbook", "serve", *args], workspace.root, workspace.env())
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()


def interval(run: dict[str, Any]) -> tuple[datetime, datetime]:
    return parse_iso(run["started_at"]), parse_iso(run["finished_at"])


def test_two_drills_run_on_schedule_one_at_a_time_with_metrics(workspace, repo, serving):
    for name in ("alpha", "beta"):
        write_drill(workspace.drills, name, repo.path, body=STANDARD_CHECKS + "schedule: every 4s\n")
    server = serving("--concurrency", "1", "--metrics-port", "0")
    finished = server.wait_for("drill-finish", count=4, timeout=40, status="passed")

    metrics = urllib.request.urlopen(server.url("/metrics"), timeout=5).read().decode()
    health = json.loads(urllib.request.urlopen(server.url("/healthz"), timeout=5).read())
    code, took = server.stop()
    assert code == 0 and took < 15

    for name in ("alpha", "beta"):
        assert f'drillbook_drill_rto_target_seconds{{drill="{name}"}} 600.0' in metrics
        assert f'drillbook_drill_next_run_timestamp_seconds{{drill="{name}"}}' in metrics
    assert 'drillbook_drill_runs_total{drill="alpha",status="passed"}' in metrics
    assert health["ok"] is True and health["drills"] == 2

    runs = workspace.runs("alpha") + workspace.runs("beta")
    done = [r for r in runs if r["status"] != "running"]
    assert len(done) == len(runs) >= 4, "a run was left unfinished"
    assert all(r["status"] == "passed" and r["trigger"] == "schedule" for r in done)
    spans = sorted(interval(r) for r in done)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start, "two drills ran at the same time with --concurrency 1"
    started_ids = {e["run_id"] for e in server.events("drill-start")}
    assert {e["run_id"] for e in finished} <= started_ids
    assert all(float(e["duration"]) > 0 for e in finished)
    assert server.events("serve-stop")[0]["exit"] == "0"


def test_failing_drill_alerts_the_webhook_and_an_overrun_is_stopped(workspace, repo, serving):
    with Receiver() as receiver:
        write_drill(workspace.drills, "broken", repo.path, body=(
            "schedule: every 5s\n"
            "verify:\n  - {type: files, path: srv/clinic/docs, min_count: 100000}\n"
            f"notify:\n  - {{webhook: '{receiver.url}/alert?token=s3cr3t', on: [failure]}}\n"))
        write_drill(workspace.drills, "slow", repo.path, rto="1s", body=(
            "schedule: every 5s\n"
            "verify:\n  - {type: command, run: [sleep, '30']}\n"))
        server = serving("--concurrency", "2", "--overrun-factor", "2", "--abort-grace", "5s")
        server.wait_for("drill-finish", drill="broken", status="failed", timeout=30)
        slow = server.wait_for("drill-finish", drill="slow", status="failed", timeout=30)[0]
        posts = receiver.wait_for(1)
        code, _ = server.stop()
    assert code == 0
    alert = posts[0]["body"]
    assert posts[0]["path"] == "/alert?token=s3cr3t"
    assert alert["drill"] == "broken" and alert["status"] == "failed" and alert["trigger"] == "schedule"
    broken = workspace.runs("broken")[0]
    assert broken["notifications"][0]["status"] == "sent"
    assert "s3cr3t" not in json.dumps(broken) and "s3cr3t" not in server.log.read_text()

    assert "ran longer than 2 x its RTO" in slow["reason"]
    run = next(r for r in workspace.runs("slow") if r["run_id"] == slow["run_id"])
    assert run["status"] == "failed" and "2 x its RTO (1s)" in run["reason"]
    assert float(slow["duration"]) < 10  # stopped at 2 s, not after the 30 s sleep
    assert not any(workspace.sandboxes.iterdir()), "the overrun drill's sandbox was not torn down"


def _set_next_run(state: Path, job_id: str, when: datetime) -> None:
    """Pretend the server was down when this job was due (what a long outage leaves behind): it
    had known the drill for an hour before that next run, which then passed while it was down."""
    conn = sqlite3.connect(state / "schedule.sqlite")
    updated = conn.execute("update drillbook_drills set next_run = ?, scheduled_since = ? where name = ?",
                           (when.timestamp(), (when - timedelta(hours=1)).timestamp(),
                            job_id.removeprefix("drill:"))).rowcount
    conn.commit()
    conn.close()
    assert updated == 1


def next_runs(workspace: Workspace) -> dict[str, str]:
    result = workspace.cli("schedule", "--json")
    assert result.returncode == 0, result.stderr
    return {d["drill"]: d["next_run"] for d in json.loads(result.stdout)["drills"]}


def test_restart_keeps_next_run_times_and_catches_up_once(workspace, repo, serving):
    write_drill(workspace.drills, "jittered", repo.path, body="schedule: every 1h\njitter: 50m\n")
    write_drill(workspace.drills, "missed", repo.path, body=STANDARD_CHECKS + "schedule: every 1h\n")
    first = serving()
    first.wait_for("serve-start")
    assert first.stop()[0] == 0
    before = next_runs(workspace)

    second = serving()
    second.wait_for("serve-start")
    assert second.stop()[0] == 0
    assert next_runs(workspace) == before  # the random jitter too: it was kept, not recomputed

    # down for three hours: three due times missed, one catch-up run
    _set_next_run(workspace.state, "drill:missed", datetime.now(UTC) - timedelta(hours=3))
    third = serving()
    third.wait_for("drill-finish", drill="missed", status="passed", timeout=30)
    time.sleep(2)
    assert third.stop()[0] == 0
    assert len(workspace.runs("missed")) == 1
    assert third.wait_for("drill-catch-up", drill="missed")
    after = datetime.fromisoformat(next_runs(workspace)["missed"].replace("Z", "+00:00"))
    assert after > datetime.now(UTC)


def test_no_scheduler_state_is_pickled_and_a_run_missed_while_down_is_caught_up_once(
        workspace, repo, serving):
    write_drill(workspace.drills, "nightly", repo.path, body=STANDARD_CHECKS + "schedule: every 1h\n")
    first = serving()
    first.wait_for("serve-start")
    assert first.stop()[0] == 0
    conn = sqlite3.connect(workspace.state / "schedule.sqlite")
    tables = {row[0] for row in conn.execute("select name from sqlite_master where type = 'table'")}
    assert tables == {"drillbook_drills"}, "APScheduler's jobs were stored"
    columns = [row[1] for row in conn.execute("pragma table_info(drillbook_drills)")]
    kinds = {kind for column in columns
             for (kind,) in conn.execute(f"select typeof({column}) from drillbook_drills")}
    assert "blob" not in kinds
    # the server knew the drill for three hours; its next run passed two hours ago while it was down
    now = datetime.now(UTC)
    conn.execute("update drillbook_drills set scheduled_since = ?, next_run = ? where name = 'nightly'",
                 ((now - timedelta(hours=3)).timestamp(), (now - timedelta(hours=2)).timestamp()))
    conn.commit()
    conn.close()

    second = serving()
    second.wait_for("drill-finish", drill="nightly", status="passed", timeout=60)
    time.sleep(2)
    assert second.stop()[0] == 0
    assert len(second.events("drill-catch-up")) == 1 and len(workspace.runs("nightly")) == 1
    assert datetime.fromisoformat(next_runs(workspace)["nightly"].replace("Z", "+00:00")) > datetime.now(UTC)

    third = serving()  # the catch-up ran: nothing is owed any more
    third.wait_for("serve-start")
    time.sleep(2)
    assert third.stop()[0] == 0
    assert not third.events("drill-catch-up") and len(workspace.runs("nightly")) == 1


def test_a_changed_drill_file_is_picked_up_and_a_broken_one_keeps_its_schedule(workspace, repo, serving):
    path = write_drill(workspace.drills, "alpha", repo.path, body=STANDARD_CHECKS + "schedule: every 1h\n")
    server = serving()
    server.wait_for("serve-start")

    write_drill(workspace.drills, "alpha", repo.path, body=STANDARD_CHECKS + "schedule: every 3s\n")
    server.wait_for("drill-rescheduled", drill="alpha", schedule="every 3s")
    server.wait_for("drill-finish", drill="alpha", status="passed", timeout=20)

    path.write_text(path.read_text().replace("every 3s", "every fortnight"))
    problem = server.wait_for("spec-problem")[0]["problem"]
    assert problem.startswith(f"{path}:") and "every fortnight" in problem
    server.wait_for("schedule-kept", drill="alpha")

    write_drill(workspace.drills, "beta", repo.path, body=STANDARD_CHECKS + "schedule: daily\n")
    server.wait_for("drill-scheduled", drill="beta")
    reloads = len(server.events("reloaded"))
    server.proc.send_signal(signal.SIGHUP)
    server.wait_for("reloaded", count=reloads + 1)
    errors = [e for e in server.events("drill-finish") if e["status"] == "error"]
    assert all("every fortnight" in e["reason"] for e in errors)  # runs of the kept schedule say why
    code, took = server.stop()
    assert code == 0 and took < 15


def test_sigterm_lets_a_run_finish_within_grace_then_aborts_it(workspace, repo, serving):
    write_drill(workspace.drills, "hung", repo.path, body=(
        "schedule: every 2s\n"
        "verify:\n  - {type: command, run: [sleep, '60']}\n"))
    server = serving("--grace", "2s", "--abort-grace", "10s")
    start = server.wait_for("drill-start", drill="hung")[0]
    code, took = server.stop()
    assert code == 0 and 2 <= took < 12
    assert server.events("abort-running")[0]["drills"] == "hung"
    finish = server.events("drill-finish")[0]
    assert finish["status"] == "aborted" and finish["run_id"] == start["run_id"]
    run = workspace.last_run("hung")
    assert run["status"] == "aborted" and "SIGTERM" in run["reason"]
    assert not any(workspace.sandboxes.iterdir())


def test_serve_finishes_runs_left_running_by_a_crash_before_it_starts(workspace, repo, serving):
    """A record whose owner process is gone is marked aborted as soon as the server starts."""
    run_id = "20260101T000000Z-dead01"
    write_orphan_record(workspace.reports, "clinic", run_id)
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)  # on demand only
    server = serving("--concurrency", "1")
    server.wait_for("stale-run-reaped", run_id=run_id)
    assert server.stop()[0] == 0
    record = json.loads((workspace.reports / "clinic" / run_id / "run.json").read_text())
    assert record["status"] == "aborted" and record["reason"]


def test_drill_made_on_demand_keeps_its_metrics(workspace, repo, serving):
    write_drill(workspace.drills, "alpha", repo.path, body=STANDARD_CHECKS + "schedule: daily\n")
    server = serving("--metrics-port", "0")
    server.wait_for("serve-start")
    url = server.url("/metrics")
    assert 'drillbook_drill_rto_target_seconds{drill="alpha"}' in urllib.request.urlopen(url, timeout=5).read().decode()

    write_drill(workspace.drills, "alpha", repo.path, body=STANDARD_CHECKS)  # now on demand
    server.wait_for("drill-unscheduled", drill="alpha")
    server.wait_for("serve-start")
    metrics = urllib.request.urlopen(url, timeout=5).read().decode()
    assert 'drillbook_drill_rto_target_seconds{drill="alpha"}' in metrics
    assert server.stop()[0] == 0
