"""One run per drill across processes: a second `drillbook run` exits 3 at once, or waits its turn."""

from __future__ import annotations

import subprocess
import sys
import time

from tests.support import write_drill

SLOW = """\
verify:
  - type: command
    run: [sleep, "{seconds}"]
"""


def _start_slow(workspace, marker: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "drillbook", "run", "clinic", "--plain"],
                            cwd=workspace.root, env=workspace.env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode != 0:
        assert time.monotonic() < deadline and proc.poll() is None, "the slow check never started"
        time.sleep(0.1)
    return proc


def test_a_second_run_of_a_running_drill_exits_3_naming_the_first_then_waits_its_turn(workspace, repo):
    # long enough that, on a loaded machine too, the waiting run reaches the lock while it is held
    write_drill(workspace.drills, "clinic", repo.path, body=SLOW.format(seconds="14.75"))
    first = _start_slow(workspace, "sleep 14.75")
    try:
        holder = workspace.last_run("clinic")
        refused = workspace.cli("run", "clinic", "--plain", timeout=60)
        assert refused.returncode == 3, refused.stderr
        # at once, not after the first run: the first is still in its check when the refusal is back
        assert first.poll() is None
        assert f"pid {first.pid}" in refused.stderr and f"run {holder['run_id']}" in refused.stderr
        assert "--wait-lock" in refused.stderr
        assert len(workspace.runs("clinic")) == 1  # the refused run recorded nothing

        waited = workspace.cli("run", "clinic", "--plain", "--wait-lock", "60s", timeout=120)
        assert first.wait(timeout=60) == 0
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert waited.returncode == 0, waited.stderr
    assert "event=lock-wait" in waited.stderr and f"pid {first.pid}" in waited.stderr
    runs = workspace.runs("clinic")
    assert [r["status"] for r in runs] == ["passed", "passed"]
    one, two = sorted(runs, key=lambda r: r["started_at"])
    assert one["run_id"] == holder["run_id"] and two["started_at"] >= one["finished_at"]
    assert two["objectives"]["rto"]["measured_seconds"] < 60  # the wait is not recovery time
    lock = workspace.state / "drill-locks" / "clinic.lock"
    assert lock.exists() and lock.stat().st_mode & 0o777 == 0o600
