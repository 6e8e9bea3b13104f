"""Telling a live run's owner from a dead one, and what cleanup may delete."""

import os
import socket
import subprocess

from drillbook.drill.record import process_info
from drillbook.sandbox.reaper import _remove_sandbox, owner_gone


def test_live_owner_is_not_stale():
    assert owner_gone(process_info("/tmp/x")) is None


def test_dead_pid_reused_pid_and_reboot_are_stale():
    info = process_info(None)
    dead = subprocess.Popen(["true"])
    dead.wait()
    assert "no longer exists" in owner_gone({**info, "pid": dead.pid})
    assert "another process" in owner_gone({**info, "process_start": info["process_start"] - 1})
    assert "restarted" in owner_gone({**info, "boot_time": info["boot_time"] - 3600})


def test_other_hosts_and_unknown_owners_are_left_alone():
    assert owner_gone({**process_info(None), "host": socket.gethostname() + "-elsewhere", "pid": 999999}) is None
    assert owner_gone({}) is None


def test_cleanup_never_deletes_a_folder_that_is_not_the_runs_sandbox(tmp_path):
    folder = tmp_path / "run-1"
    (folder / "restore").mkdir(parents=True)
    (folder / "precious.txt").write_text("keep")
    removed, problem = _remove_sandbox(folder, {"run_id": "run-1"})
    assert not removed and "unexpected" in problem and folder.exists()
    removed, problem = _remove_sandbox(tmp_path, {"run_id": "run-1"})
    assert not removed and "does not look like" in problem
    os.remove(folder / "precious.txt")
    assert _remove_sandbox(folder, {"run_id": "run-1"}) == (True, None) and not folder.exists()
