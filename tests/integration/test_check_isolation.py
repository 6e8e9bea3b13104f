"""Checks of one drill share its namespaces, never its processes: a later check sees none of an
earlier one's, however that one hid them (background, setsid, double fork, SIGTERM ignored, a
respawning loop, output held open, a nested PID namespace)."""

from __future__ import annotations

from tests.support import Repo, Workspace, write_drill

LEAVES_PROCESSES = """\
verify:
  - type: command
    name: leaves processes behind
    run:
      - sh
      - -c
      - |
        sleep 311 </dev/null >/dev/null 2>&1 &
        setsid sleep 312 </dev/null >/dev/null 2>&1 &
        ( sleep 313 </dev/null >/dev/null 2>&1 & )
        nohup sh -c 'trap "" TERM HUP; exec sleep 314' </dev/null >/dev/null 2>&1 &
        setsid sh -c 'trap "" TERM; while :; do sleep 315; done' </dev/null >/dev/null 2>&1 &
        unshare --user --pid --fork sleep 317 </dev/null >/dev/null 2>&1 &
        echo started
  - type: command
    name: holds its output open
    timeout: 3s
    run: [sh, -c, "sleep 316 & echo started"]
  - type: command
    name: sees no process of another check
    run:
      - python3
      - -c
      - |
        import os, sys
        LEFT = {b"311", b"312", b"313", b"314", b"315", b"316", b"317"}
        left = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) in (1, os.getpid()):
                continue
            try:
                argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\\0")
            except OSError:
                continue
            if any(arg in LEFT for arg in argv):
                left.append(f"{pid}: {b' '.join(argv).decode(errors='replace').strip()}")
        print("; ".join(left) or "clean")
        sys.exit(1 if left else 0)
"""


def test_a_later_check_sees_no_process_an_earlier_one_left(workspace: Workspace, repo: Repo) -> None:
    write_drill(workspace.drills, "clinic", repo.path, body=LEAVES_PROCESSES)
    result = workspace.cli("run", "clinic", "--plain", timeout=120)
    run = workspace.last_run("clinic")
    checks = {c["name"]: c for c in run["checks"]}
    assert checks["leaves processes behind"]["status"] == "passed", checks["leaves processes behind"]
    assert "timed out" in checks["holds its output open"]["detail"]
    seen = checks["sees no process of another check"]
    assert (seen["status"], seen["data"]["output_tail"]) == ("passed", ["clean"]), seen
    assert result.returncode == 1  # the check that held its output open timed out
