"""The launcher's parts that need no namespaces: environment, argv, and stopping a process tree."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from drillbook.sandbox.isolation import Account, IsolationError, Mode
from drillbook.sandbox.launcher import IsolatedLauncher, descendants, run_entered, stop_entered
from drillbook.spec.models import Isolation
from drillbook.util.process import Completed
from drillbook.util.procfs import alive

ACCOUNT = Account("drillbook-sandbox", 999, 995)


@dataclass
class FakeNamespaces:
    target_pid: int = 4242
    up: bool = True
    swept: int = 0
    killed: bool = False

    def alive(self) -> bool:
        return self.up

    def sweep(self) -> int:
        self.swept += 1
        return 2

    def kill(self) -> None:
        self.killed = True


def _launcher(tmp_path: Path, holder: FakeNamespaces, mode: Mode = Mode.ROOT) -> IsolatedLauncher:
    base = {"PATH": "/usr/bin:/bin", "HOME": "/sb/home", "AWS_SECRET_ACCESS_KEY": "from-drillbook"}
    return IsolatedLauncher(holder, ACCOUNT, Isolation(), base, restore_root=tmp_path / "restore",
                            logs_dir=tmp_path / "logs", mode=mode,
                            drill_env={"REGION": "eu", "MODE": "drill"})


def test_children_see_the_allow_list_then_the_drill_env_then_their_own(tmp_path: Path) -> None:
    env = _launcher(tmp_path, FakeNamespaces()).env_for({"MODE": "check"})
    assert env == {"PATH": "/usr/bin:/bin", "HOME": "/sb/home", "REGION": "eu", "MODE": "check"}


def test_children_enter_the_holders_namespaces_and_change_directory_inside(tmp_path: Path) -> None:
    launcher = _launcher(tmp_path, FakeNamespaces(target_pid=777))
    argv = launcher.argv_for(["./verify.sh"], tmp_path / "restore", {"MODE": "check"})
    assert argv[0].endswith("setpriv") and f"--reuid={ACCOUNT.uid}" in argv
    assert any(a.endswith("nsenter") for a in argv) and "--target=777" in argv and "--net" in argv
    assert argv[-8:] == ["-C", str(tmp_path / "restore"), "--", "PATH=/usr/bin:/bin", "HOME=/sb/home",
                         "REGION=eu", "MODE=check", "./verify.sh"]


def test_rootless_children_are_entered_by_drillbooks_own_account(tmp_path: Path) -> None:
    argv = _launcher(tmp_path, FakeNamespaces(), Mode.ROOTLESS).argv_for(["true"], tmp_path, {})
    assert argv[0].endswith("nsenter") and not any(a.startswith("--reuid") for a in argv)


def test_helpers_see_only_the_tool_environment(tmp_path: Path) -> None:
    launcher = _launcher(tmp_path, FakeNamespaces())
    assert launcher.tool_env == {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "DRILLBOOK_SANDBOX": str(tmp_path)}


def test_rootless_leaves_the_restored_tree_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chowned: list[Path] = []
    monkeypatch.setattr("drillbook.sandbox.launcher._chown_tree", lambda root, uid, gid: chowned.append(root))
    monkeypatch.setattr("drillbook.sandbox.launcher.run_entered",
                        lambda argv, **kw: Completed(argv, 0, "", "", 0.0))
    _launcher(tmp_path, FakeNamespaces(), Mode.ROOTLESS).run(["true"], cwd=tmp_path, env={}, timeout=5)
    assert chowned == []
    _launcher(tmp_path, FakeNamespaces(), Mode.ROOT).run(["true"], cwd=tmp_path, env={}, timeout=5)
    assert chowned == [tmp_path / "restore"]


def test_nothing_runs_once_the_namespaces_are_gone(tmp_path: Path) -> None:
    launcher = _launcher(tmp_path, FakeNamespaces(up=False))
    with pytest.raises(IsolationError, match="namespaces are gone"):
        launcher.run(["true"], cwd=tmp_path, env={}, timeout=5)


def test_sweep_and_kill_all_reach_the_namespaces(tmp_path: Path) -> None:
    holder = FakeNamespaces()
    launcher = _launcher(tmp_path, holder)
    assert launcher.sweep() == 2 and holder.swept == 1
    launcher.kill_all()
    assert holder.killed


def _tree() -> subprocess.Popen[bytes]:
    """A stand-in for nsenter: a shell waiting on a foreground child, with one in the background."""
    proc = subprocess.Popen(["sh", "-c", "sleep 60 & sleep 60; echo done"], start_new_session=True,
                            stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 5
    while len(descendants(proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    return proc


def test_descendants_lists_the_whole_tree() -> None:
    proc = _tree()
    try:
        kids = descendants(proc.pid)
        assert len(kids) == 2 and all(alive(pid, None) for pid in kids)
    finally:
        stop_entered(proc, signal.SIGKILL, 0)


def test_stopping_kills_every_child_before_the_parent() -> None:
    proc = _tree()
    kids = descendants(proc.pid)
    stop_entered(proc, signal.SIGTERM, 0.2)
    assert proc.poll() is not None
    assert not any(alive(pid, None) for pid in kids)


def test_a_child_that_stops_politely_lets_the_parent_finish_on_its_own() -> None:
    proc = subprocess.Popen(["sh", "-c", "sleep 60; exit 7"], start_new_session=True)
    deadline = time.monotonic() + 5
    while not descendants(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    stop_entered(proc, signal.SIGTERM, 5)
    assert proc.returncode == 7


def test_run_entered_collects_output_and_kills_the_tree_on_timeout() -> None:
    env = {"PATH": os.environ["PATH"]}
    done = run_entered(["sh", "-c", "echo restored; echo warn >&2"], env=env, timeout=5)
    assert (done.returncode, done.stdout, done.stderr, done.timed_out) == (0, "restored\n", "warn\n", False)
    started = time.monotonic()
    slow = run_entered(["sh", "-c", "sleep 60; exit 3"], env=env, timeout=0.3)
    assert slow.timed_out and slow.returncode is None
    assert time.monotonic() - started < 10
