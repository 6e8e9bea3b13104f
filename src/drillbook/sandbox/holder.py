"""The throw-away place a drill restores into, and the launcher its checks run through.

Each run gets its own folder under the sandbox root (so concurrent drills never share files),
holding ``restore/`` (the restored tree), ``work/`` (scratch for services), ``home/`` and
``logs/``. Every check and service runs inside the drill's namespaces (see isolation.py) as an
unprivileged account with a scrubbed environment. Setting that up fails closed: when it cannot be
done as declared, :class:`IsolationError` says what and why, and the drill fails.

``teardown`` is idempotent and always runs, also after a failure or a signal: killing the
namespace's first process makes the kernel kill every process of the PID namespace, so nothing
the drill started outlives it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from drillbook.sandbox import isolation as iso
from drillbook.sandbox.isolation import IsolationError
from drillbook.spec.models import Isolation
from drillbook.util.process import Completed, communicate_bounded, kill_group, signal_process
from drillbook.util.procfs import alive, all_pids, namespace, process_start

BASE_PATH = iso.BASE_PATH
HOLDER_FILE = "holder.json"
HOLDER_START_TIMEOUT = 10.0

__all__ = [
    "IsolationError",
    "NamespaceHolder",
    "Sandbox",
    "Service",
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
    init_start: int | None = None

    @classmethod
    def start(cls, sandbox: Path, network: str) -> NamespaceHolder:
        read_fd, write_fd = os.pipe()
        argv = iso.holder_argv(sandbox, network, write_fd)
        try:
            proc = subprocess.Popen(argv, pass_fds=(write_fd,), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    start_new_session=True, env={"PATH": iso.TOOL_PATH})
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
            raise IsolationError(f"bubblewrap could not create the namespaces: {reason}") from None
        finally:
            os.close(read_fd)
        holder = cls(proc, init_pid, target, namespace(target, "pid") or "", process_start(init_pid))
        holder.verify(network)
        return holder

    def verify(self, network: str) -> None:
        """Fail closed: the namespaces the record will claim must really differ from drillbook's."""
        wanted = ["mnt", "pid"] + (["net"] if network == "none" else [])
        same = [n for n in wanted if not namespace(self.target_pid, n) or namespace(self.target_pid, n) == namespace(os.getpid(), n)]
        if same:
            self.kill()
            raise IsolationError(f"the sandbox shares drillbook's {', '.join(same)} namespace "
                                 "(bubblewrap did not unshare it)")

    def alive(self) -> bool:
        return self.proc.poll() is None and namespace(self.target_pid, "pid") == self.pid_ns

    def describe(self) -> dict[str, Any]:
        return {"outer_pid": self.proc.pid, "init_pid": self.init_pid,
                "init_start": self.init_start, "target_pid": self.target_pid,
                "pid_ns": self.pid_ns}

    def sweep(self) -> int:
        """Kill every process of the namespace except the holder itself; returns how many."""
        keep = {self.init_pid, self.target_pid}
        victims = [p for p in processes_in_namespace(self.pid_ns) if p not in keep]
        for pid in victims:
            signal_process(pid)
        return len(victims)

    def kill(self) -> None:
        """SIGKILL to the namespace's pid 1: the kernel then kills every process inside."""
        if alive(self.init_pid, self.init_start):
            signal_process(self.init_pid)
        try:
            self.proc.wait(timeout=2)  # bubblewrap reaps its init and exits by itself
        except subprocess.TimeoutExpired:
            self.proc.kill()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if self.proc.stderr:
            self.proc.stderr.close()
        deadline = time.monotonic() + 5
        while alive(self.init_pid, self.init_start) and time.monotonic() < deadline:
            time.sleep(0.01)


def _read_info(fd: int, proc: subprocess.Popen) -> dict[str, Any]:
    """bubblewrap writes {"child-pid": N, ...} once the namespaces exist."""
    data = b""
    deadline = time.monotonic() + HOLDER_START_TIMEOUT
    import select

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


def _first_child(pid: int) -> int:
    deadline = time.monotonic() + HOLDER_START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            kids = []
        if kids:
            return int(kids[0])
        time.sleep(0.005)
    raise IsolationError("bubblewrap's sandbox process did not appear")


# -- processes ---------------------------------------------------------------------------

def processes_in_namespace(pid_ns: str) -> list[int]:
    return [pid for pid in all_pids() if pid != os.getpid() and namespace(pid, "pid") == pid_ns]


# -- services ------------------------------------------------------------------------------

def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children first), from /proc's children lists."""
    found: list[int] = []
    queue = [pid]
    while queue:
        parent = queue.pop(0)
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                kids = [int(k) for k in Path(f"/proc/{parent}/task/{tid}/children").read_text().split()]
            except (OSError, ValueError):
                continue
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
            signal_process(pid, sig)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    if proc.poll() is None:
        for pid in descendants(proc.pid):
            signal_process(pid)
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
    kill_group(proc.pid)  # anything left in the group outside the namespace
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def run_entered(argv: list[str], *, env: dict[str, str], timeout: float,
                stdin_data: str | None = None) -> Completed:
    """Like process.run_bounded, but a timeout stops the sandboxed child before nsenter."""
    started = time.monotonic()
    proc = subprocess.Popen(argv, env=env, text=True, errors="replace", start_new_session=True,
                            stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return communicate_bounded(proc, argv, started, timeout, stdin_data,
                               stop=lambda p: stop_entered(p, signal.SIGKILL, 0))


@dataclass
class Service:
    """A long-running child (a restored service): poll it, read its output, stop it."""

    proc: subprocess.Popen
    log_path: Path
    argv: list[str]
    log: IO[bytes] | None = None

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
        if self.log:
            self.log.close()
            self.log = None
        return self.proc.returncode


# -- the launcher --------------------------------------------------------------------------

class IsolatedLauncher:
    """Runs every child of the drill inside its namespaces as the unprivileged account."""

    def __init__(self, sandbox: Sandbox, holder: NamespaceHolder, account: iso.Account,
                 isolation: Isolation, base_env: dict[str, str],
                 drill_env: dict[str, str] | None = None):
        self.sandbox = sandbox
        self.drill_env = dict(drill_env or {})
        self.holder = holder
        self.account = account
        self.isolation = isolation
        self.base_env = base_env
        self.services: list[Service] = []
        self.prepared = False

    def env_for(self, extra: dict[str, str]) -> dict[str, str]:
        return iso.scrubbed_env(self.base_env, {**self.drill_env, **extra})

    def argv_for(self, argv: list[str], cwd: Path) -> list[str]:
        return iso.enter_argv(self.holder.target_pid, self.account, self.isolation.limits,
                              Path(cwd), list(argv), network=self.isolation.network)

    def run(self, argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float,
            stdin_data: str | None = None) -> Completed:
        self._ready()
        done = run_entered(self.argv_for(argv, cwd), env=self.env_for(env), timeout=timeout,
                           stdin_data=stdin_data)
        done.argv = list(argv)
        _raise_if_not_found(done, argv)
        return done

    def start(self, argv: list[str], *, cwd: Path, env: dict[str, str]) -> Service:
        self._ready()
        log_path = self.sandbox.path / "logs" / f"service-{len(self.services) + 1}.log"
        log = open(log_path, "wb")
        proc = subprocess.Popen(self.argv_for(argv, cwd), env=self.env_for(env),
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        service = Service(proc, log_path, list(argv), log)
        self.services.append(service)
        return service

    def sweep(self) -> int:
        """Kill everything the drill's checks left running in the namespace (between checks)."""
        return self.holder.sweep()

    def kill_all(self) -> None:
        for service in self.services:
            service.stop(sig=signal.SIGKILL, grace=0)
        self.holder.kill()

    def _ready(self) -> None:
        """Before the first child: the restored tree becomes the account's (restic restores as root)."""
        if not self.holder.alive():
            raise IsolationError("the sandbox's namespaces are gone (bubblewrap exited)")
        if not self.prepared:
            _chown_tree(self.sandbox.restore_root, self.account.uid, self.account.gid)
            self.prepared = True


def _raise_if_not_found(done: Completed, argv: list[str]) -> None:
    """env(1) exits 127 when the program does not exist: keep checks' FileNotFoundError contract."""
    if done.returncode == 127 and "No such file or directory" in done.stderr and argv[0] in done.stderr:
        raise FileNotFoundError(2, "No such file or directory", argv[0])


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    os.lchown(root, uid, gid)
    for base, dirs, files in os.walk(root):
        for name in dirs + files:
            os.lchown(os.path.join(base, name), uid, gid)


# -- the sandbox ------------------------------------------------------------------------

@dataclass
class Sandbox:
    path: Path
    isolation: Isolation
    launcher: Any
    env: dict[str, str] = field(default_factory=dict)
    account: iso.Account | None = None

    @property
    def restore_root(self) -> Path:
        return self.path / "restore"

    @property
    def work_dir(self) -> Path:
        return self.path / "work"

    @classmethod
    def create(cls, root: Path, run_id: str, isolation: Isolation, env: dict[str, str]) -> Sandbox:
        missing = iso.missing_tools()
        if missing:
            raise IsolationError(f"{', '.join(missing)} not installed (apt-get install bubblewrap "
                                 "util-linux coreutils)")
        account = iso.resolve_account(isolation)
        if isolation.limits.memory:
            iso.memory_bytes(isolation.limits.memory)
        path = root / run_id
        path.mkdir(parents=True, exist_ok=False)
        try:
            return cls._build(path, isolation, env, account)
        except BaseException:
            remove_tree(path)
            raise

    @classmethod
    def _build(cls, path: Path, isolation: Isolation, env: dict[str, str],
               account: iso.Account) -> Sandbox:
        os.chmod(path, 0o755)
        for name in ("restore", "work", "home", "logs"):
            (path / name).mkdir()
        for name in ("work", "home"):
            os.chown(path / name, account.uid, account.gid)
        base_env = {
            "PATH": BASE_PATH,
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "TZ": "UTC",
            "HOME": str(path / "home"),
            "DRILLBOOK_RESTORE_ROOT": str(path / "restore"),
        }
        holder = NamespaceHolder.start(path, isolation.network)
        _write_holder_file(path, holder)
        sandbox = cls(path=path, isolation=isolation, launcher=None, env={**base_env, **env},
                      account=account)
        sandbox.launcher = IsolatedLauncher(sandbox, holder, account, isolation, base_env,
                                            drill_env=env)
        return sandbox

    def record(self) -> dict[str, Any]:
        assert self.account is not None
        return iso.isolation_record(self.isolation.network, self.account, self.isolation.limits)

    def teardown(self) -> None:
        self.launcher.kill_all()
        remove_tree(self.path)


def _write_holder_file(path: Path, holder: NamespaceHolder) -> None:
    """Lets ``drillbook cleanup`` find and kill the namespace if drillbook itself dies."""
    from drillbook.util.atomic import write_json_atomic

    write_json_atomic(path / HOLDER_FILE, holder.describe())


def remove_tree(path: Path) -> None:
    """Remove a sandbox even when restored files are read-only."""
    if not path.exists():
        return

    def _make_writable(func: Any, target: str, _exc: Any) -> None:
        try:
            os.chmod(target, 0o700)
            os.chmod(os.path.dirname(target), 0o700)
            func(target)
        except OSError:
            pass

    shutil.rmtree(path, onerror=_make_writable)
