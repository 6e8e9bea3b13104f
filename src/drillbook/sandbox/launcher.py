"""How checks start processes: the protocol they rely on, and the launcher that isolates them.

Checks know only :class:`Launcher` (run a program to completion, start a long-running service,
sweep what a check left running, kill everything), so they can be tested with a fake launcher and
never depend on how the sandbox is built. :class:`IsolatedLauncher` is the real one: every child
enters the drill's namespaces through ``nsenter`` and runs as the unprivileged account with a
scrubbed environment. The helpers that get it there (setpriv, nsenter, prlimit) run as that
account too and never see the check's environment, which only the final ``env -i`` applies.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from drillbook.sandbox import isolation as iso
from drillbook.sandbox.isolation import IsolationError
from drillbook.sandbox.safety import make_safe
from drillbook.spec.models import Isolation
from drillbook.util.process import Completed, communicate_bounded, kill_group, signal_process, started
from drillbook.util.procfs import children, process_start


class RunningService(Protocol):
    """A long-running child a check started: watch it, read its output, stop it."""

    def poll(self) -> int | None: ...

    def output_tail(self, lines: int = 15) -> list[str]: ...

    def stop(self, sig: int = signal.SIGTERM, grace: float = 5.0) -> int | None: ...


class Launcher(Protocol):
    """Runs the processes of checks and services; the sandbox decides how isolated.

    ``run`` raises FileNotFoundError when the program does not exist, so a check can say so.
    """

    def run(self, argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float,
            stdin_data: str | None = None) -> Completed: ...

    def start(self, argv: list[str], *, cwd: Path, env: dict[str, str]) -> RunningService: ...

    def sweep(self) -> int: ...

    def kill_all(self) -> None: ...


class Namespaces(Protocol):
    """What the launcher needs of the namespace holder (sandbox/holder.py builds it)."""

    target_pid: int

    def alive(self) -> bool: ...

    def sweep(self) -> int: ...

    def kill(self) -> None: ...


# -- stopping what nsenter started ------------------------------------------------------

def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children first), from /proc's children lists."""
    found: list[int] = []
    queue = [pid]
    while queue:
        kids = children(queue.pop(0))
        found += kids
        queue += kids
    return found


def stop_entered(proc: subprocess.Popen, sig: int, grace: float) -> None:
    """Stop what ``nsenter`` started, then nsenter itself, in that order.

    nsenter must outlive its child: an orphan would be re-parented to the host's init (the
    parent's PID namespace decides), which may reap it late and so delay the namespace's end.
    """
    if proc.poll() is None:
        for pid in descendants(proc.pid)[:1]:
            signal_process(pid, sig, start=process_start(pid))
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
    if proc.poll() is None:
        for pid, start in [(pid, process_start(pid)) for pid in descendants(proc.pid)]:
            signal_process(pid, start=start)
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
    kill_group(proc.pid)  # anything left in the group outside the namespace
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


def run_entered(argv: list[str], *, env: dict[str, str], timeout: float,
                stdin_data: str | None = None) -> Completed:
    """Like process.run_bounded, but a timeout stops the sandboxed child before nsenter.

    Started from ``/``: after switching accounts, nsenter must still be able to open its cwd.
    """
    began = time.monotonic()
    with started(lambda: subprocess.Popen(
            argv, env=env, text=True, errors="replace", start_new_session=True,
            stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/"), stop=_kill_entered) as proc:
        return communicate_bounded(proc, argv, began, timeout, stdin_data, stop=_kill_entered)


def _kill_entered(proc: subprocess.Popen) -> None:
    stop_entered(proc, signal.SIGKILL, 0)


# -- the isolated implementation ---------------------------------------------------------

@dataclass
class Service:
    """A restored service running in the namespaces; its output goes to a log file."""

    proc: subprocess.Popen
    log_path: Path
    argv: list[str]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def poll(self) -> int | None:
        return self.proc.poll()

    def output_tail(self, lines: int = 15) -> list[str]:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return []
        return text.strip().splitlines()[-lines:]

    def stop(self, sig: int = signal.SIGTERM, grace: float = 5.0) -> int | None:
        """Ask politely with ``sig``, then SIGKILL; the check then sweeps the namespace."""
        stop_entered(self.proc, sig, grace)
        return self.proc.returncode


class IsolatedLauncher:
    """Runs every child of the drill inside its namespaces as the unprivileged account."""

    def __init__(self, holder: Namespaces, account: iso.Account, isolation: Isolation,
                 base_env: dict[str, str], *, restore_root: Path, logs_dir: Path,
                 mode: iso.Mode, drill_env: dict[str, str] | None = None):
        self.holder = holder
        self.account = account
        self.isolation = isolation
        self.base_env = base_env
        self.restore_root = restore_root
        self.logs_dir = logs_dir
        self.mode = mode
        self.drill_env = dict(drill_env or {})
        self.tool_env = iso.tool_env(restore_root.parent)
        self.services: list[Service] = []
        self.prepared = False

    def env_for(self, extra: dict[str, str]) -> dict[str, str]:
        """What a child sees: the allow-listed base, the drill's env, then the check's own."""
        return iso.scrubbed_env(self.base_env, {**self.drill_env, **extra})

    def argv_for(self, argv: list[str], cwd: Path, env: dict[str, str]) -> list[str]:
        """The whole chain, the child's environment (see env_for) included as arguments."""
        return iso.enter_argv(self.holder.target_pid, self.account, self.isolation.limits,
                              Path(cwd), list(argv), self.env_for(env),
                              network=self.isolation.network, mode=self.mode)

    def run(self, argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float,
            stdin_data: str | None = None) -> Completed:
        self._ready()
        done = run_entered(self.argv_for(argv, cwd, env), env=self.tool_env, timeout=timeout,
                           stdin_data=stdin_data)
        done.argv = list(argv)
        _raise_if_not_found(done, argv)
        return done

    def start(self, argv: list[str], *, cwd: Path, env: dict[str, str]) -> Service:
        self._ready()
        log_path = self.logs_dir / f"service-{len(self.services) + 1}.log"
        full = self.argv_for(argv, cwd, env)
        with open(log_path, "wb") as log, started(  # the child keeps its own copy of the descriptor
                lambda: subprocess.Popen(full, env=self.tool_env, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True, cwd="/"),
                stop=_kill_entered) as proc:
            service = Service(proc, log_path, list(argv))
            self.services.append(service)  # known from here: kill_all stops it
        return service

    def sweep(self) -> int:
        """Kill everything the drill's checks left running in the namespace (between checks)."""
        return self.holder.sweep()

    def kill_all(self) -> None:
        for service in self.services:
            service.stop(sig=signal.SIGKILL, grace=0)
        self.holder.kill()

    def _ready(self) -> None:
        """Before the first child: the restored tree is the account's and harmless (safety.py).

        The drill's restore phase does this right after restic and marks the launcher prepared;
        this is for a launcher used without it. Rootless, the tree is drillbook's, so the account's.
        """
        if not self.holder.alive():
            raise IsolationError("the sandbox's namespaces are gone (bubblewrap exited)")
        if not self.prepared:
            if self.mode is iso.Mode.ROOT:
                _chown_tree(self.restore_root, self.account.uid, self.account.gid)
            self.prepared = True


def _raise_if_not_found(done: Completed, argv: list[str]) -> None:
    """env(1) exits 127 when the program does not exist: keep checks' FileNotFoundError contract."""
    if done.returncode == 127 and "No such file or directory" in done.stderr and argv[0] in done.stderr:
        raise FileNotFoundError(2, "No such file or directory", argv[0])


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    make_safe(root, uid, gid)
