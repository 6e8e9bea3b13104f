"""Sandbox creation's fail-closed paths and bubblewrap's error hints, without starting anything."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from drillbook.sandbox import holder
from drillbook.sandbox import isolation as iso
from drillbook.spec.models import Isolation

ACCOUNT = iso.Account("drillbook-sandbox", 999, 995)


def test_no_user_namespaces_fails_closed_before_any_folder_exists(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(iso, "current_mode", lambda: iso.Mode.ROOTLESS)
    monkeypatch.setattr(iso, "user_namespace_problem",
                        lambda: "user.max_user_namespaces is 0 on this host; " + iso.USERNS_HINT)
    with pytest.raises(iso.IsolationError, match=r"user\.max_user_namespaces") as raised:
        holder.Sandbox.create(tmp_path / "sandboxes", "run1", Isolation(), {})
    assert "kernel.apparmor_restrict_unprivileged_userns" in str(raised.value)
    assert not (tmp_path / "sandboxes").exists()


def test_bubblewrap_refusing_a_user_namespace_names_the_sysctls() -> None:
    for reason in ("bwrap: No permissions to create a new namespace, likely because the kernel does "
                   "not allow non-privileged user namespaces.",
                   "bwrap: setting up uid map: Permission denied"):
        assert "user.max_user_namespaces" in holder._hint(reason, ACCOUNT)


def test_an_unreachable_sandbox_folder_says_which_account_must_reach_it() -> None:
    hint = holder._hint("bwrap: Can't find source path /root/sb/run1: Permission denied", ACCOUNT)
    assert "drillbook-sandbox must be able to reach the sandbox folder" in hint
    assert "max_user_namespaces" not in hint


def test_other_bubblewrap_failures_get_no_hint() -> None:
    assert holder._hint("bwrap: execvp sleep: No such file or directory", ACCOUNT) == ""


def _mode(path: Path) -> tuple[int, int, int]:
    info = path.lstat()
    return info.st_uid, info.st_gid, info.st_mode & 0o7777


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: hands folders to another account")
def test_as_root_the_run_folder_opens_to_the_sandbox_account_only(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(iso, "group_shared_with", lambda account: [])
    run = tmp_path / "run1"
    run.mkdir()
    holder.make_run_folders(run, ACCOUNT, iso.Mode.ROOT)
    assert _mode(run) == (0, ACCOUNT.gid, 0o750)
    assert _mode(run / "restore") == (ACCOUNT.uid, ACCOUNT.gid, 0o700)
    assert _mode(run / "work")[:2] == _mode(run / "home")[:2] == (ACCOUNT.uid, ACCOUNT.gid)
    assert _mode(run / "logs")[0] == 0


def test_rootless_the_run_folder_is_drillbooks_alone(tmp_path: Path) -> None:
    own = iso.Account("me", os.getuid(), os.getgid())
    run = tmp_path / "run1"
    run.mkdir()
    holder.make_run_folders(run, own, iso.Mode.ROOTLESS)
    assert _mode(run) == (own.uid, own.gid, 0o700)
    assert _mode(run / "restore") == (own.uid, own.gid, 0o700)


def test_a_shared_group_cannot_guard_the_run_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(iso, "group_shared_with", lambda account: ["_apt"])
    run = tmp_path / "run1"
    run.mkdir()
    with pytest.raises(iso.IsolationError, match=r"group 995 .* shared with _apt"):
        holder.make_run_folders(run, ACCOUNT, iso.Mode.ROOT)


# -- sweeping what checks left running ----------------------------------------------------------
INIT, TARGET, NS = 1000, 1001, "pid:[4026532000]"


class ProcessTable:
    """The sandbox's processes as the sweep sees them: its namespace, its init's descendants."""

    def __init__(self, in_namespace: set[int], nested: set[int], spawns: dict[int, int] | None = None,
                 immortal: frozenset[int] = frozenset()):
        self.in_namespace = {INIT, TARGET, *in_namespace}
        self.nested = set(nested)  # in a PID namespace nested inside the sandbox's
        self.spawns = spawns or {}  # pid -> the child it forks just before it dies
        self.immortal = immortal
        self.signalled: list[int] = []

    def processes_in_namespace(self, pid_ns: str) -> list[int]:
        return sorted(self.in_namespace) if pid_ns == NS else []

    def descendants(self, pid: int) -> list[int]:
        assert pid == INIT
        return sorted((self.in_namespace | self.nested) - {INIT})

    def process_start(self, pid: int) -> int:
        return pid + 50_000  # the start time the sweep must hand on with each pid it signals

    def signal_process(self, pid: int, *, start: int | None) -> bool:
        assert start == self.process_start(pid)
        self.signalled.append(pid)
        if pid in self.spawns:
            self.in_namespace.add(self.spawns.pop(pid))
        if pid not in self.immortal:
            self.in_namespace.discard(pid)
            self.nested.discard(pid)
        return True


def sweeping(monkeypatch: pytest.MonkeyPatch, table: ProcessTable, init_alive: bool = True) -> holder.NamespaceHolder:
    for name in ("processes_in_namespace", "descendants", "signal_process", "process_start"):
        monkeypatch.setattr(holder, name, getattr(table, name))
    monkeypatch.setattr(holder, "alive", lambda pid, start: init_alive and (pid, start) == (INIT, 77))
    monkeypatch.setattr(holder, "SWEEP_PAUSE", 0.0)
    return holder.NamespaceHolder(proc=None, init_pid=INIT, target_pid=TARGET, pid_ns=NS,  # type: ignore[arg-type]
                                  user_ns="user:[1]", account=ACCOUNT, mode=iso.Mode.ROOT, init_start=77)


def test_a_sweep_repeats_until_nothing_is_left_nested_namespaces_included(monkeypatch: pytest.MonkeyPatch) -> None:
    table = ProcessTable(in_namespace={10, 12}, nested={20, 21}, spawns={10: 11, 11: 13})
    namespaces = sweeping(monkeypatch, table)
    assert namespaces.sweep() == 6
    assert table.in_namespace == {INIT, TARGET} and table.nested == set()
    assert INIT not in table.signalled and TARGET not in table.signalled


def test_a_process_that_outlasts_the_sweep_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    table = ProcessTable(in_namespace={10}, nested=set(), immortal=frozenset({10}))
    namespaces = sweeping(monkeypatch, table)
    monkeypatch.setattr(holder, "SWEEP_TIMEOUT", 0.05)
    with pytest.raises(iso.IsolationError, match=r"1 process\(es\) still run in the sandbox 0\.05 s after SIGKILL"):
        namespaces.sweep()


def test_the_descendants_of_an_init_that_is_gone_are_never_swept(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its pid may belong to a host process by now: only the namespace's own processes are killed."""
    table = ProcessTable(in_namespace={10}, nested={20})
    namespaces = sweeping(monkeypatch, table, init_alive=False)
    assert namespaces.sweep() == 1
    assert table.signalled == [10] and table.nested == {20}
