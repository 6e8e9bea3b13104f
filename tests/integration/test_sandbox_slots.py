"""As root, two sandboxes open at once run as two accounts: neither can signal or read the other."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from drillbook.sandbox.holder import Sandbox
from drillbook.sandbox.isolation import Account
from drillbook.sandbox.launcher import descendants
from drillbook.spec.models import Isolation
from drillbook.util.procfs import all_pids
from tests.support import Repo, Workspace, write_drill

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: switches to the slots' accounts")

SIGNAL_IT = "import os, sys; os.kill(int(sys.argv[1]), 0)"


def _as(account: Account, argv: list[str]) -> subprocess.CompletedProcess[str]:
    """``argv`` on the host (outside any sandbox) as ``account``, the way its processes run."""
    return subprocess.run(["setpriv", f"--reuid={account.uid}", f"--regid={account.gid}", "--clear-groups",
                           "--", *argv], capture_output=True, text=True, timeout=30, cwd="/")


def _program_of(service_pid: int) -> int:
    """The host pid of the program a service's nsenter started, once it is that program."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for pid in descendants(service_pid):
            if Path(f"/proc/{pid}/comm").read_text().strip() == "sleep":
                return pid
        time.sleep(0.05)
    raise AssertionError("the service never became sleep")


def test_two_sandboxes_open_at_once_get_their_own_uids(workspace: Workspace) -> None:
    slots = workspace.state / "sandbox-slots"
    first = Sandbox.create(workspace.sandboxes, "run-a", Isolation(), {}, slots)
    try:
        second = Sandbox.create(workspace.sandboxes, "run-b", Isolation(), {}, slots)
        try:
            a, b = first.account, second.account
            assert (a.name, b.name) == ("drillbook-sandbox", "drillbook-sandbox-1") and a.uid != b.uid
            assert (first.record()["user_slot"], second.record()["user_slot"]) == (0, 1)
            service = first.launcher.start(["sleep", "300"], cwd=first.work_dir, env={})
            sleeper = _program_of(service.pid)
            assert os.stat(f"/proc/{sleeper}").st_uid == a.uid
            refused = _as(b, ["/usr/bin/python3", "-c", SIGNAL_IT, str(sleeper)])
            assert refused.returncode != 0 and "PermissionError" in refused.stderr, refused
            assert _as(a, ["/usr/bin/python3", "-c", SIGNAL_IT, str(sleeper)]).returncode == 0  # its own uid may
            (first.restore_root / "letter.txt").write_text("patient letter\n")
            os.chown(first.restore_root / "letter.txt", a.uid, a.gid)
            unreadable = _as(b, ["/usr/bin/cat", str(first.restore_root / "letter.txt")])
            assert unreadable.returncode != 0 and "Permission denied" in unreadable.stderr
        finally:
            second.teardown()
    finally:
        first.teardown()
    assert sleeper not in all_pids()  # teardown ended it
    third = Sandbox.create(workspace.sandboxes, "run-c", Isolation(), {}, slots)
    try:
        assert third.record()["user_slot"] == 0  # both slots were given back at teardown
    finally:
        third.teardown()


def test_a_drills_record_names_its_slot(workspace: Workspace, repo: Repo) -> None:
    body = """\
    verify:
      - type: command
        run: ["true"]
    """
    write_drill(workspace.drills, "clinic", repo.path, body=body)
    result = workspace.cli("run", "clinic")
    run = workspace.last_run("clinic")
    assert result.returncode == 0, run["reason"]
    assert run["isolation"]["user"].startswith("drillbook-sandbox (uid ")
    assert run["isolation"]["user_slot"] == 0
    assert "no other run of this drillbook uses it" in run["isolation"]["user_sharing"]
    assert (workspace.state / "sandbox-slots" / "0.lock").exists()
