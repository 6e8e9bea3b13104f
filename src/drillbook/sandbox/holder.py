"""The throw-away place a drill restores into, and the namespaces its checks run in.

Each run gets its own folder under the sandbox root (so concurrent drills never share files),
holding ``restore/`` (the restored tree), ``work/`` (scratch for services), ``home/`` and
``logs/``. Only drillbook and the sandbox account can enter it (see :func:`make_run_folders`): the
restored data is someone's, and other local accounts have no business in it.

Every check and service runs inside the drill's namespaces (see isolation.py) as an
unprivileged account with a scrubbed environment, started by the sandbox's launcher (see
launcher.py). The namespaces are created by that account too, whether drillbook runs as root or
not. Setting that up fails closed: when it cannot be done as declared, :class:`IsolationError`
says what and why, and the drill fails.

``teardown`` is idempotent and always runs, also after a failure or a signal: killing the
namespace's first process makes the kernel kill every process of the PID namespace, so nothing
the drill started outlives it.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drillbook.sandbox import isolation as iso
from drillbook.sandbox import slots as slot_locks
from drillbook.sandbox.isolation import IsolationError
from drillbook.sandbox.launcher import IsolatedLauncher, descendants
from drillbook.sandbox.removal import TreeLeft, empty_folder, remove_tree
from drillbook.sandbox.safety import SafetyReport, make_safe
from drillbook.spec.models import Isolation
from drillbook.util.atomic import write_json_atomic
from drillbook.util.process import signal_process
from drillbook.util.procfs import alive, all_pids, children, namespace, process_start

BASE_PATH = iso.BASE_PATH
HOLDER_FILE = "holder.json"
HOLDER_START_TIMEOUT = 10.0
SWEEP_TIMEOUT = 5.0  # SIGKILL cannot be refused: only a process stuck in the kernel outlasts it
SWEEP_PAUSE = 0.01

__all__ = [
    "IsolationError",
    "NamespaceHolder",
    "Sandbox",
    "TreeLeft",
    "processes_in_namespace",
    "remove_tree",
]


# -- the namespace holder ---------------------------------------------------------------

@dataclass
class NamespaceHolder:
    """A bubblewrap process keeping the drill's namespaces alive while checks enter them."""

    proc: subprocess.Popen
    init_pid: int       # host pid of the namespace's pid 1 (bubblewrap's init)
    target_pid: int     # host pid of the sleeping process whose namespaces and root we enter
    pid_ns: str
    user_ns: str
    account: iso.Account  # who created the namespaces and is the only uid inside
    mode: iso.Mode
    init_start: int | None = None

    @classmethod
    def start(cls, sandbox: Path, network: str, account: iso.Account, mode: iso.Mode,
              restore_tmpfs: int | None = None) -> NamespaceHolder:
        read_fd, write_fd = os.pipe()
        argv = iso.holder_argv(sandbox, network, write_fd, account, mode, restore_tmpfs)
        try:
            proc = subprocess.Popen(argv, pass_fds=(write_fd,), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    start_new_session=True, cwd="/", env=iso.tool_env(sandbox))
        except OSError as exc:
            os.close(read_fd)
            os.close(write_fd)
            raise IsolationError(f"cannot start bubblewrap: {exc}") from None
        os.close(write_fd)
        try:
            info = _read_info(read_fd, proc)
            init_pid = int(info["child-pid"])
            target = _first_child(init_pid)
        except (IsolationError, KeyError, ValueError) as exc:
            proc.kill()
            stderr = (proc.communicate(timeout=5)[1] or b"").decode(errors="replace").strip()
            reason = stderr.splitlines()[-1] if stderr else str(exc)
            raise IsolationError(f"bubblewrap could not create the namespaces: {reason}"
                                 f"{_hint(reason, account)}") from None
        finally:
            os.close(read_fd)
        holder = cls(proc, init_pid, target, namespace(target, "pid") or "",
                     namespace(target, "user") or "", account, mode, process_start(init_pid))
        holder.verify(network)
        return holder

    def verify(self, network: str) -> None:
        """Fail closed: the namespaces the record claims must exist, as one user namespace.

        Every namespace must differ from drillbook's, and the user namespace must map exactly
        the account's uid to itself: a nested user namespace could not be entered, and any
        other mapping would not be the account the record names.
        """
        wanted = ["user", "mnt", "pid"] + (["net"] if network == "none" else [])
        same = [n for n in wanted
                if not namespace(self.target_pid, n) or namespace(self.target_pid, n) == namespace(os.getpid(), n)]
        problem = (f"the sandbox shares drillbook's {', '.join(same)} namespace (bubblewrap did not "
                   "unshare it)" if same else self._mapping_problem())
        if problem:
            self.kill()
            raise IsolationError(problem)

    def _mapping_problem(self) -> str | None:
        wanted = f"{self.account.uid} {self.account.uid} 1"
        mapping = " ".join(_read_text(f"/proc/{self.target_pid}/uid_map").split())
        if mapping != wanted:
            return (f"the sandbox's user namespace maps uids as {mapping or 'nothing'!r}, not just "
                    f"{self.account.describe()} to itself (bubblewrap nested a second one?)")
        return None

    def alive(self) -> bool:
        return self.proc.poll() is None and namespace(self.target_pid, "pid") == self.pid_ns

    def describe(self) -> dict[str, Any]:
        return {"outer_pid": self.proc.pid, "init_pid": self.init_pid,
                "init_start": self.init_start, "target_pid": self.target_pid,
                "pid_ns": self.pid_ns, "user_ns": self.user_ns, "mode": str(self.mode),
                "uid": self.account.uid}

    def sweep(self) -> int:
        """Kill every process of the sandbox but the holder's own two; returns how many.

        The sandbox's processes are those of its PID namespace and every descendant of its init,
        which also finds a namespace nested inside it (``unshare --pid``). One pass is not
        enough: a process may fork between the listing and its SIGKILL (a respawning loop, a
        double fork in flight), so passes repeat until one finds nothing. A killed process
        leaves once the namespace's init reaps it. Processes still there after
        :data:`SWEEP_TIMEOUT` raise IsolationError: no later check may run beside them.
        """
        keep = {self.init_pid, self.target_pid}
        killed: set[int] = set()
        deadline = time.monotonic() + SWEEP_TIMEOUT
        while True:
            victims = self._processes() - keep
            if not victims:
                return len(killed)
            if time.monotonic() > deadline:
                raise IsolationError(f"{len(victims)} process(es) still run in the sandbox "
                                     f"{SWEEP_TIMEOUT:g} s after SIGKILL")
            starts = {pid: process_start(pid) for pid in victims}  # who each pid is, as listed
            killed |= {pid for pid, start in starts.items() if signal_process(pid, start=start)}
            time.sleep(SWEEP_PAUSE)

    def _processes(self) -> set[int]:
        """The namespace's processes and, while its init is still the one started, its descendants
        (a pid of an init gone and reused on the host must never lead to the host's processes)."""
        found = set(processes_in_namespace(self.pid_ns))
        if self.init_pid in found and alive(self.init_pid, self.init_start):
            found |= set(descendants(self.init_pid))
        return found

    def kill(self) -> None:
        """SIGKILL to the namespace's pid 1: the kernel then kills every process inside."""
        signal_process(self.init_pid, start=self.init_start)
        try:
            self.proc.wait(timeout=2)  # bubblewrap reaps its init and exits by itself
        except subprocess.TimeoutExpired:
            self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)
        if self.proc.stderr:
            self.proc.stderr.close()
        deadline = time.monotonic() + 5
        while alive(self.init_pid, self.init_start) and time.monotonic() < deadline:
            time.sleep(0.01)


def _read_info(fd: int, proc: subprocess.Popen) -> dict[str, Any]:
    """bubblewrap writes {"child-pid": N, ...} once the namespaces exist."""
    data = b""
    deadline = time.monotonic() + HOLDER_START_TIMEOUT
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
            if b"}" in data:
                return json.loads(data)
        elif proc.poll() is not None:
            break
    raise IsolationError("bubblewrap exited before reporting its namespaces"
                         if proc.poll() is not None else "bubblewrap did not start in time")


def _hint(reason: str, account: iso.Account) -> str:
    """What to change on the host, for the two failures an administrator can fix."""
    if "source path" in reason and "Permission denied" in reason:
        return (f" (the sandbox account {account.name} must be able to reach the sandbox folder: "
                "make every folder above the sandbox root searchable by it, e.g. chmod o+x, or "
                "choose another sandbox root)")
    lowered = reason.lower()
    if any(word in lowered for word in ("namespace", "uid map", "uid_map", "permission", "not permitted")):
        return f" ({iso.USERNS_HINT})"
    return ""


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="ascii") as fh:
            return fh.read()
    except OSError:
        return ""


def _first_child(pid: int) -> int:
    deadline = time.monotonic() + HOLDER_START_TIMEOUT
    while time.monotonic() < deadline:
        kids = children(pid)
        if kids:
            return kids[0]
        time.sleep(0.005)
    raise IsolationError("bubblewrap's sandbox process did not appear")


# -- processes ---------------------------------------------------------------------------

def processes_in_namespace(pid_ns: str) -> list[int]:
    return [pid for pid in all_pids() if pid != os.getpid() and namespace(pid, "pid") == pid_ns]


# -- the sandbox ------------------------------------------------------------------------

@dataclass
class Sandbox:
    path: Path
    isolation: Isolation
    launcher: IsolatedLauncher
    account: iso.Account
    mode: iso.Mode
    env: dict[str, str] = field(default_factory=dict)
    slot: slot_locks.Slot | None = None  # held until teardown (see slots.py)
    in_memory: int | None = None  # bytes of the tmpfs restore/ is in the namespace; None: on disk

    @property
    def restore_root(self) -> Path:
        """The restored tree where the checks see it, inside the namespace."""
        return self.path / "restore"

    @property
    def restore_target(self) -> Path:
        """Where drillbook's side writes and walks the restore (restic, making it safe).

        On disk, the folder itself. In memory, the tmpfs exists in the namespace's mounts only:
        it is reached through the holder's ``/proc/<pid>/root``, which the account may open (it
        owns the namespaces) and root may too. Only while the holder is the one started: a pid
        reused by another process must never lead drillbook into that process's files.
        """
        if self.in_memory is None:
            return self.restore_root
        holder = self.launcher.holder
        if not holder.alive():
            raise IsolationError("the sandbox's namespaces are gone (bubblewrap exited), and its tmpfs with them")
        return Path(f"/proc/{holder.target_pid}/root") / self.restore_root.relative_to("/")

    def restore_on_disk(self) -> None:
        """Give up the tmpfs for the disk: new namespaces, bound to the disk's ``restore/``.

        Nothing has run in the sandbox yet (the restore comes first), so the holder is replaced
        whole: the old namespaces and their empty tmpfs go with it.
        """
        if self.in_memory is None:
            return
        self.launcher.holder.kill()
        holder = NamespaceHolder.start(self.path, self.isolation.network, self.account, self.mode)
        _write_holder_file(self.path, holder)
        self.launcher.holder = holder
        self.in_memory = None

    @property
    def work_dir(self) -> Path:
        return self.path / "work"

    @classmethod
    def create(cls, root: Path, run_id: str, isolation: Isolation, env: dict[str, str],
               slots: Path | None = None) -> Sandbox:
        """A sandbox under ``root``; as root with ``slots`` (a folder of drillbook's state), one
        with an account no other run of this drillbook uses at the same time."""
        missing = iso.missing_tools()
        if missing:
            raise IsolationError(f"{', '.join(missing)} not installed (apt-get install bubblewrap "
                                 "util-linux coreutils findutils)")
        mode = iso.current_mode()
        problem = iso.user_namespace_problem()
        if problem:
            raise IsolationError(problem)
        iso.memory_bytes(isolation.limits.memory)
        in_memory = iso.memory_bytes(isolation.restore_in_memory) if isolation.restore_in_memory else None
        slot, account = account_for(root, isolation, mode, slots)
        try:
            path = root / run_id
            path.mkdir(parents=True, exist_ok=False)
            try:
                return cls._build(path, isolation, env, account, mode, slot, in_memory)
            except BaseException:
                with contextlib.suppress(OSError):  # the reason it failed matters; cleanup retries the rest
                    remove_tree(path)
                raise
        except BaseException:
            if slot:
                slot.release()
            raise

    @classmethod
    def _build(cls, path: Path, isolation: Isolation, env: dict[str, str], account: iso.Account,
               mode: iso.Mode, slot: slot_locks.Slot | None, in_memory: int | None = None) -> Sandbox:
        make_run_folders(path, account, mode)
        base_env = {
            "PATH": BASE_PATH,
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "TZ": "UTC",
            "HOME": str(path / "home"),
            "DRILLBOOK_RESTORE_ROOT": str(path / "restore"),
        }
        holder = NamespaceHolder.start(path, isolation.network, account, mode, in_memory)
        _write_holder_file(path, holder)
        launcher = IsolatedLauncher(holder, account, isolation, base_env, restore_root=path / "restore",
                                    logs_dir=path / "logs", drill_env=env, mode=mode)
        return cls(path=path, isolation=isolation, launcher=launcher, env={**base_env, **env},
                   account=account, mode=mode, slot=slot, in_memory=in_memory)

    def record(self) -> dict[str, Any]:
        return iso.isolation_record(self.isolation.network, self.account, self.isolation.limits,
                                    self.mode, slot=self.slot.number if self.slot else None,
                                    declared=bool(self.isolation.user))

    def prepare_restore(self, as_root: bool) -> None:
        """The restore folder belongs to whoever restores into it: the account, or root when it must."""
        if self.mode is iso.Mode.ROOT and self.in_memory is None:  # a tmpfs is the account's already
            uid, gid = (0, 0) if as_root else (self.account.uid, self.account.gid)
            os.chown(self.restore_root, uid, gid, follow_symlinks=False)

    def clear_restore(self, as_root: bool) -> None:
        """An empty restore folder again, for a second restore: the same folder, which the
        namespaces have bound (see isolation.holder_argv)."""
        empty_folder(self.restore_target)
        self.prepare_restore(as_root)

    def make_restore_safe(self) -> SafetyReport:
        """The restored tree, whoever restored it, becomes the account's and harmless (safety.py)."""
        report = make_safe(self.restore_target, self.account.uid, self.account.gid)
        self.launcher.prepared = True
        return report

    def teardown(self) -> None:
        """Stop every process, then remove the tree; :class:`TreeLeft` names what is left."""
        try:
            self.launcher.kill_all()
        finally:  # the restored data goes even when a process could not be stopped
            try:
                remove_tree(self.path)
            finally:  # a tree left behind keeps its account from being taken again (slots.py)
                if self.slot:
                    self.slot.release()


def account_for(root: Path, isolation: Isolation, mode: iso.Mode,
                slots: Path | None) -> tuple[slot_locks.Slot | None, iso.Account]:
    """The run's account, and the slot held for it when it is one of drillbook's own (as root)."""
    if slots is None or mode is iso.Mode.ROOTLESS or isolation.user:
        return None, iso.resolve_account(isolation, mode)
    return slot_locks.take(slots, lambda number: iso.resolve_account(isolation, mode, number),
                           lambda account: slot_locks.left_behind(root, account))


def make_run_folders(path: Path, account: iso.Account, mode: iso.Mode) -> None:
    """The run folder and its subfolders, which only drillbook and the sandbox account may enter.

    As root, the folder stays root's (the account must not be able to swap ``logs/`` for a link
    that root then writes through) and is opened to the account's group alone, so that group
    must be the account's own. Rootless, drillbook is the account, and the folder is private.
    ``restore/`` belongs to the account, which restores into it; ``work/`` and ``home/`` too.
    ``config/`` is drillbook's own (see checks/base.CheckContext.own_dir); inside the namespaces
    only the account's folders are writable (isolation.holder_argv), so even rootless, where the
    account is drillbook, no sandboxed process can change ``config/``, ``logs/`` or the holder file.
    """
    if mode is iso.Mode.ROOT:
        shared = iso.group_shared_with(account)
        if shared:
            raise IsolationError(
                f"the group {account.gid} of the sandbox account {account.name} is shared with "
                f"{', '.join(shared[:3])}{' and others' if len(shared) > 3 else ''}: the run folder is "
                f"opened to that group only, so it must be the account's own (give {account.name} a "
                f"private group, or drop user: to use the dedicated {iso.SANDBOX_ACCOUNT} account)")
        os.chown(path, 0, account.gid)
        path.chmod(0o750)
    else:
        path.chmod(0o700)
    for name in iso.ACCOUNT_FOLDERS:
        _private_folder(path / name, account, mode)
    (path / "logs").mkdir()
    (path / iso.OWN_FOLDER).mkdir()
    (path / iso.OWN_FOLDER).chmod(0o755)  # the account reads drillbook's files for it there


def _private_folder(path: Path, account: iso.Account, mode: iso.Mode) -> None:
    path.mkdir(mode=0o700)
    path.chmod(0o700)  # whatever the umask
    if mode is iso.Mode.ROOT:
        os.chown(path, account.uid, account.gid)


def _write_holder_file(path: Path, holder: NamespaceHolder) -> None:
    """Lets ``drillbook cleanup`` find and kill the namespace if drillbook itself dies."""
    write_json_atomic(path / HOLDER_FILE, holder.describe())


