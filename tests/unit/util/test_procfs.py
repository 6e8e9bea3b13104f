"""The /proc readers the sandbox and the reaper rely on, against real processes."""

from __future__ import annotations

import os
import subprocess
import time

from drillbook.util.procfs import children, environ, link, parent


def test_parent_and_children_follow_the_process_tree() -> None:
    proc = subprocess.Popen(["sh", "-c", "sleep 30 & sleep 30"], start_new_session=True)
    try:
        deadline = time.monotonic() + 5
        while len(children(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        kids = children(proc.pid)
        assert len(kids) == 2 and {parent(kid) for kid in kids} == {proc.pid}
        assert parent(proc.pid) == os.getpid() and proc.pid in children(os.getpid())
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()


def test_links_and_environment_of_a_process(tmp_path) -> None:
    proc = subprocess.Popen(["sleep", "30"], cwd=tmp_path, env={"PATH": os.environ["PATH"], "SANDBOX": "x"})
    try:
        deadline = time.monotonic() + 5
        while environ(proc.pid) == [""] and time.monotonic() < deadline:
            time.sleep(0.01)  # until exec has set up the new environment
        assert link(proc.pid, "cwd") == str(tmp_path) and link(proc.pid, "root") == "/"
        assert "SANDBOX=x" in environ(proc.pid)
    finally:
        proc.kill()
        proc.wait()


def test_a_process_that_is_gone_reads_as_nothing() -> None:
    proc = subprocess.Popen(["true"])
    proc.wait()
    assert (parent(proc.pid), children(proc.pid), link(proc.pid, "cwd"), environ(proc.pid)) == (None, [], None, [])
