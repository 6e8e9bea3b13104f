"""A drill whose drillbook is SIGKILLed leaves a record and a sandbox; cleanup finishes both."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from drillbook.sandbox.launcher import descendants
from drillbook.util.atomic import write_json_atomic
from drillbook.util.procfs import alive, process_start
from tests.support import write_drill, write_orphan_record

SLEEPER = """\
verify:
  - type: command
    run: [sleep, "{seconds}"]
"""


def _start_and_wait_for(workspace, marker: str, sigint=None) -> tuple[subprocess.Popen, tuple[int, int | None]]:
    """Start ``drillbook run clinic`` (with SIGINT set to ``sigint`` when given, else inherited);
    return it once its check (the process ``marker``) runs, with that process (pid, start time).

    The check is looked for among this drillbook's own processes only: a run of the same test
    elsewhere on the machine must neither make this one signal too early nor look like a leftover.
    """
    proc = subprocess.Popen([sys.executable, "-m", "drillbook", "run", "clinic", "--plain"],
                            cwd=workspace.root, env=workspace.env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                            preexec_fn=None if sigint is None else lambda: signal.signal(signal.SIGINT, sigint))
    deadline = time.monotonic() + 60
    while not (found := [pid for pid in descendants(proc.pid) if _cmdline(pid) == marker]):
        assert time.monotonic() < deadline and proc.poll() is None, "the check never started"
        time.sleep(0.1)
    return proc, (found[0], process_start(found[0]))


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _gone(check: tuple[int, int | None]) -> bool:
    """That very process no longer runs (a zombie counts as gone; a reused pid is another process)."""
    pid, start = check
    return not alive(pid, start)


def test_sigkilled_drill_is_cleaned_up_and_marked_aborted(workspace, repo):
    write_drill(workspace.drills, "clinic", repo.path, body=SLEEPER.format(seconds="60.75"))
    proc, check = _start_and_wait_for(workspace, "sleep 60.75")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    run = workspace.last_run("clinic")
    assert run["status"] == "running"
    assert [p.name for p in workspace.sandboxes.iterdir()] == [run["run_id"]]

    result = workspace.cli("cleanup")
    assert result.returncode == 0, result.stderr
    assert f"run {run['run_id']}" in result.stdout and "no longer exists" in result.stdout
    run = workspace.last_run("clinic")
    assert run["status"] == "aborted"
    assert "drillbook stopped before finishing this run" in run["reason"]
    assert run["phases"][-1]["name"] == "cleanup" and run["cleanup"]["sandbox_removed"] is True
    assert list(workspace.sandboxes.iterdir()) == []
    assert _gone(check)
    folder = workspace.reports / "clinic" / run["run_id"]
    assert "aborted" in (folder / "report.html").read_text()
    assert "no stale runs" in workspace.cli("cleanup").stdout


def test_run_cleans_up_stale_runs_first_and_kills_their_leftovers(workspace, repo):
    """A stale record (dead owner) whose sandbox still has a process in it, as after a crash."""
    run_id = "20260101T000000Z-abcdef"
    sandbox = workspace.sandboxes / run_id
    (sandbox / "restore").mkdir(parents=True)
    leftover = subprocess.Popen(["sleep", "59.25"], cwd=sandbox / "restore")
    write_orphan_record(workspace.reports, "clinic", run_id, sandbox)
    live = workspace.reports / "other" / "20260101T000001Z-live01" / "run.json"
    write_json_atomic(live, {"run_id": "x", "drill": "other", "status": "running",
                             "process": {"pid": 1, "host": __import__("socket").gethostname()}})
    write_drill(workspace.drills, "clinic", repo.path, body=SLEEPER.format(seconds="0.1"))
    result = workspace.cli("run", "clinic")
    assert result.returncode == 0, result.stderr
    assert f"cleaned up stale run clinic {run_id}" in result.stderr
    assert leftover.wait(timeout=10) == -signal.SIGKILL
    stale = json.loads((workspace.reports / "clinic" / run_id / "run.json").read_text())
    assert stale["status"] == "aborted" and stale["cleanup"]["killed"] == 1
    assert not sandbox.exists()
    assert json.loads(live.read_text())["status"] == "running"  # pid 1 is alive: never touched


def test_a_broken_drill_file_does_not_stop_cleanup_from_finishing_a_stale_run(workspace):
    """cleanup needs drillbook.yaml only (the folders, the project's targets): a drill file that
    cannot be read, here a FIFO that would block any reader, is none of its business."""
    inbox = workspace.root / "inbox.json"
    command = json.dumps([sys.executable, "-c", f"import sys; open({str(inbox)!r}, 'w').write(sys.stdin.read())"])
    (workspace.drills / "drillbook.yaml").write_text(f"notify:\n  - {{command: {command}, on: [always]}}\n")
    os.mkfifo(workspace.drills / "broken.yaml")
    (workspace.drills / "clinic.yaml").write_text("objectives: {rto: [\n")
    run_id = "20260101T000000Z-abcdef"
    write_orphan_record(workspace.reports, "clinic", run_id)
    result = workspace.cli("cleanup", timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"cleaned up drill clinic run {run_id}" in result.stdout
    stale = json.loads((workspace.reports / "clinic" / run_id / "run.json").read_text())
    assert stale["status"] == "aborted"
    assert [n["status"] for n in stale["notifications"]] == ["sent"]
    assert json.loads(inbox.read_text())["status"] == "aborted"


def test_sigint_tears_down_and_records_aborted(workspace, repo):
    write_drill(workspace.drills, "clinic", repo.path, body=SLEEPER.format(seconds="58.5"))
    proc, check = _start_and_wait_for(workspace, "sleep 58.5")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130  # 128 + SIGINT: stopped, not failed
    run = workspace.last_run("clinic")
    assert run["status"] == "aborted" and "SIGINT" in run["reason"]
    assert list(workspace.sandboxes.iterdir()) == []
    assert _gone(check)


def test_sigint_stops_a_drill_started_with_sigint_ignored(workspace, repo):
    """A shell starts a background job (and all it starts) with SIGINT ignored: a drillbook started
    that way must still stop on a ``kill -INT`` and tear down, not run its drill to the end."""
    write_drill(workspace.drills, "clinic", repo.path, body=SLEEPER.format(seconds="57.25"))
    proc, check = _start_and_wait_for(workspace, "sleep 57.25", sigint=signal.SIG_IGN)
    try:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 130
    finally:
        proc.kill()
    run = workspace.last_run("clinic")
    assert run["status"] == "aborted" and "SIGINT" in run["reason"]
    assert list(workspace.sandboxes.iterdir()) == []
    assert _gone(check)
