"""Site workers against a real Redis and real worker processes: one schedule, ledger and report."""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import sys
import tarfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from drillbook.settings import Settings
from drillbook.sites.central import Central, connect
from drillbook.spec.loader import load_project
from tests.integration.serving import Serve
from tests.integration.sitefixtures import (
    BROKER_ENV,
    BROKER_PASSWORD,
    Redis,
    Worker,
    central_env,
    project_yaml,
    start_redis,
    start_worker,
    start_workers,
    until,
)
from tests.support import PASSWORD, STANDARD_CHECKS, Workspace, make_repo, write_drill

pytestmark = pytest.mark.integration
WEBHOOK_TOKEN = "hook-token-7d41aa"
AWS_SECRET = "aws-secret-9f03be"
SLOW = """\
  - type: command
    run: [sleep, "3"]
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Workspace, Redis, dict[str, Worker]]]:
    """One Redis, two sites with one worker each, and drills for both; shared by the module's tests."""
    root = tmp_path_factory.mktemp("sites")
    workspace = Workspace(root / "ws")
    for folder in (workspace.drills, workspace.reports, workspace.sandboxes, workspace.state):
        folder.mkdir(parents=True)
    repo = make_repo(root)
    repo.backup()
    (root / "repo-path").write_text(str(repo.path))
    server = start_redis(root)
    (workspace.drills / "drillbook.yaml").write_text(project_yaml(server.url))
    notify = f"notify:\n  - {{webhook: 'http://127.0.0.1:9/hooks/{WEBHOOK_TOKEN}', on: [failure]}}\n"
    write_drill(workspace.drills, "east-docs", repo.path, body=STANDARD_CHECKS + "site: clinic-east\n" + notify)
    write_drill(workspace.drills, "west-docs", repo.path, body=STANDARD_CHECKS + SLOW + "site: clinic-west\n")
    write_drill(workspace.drills, "west-quick", repo.path, body=STANDARD_CHECKS + "site: clinic-west\n")
    write_drill(workspace.drills, "west-long", repo.path, body=STANDARD_CHECKS + SLOW.replace('"3"', '"60"')
                + "site: clinic-west\n")
    workers: dict[str, Worker] = {}
    try:
        workers = start_workers(workspace, ["clinic-east", "clinic-west"], AWS_SECRET_ACCESS_KEY=AWS_SECRET)
        yield workspace, server, workers
    finally:
        for worker in workers.values():
            worker.stop()
        server.stop()


@pytest.fixture
def repo_path(site) -> str:
    return (site[0].root.parent / "repo-path").read_text()


def dispatch(workspace: Workspace, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "drillbook", "dispatch", *args], cwd=workspace.root,
                          env=central_env(workspace), capture_output=True, text=True, timeout=timeout)


class Monitor:
    """Every command Redis receives while it runs (MONITOR), as text."""

    def __init__(self, server: Redis):
        self.seen: list[str] = []
        self.ready = threading.Event()
        self.monitor = server.client().monitor()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        assert self.ready.wait(5)

    def _read(self) -> None:
        try:
            with self.monitor as monitor:
                self.ready.set()
                for command in monitor.listen():
                    self.seen.append(str(command.get("command")))
        except Exception:  # closed at the end of the test
            return

    def text(self) -> str:
        self.monitor.connection.disconnect()
        self.thread.join(5)
        return "\n".join(self.seen)


def carried_folders(seen: str) -> list[bytes]:
    """The run folders the results carried through Redis (seen by MONITOR), unpacked: each file's bytes."""
    found = []
    for blob in set(re.findall(r'folder\\*": \\*"([A-Za-z0-9+/=]+)', seen)):
        with tarfile.open(fileobj=io.BytesIO(base64.b64decode(blob))) as tar:
            found += [tar.extractfile(m).read() for m in tar if m.isreg()]
    return found


def test_two_sites_each_drill_on_its_own_worker_sealed_centrally_no_secret_in_the_broker(site):
    workspace, server, workers = site
    monitor = Monitor(server)
    done = dispatch(workspace, "east-docs", "west-docs", "--wait")
    seen = monitor.text()
    assert done.returncode == 0, done.stdout + done.stderr

    east, west = workspace.last_run("east-docs"), workspace.last_run("west-docs")
    assert east["status"] == west["status"] == "passed"
    assert east["site"]["name"] == "clinic-east" and east["site"]["worker"] == "clinic-east@test"
    assert west["site"]["name"] == "clinic-west" and west["site"]["worker"] == "clinic-west@test"
    # each ran on its own worker only: the other worker's staging folder never saw it
    assert not (workers["clinic-west"].root / "reports" / "east-docs").exists()
    assert not (workers["clinic-east"].root / "reports" / "west-docs").exists()
    # one site never waits behind the other: east (no sleep) finished while west was still running
    assert east["finished_at"] < west["finished_at"] and west["started_at"] < east["finished_at"]

    verify = subprocess.run([sys.executable, "-m", "drillbook", "evidence", "verify"], cwd=workspace.root,
                            env=central_env(workspace), capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    ledger = (workspace.reports / "evidence" / "ledger.jsonl").read_text()
    assert east["run_id"] in ledger and west["run_id"] in ledger
    assert not list(workers["clinic-east"].root.glob("reports/evidence/*.jsonl"))  # workers seal nothing
    index = (workspace.reports / "index.html").read_text()
    assert east["run_id"] in index and west["run_id"] in index

    assert "east-docs" in seen and "celery-task-meta" in seen  # the monitor did see the traffic
    folders = b"\n".join(carried_folders(seen)).decode("utf-8", "replace")
    assert east["run_id"] in folders
    for secret in (PASSWORD, BROKER_PASSWORD, WEBHOOK_TOKEN, AWS_SECRET):
        assert secret not in seen, f"{secret!r} went through the broker"
        assert secret not in folders, f"{secret!r} is in a run folder in the results"


def test_a_drill_with_a_run_open_is_not_dispatched_twice(site):
    workspace, _server, _workers = site
    first = dispatch(workspace, "east-docs")
    again = dispatch(workspace, "east-docs", "--wait")
    assert first.returncode == 0, first.stderr
    assert again.returncode == 3, again.stdout + again.stderr
    assert "not dispatched: run" in again.stderr and "at site clinic-east" in again.stderr
    # the first run is received by whichever central process polls next (the next test's)


def cli(workspace: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "drillbook", *args], cwd=workspace.root,
                          env=central_env(workspace), capture_output=True, text=True, timeout=60)


def test_a_worker_killed_mid_drill_gives_an_aborted_run_naming_it_and_is_not_run_again(site):
    workspace, _server, workers = site
    listed = cli(workspace, "workers", "--timeout", "1")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "clinic-east@test" in listed.stdout and "clinic-west@test" in listed.stdout

    west = workers["clinic-west"]
    waiting = subprocess.Popen([sys.executable, "-m", "drillbook", "dispatch", "west-long", "--wait"],
                               cwd=workspace.root, env=central_env(workspace), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    staged = west.root / "reports" / "west-long"
    until(lambda: any(staged.glob("*/run.json")), 60, "west-long started")
    run_id = next(staged.glob("*/run.json")).parent.name
    sandbox = workspace.sandboxes / run_id
    # the record is written before its sandbox is made: wait for the sandbox, never race it
    until(sandbox.exists, 60, "west-long sandboxed")
    west.kill(run_id)
    killed_at = time.monotonic()
    out, err = waiting.communicate(timeout=60)
    took = time.monotonic() - killed_at
    record = workspace.last_run("west-long")
    assert record["run_id"] == run_id and record["status"] == "aborted", out + err
    assert "clinic-west@test" in record["reason"] and "not started again" in record["reason"]
    assert took < 3 + 6, f"recorded {took:.1f}s after the kill: 3 heartbeats of 0.5s, plus polling"
    assert waiting.returncode == 143  # as run exits for an aborted run

    listed = cli(workspace, "workers", "--timeout", "1")
    assert listed.returncode == 1
    assert "site clinic-west has drills (west-docs, west-long, west-quick) but no worker" in listed.stdout

    received = [r["run_id"] for r in workspace.runs("west-docs")]  # sent back and received before
    workers["clinic-west"] = start_worker(workspace, "clinic-west", AWS_SECRET_ACCESS_KEY=AWS_SECRET)
    left = json.loads((staged / run_id / "run.json").read_text())
    assert left["status"] == "aborted" and not sandbox.exists()  # the worker's own cleanup at its start
    # its staging copies of runs the central side received are gone; the killed run's stays (never sent)
    assert not set(names_in(west.root / "reports" / "west-docs")) & set(received)
    assert not (west.root / "reports" / "evidence").exists()  # and it sealed nothing
    nxt = dispatch(workspace, "west-quick", "--wait")
    assert nxt.returncode == 0, nxt.stdout + nxt.stderr
    assert [r["status"] for r in workspace.runs("west-long")] == ["aborted"]  # the killed run never ran again
    assert sorted(p.name for p in staged.iterdir()) == [run_id]


def ledger_entries(workspace: Workspace, run_id: str) -> list[dict[str, object]]:
    lines = (workspace.reports / "evidence" / "ledger.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e.get("run_id") == run_id]


def test_serve_dispatches_due_runs_and_a_restarted_scheduler_still_receives_what_was_running(site, repo_path):
    workspace, _server, _workers = site
    write_drill(workspace.drills, "east-sched", repo_path, body=STANDARD_CHECKS + SLOW.replace('"3"', '"2"')
                + "site: clinic-east\nschedule: every 3s\n")
    argv = [sys.executable, "-m", "drillbook", "serve", "--grace", "1s", "--metrics-port", "0"]
    first = Serve(argv, workspace.root, central_env(workspace))
    try:
        run_id = first.wait_for("drill-dispatched", timeout=30, drill="east-sched")[0]["run_id"]
        code, _took = first.stop()
        assert code == 0
        assert not (workspace.reports / "east-sched" / run_id).exists()  # still at its site
        second = Serve(argv, workspace.root, central_env(workspace))
        try:
            received = second.wait_for("drill-received", timeout=40, run_id=run_id)[0]
            assert received["status"] == "passed" and received["worker"] == "clinic-east@test"
            later = second.wait_for("drill-finish", timeout=40, drill="east-sched", status="passed")[0]
            assert later["run_id"] != run_id  # the next due run proceeds, dispatched by the new scheduler
            metrics = urllib.request.urlopen(second.url("/metrics"), timeout=5).read().decode()
            assert 'drillbook_site_runs_total{drill="east-sched",site="clinic-east",status="passed"}' in metrics
        finally:
            second.stop()
    finally:
        first.kill()
        (workspace.drills / "east-sched.yaml").unlink()
    assert len(ledger_entries(workspace, run_id)) == 1  # written and sealed once
    record = json.loads((workspace.reports / "east-sched" / run_id / "run.json").read_text())
    assert record["trigger"] == "schedule" and record["site"]["name"] == "clinic-east"


def test_a_broker_restart_loses_no_run_and_runs_none_twice(site, repo_path, monkeypatch):
    workspace, server, workers = site
    write_drill(workspace.drills, "north-docs", repo_path, body=STANDARD_CHECKS + "site: clinic-north\n")
    try:
        staged = workers["clinic-west"].root / "reports" / "west-docs"
        before, west_before = set(names_in(staged)), len(workspace.runs("west-docs"))
        queued = dispatch(workspace, "north-docs")  # no worker at clinic-north yet: it waits in its queue
        running = dispatch(workspace, "west-docs")
        assert queued.returncode == running.returncode == 0, queued.stderr + running.stderr
        until(lambda: set(names_in(staged)) - before, 30, "west-docs started on its worker")
        server.stop()
        server.start()  # without persistence: the queued message is gone, the running one's state too
        workers["clinic-north"] = start_worker(workspace, "clinic-north")
        assert dispatch(workspace, "west-docs").returncode == 3  # its first run is still open: not run twice
        central = receiver(workspace, monkeypatch)
        until(lambda: central.poll() is not None and workspace.runs("north-docs")
              and len(workspace.runs("west-docs")) == west_before + 1, 60, "both runs received")
        central.close()
    finally:
        (workspace.drills / "north-docs.yaml").unlink()
    assert [r["status"] for r in workspace.runs("north-docs")] == ["passed"]
    north = workspace.runs("north-docs")[0]
    assert len(ledger_entries(workspace, north["run_id"])) == 1
    assert len(list((workers["clinic-north"].root / "reports" / "north-docs").iterdir())) == 1  # run once
    west_ids = [r["run_id"] for r in workspace.runs("west-docs")]
    assert len(west_ids) == len(set(west_ids)) and all(len(ledger_entries(workspace, i)) == 1 for i in west_ids)
    shown = cli(workspace, "schedule")
    assert "republished" in shown.stdout and "north-docs" in shown.stdout, shown.stdout + shown.stderr


def names_in(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir()] if folder.is_dir() else []


def receiver(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> Central:
    """The central side in this process: its polls are what serve does every half second."""
    monkeypatch.setenv(BROKER_ENV, BROKER_PASSWORD)
    settings = Settings(drills_dir=workspace.drills, reports_dir=workspace.reports, state_dir=workspace.state,
                        sandbox_root=workspace.sandboxes, runbooks_dir=workspace.root / "runbooks")
    project = load_project(workspace.drills)[0]
    return Central(settings, project, connect(project.workers, workspace.drills))
