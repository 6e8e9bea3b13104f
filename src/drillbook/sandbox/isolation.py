"""How a sandbox is isolated: the unprivileged account, the namespace argv, the resource limits.

Pure argv building and account lookup, so it can be unit-tested without starting anything.
One long-lived bubblewrap "holder" per sandbox owns fresh network, mount, PID, IPC and UTS
namespaces; every check and service of the drill is entered into them with ``nsenter`` and then
drops to the unprivileged account with ``setpriv``. Sharing one set of namespaces is what lets an
``http`` probe reach the service that the same drill started, and nothing else.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drillbook.spec.models import Isolation, Limits

SANDBOX_ACCOUNT = "drillbook-sandbox"
TOOLS = ("bwrap", "nsenter", "setpriv", "prlimit", "env", "sleep")
BASE_PATH = "/usr/local/bin:/usr/bin:/bin"
TOOL_PATH = "/usr/bin:/bin:/usr/sbin:/sbin"
#: What children see of drillbook's environment: nothing but these, plus the drill's ``env:``.
ENV_ALLOW_LIST = ("PATH", "LANG", "TZ", "HOME", "DRILLBOOK_RESTORE_ROOT")
#: Read-only files from the host's /etc that programs need (user names, libraries, time zone).
ETC_FILES = ("passwd", "group", "nsswitch.conf", "hosts", "host.conf", "ld.so.cache", "ld.so.conf",
             "ld.so.conf.d", "localtime", "timezone", "alternatives", "ssl", "mime.types")
ETC_FILES_HOST_NETWORK = ("resolv.conf", "gai.conf", "services", "protocols")
NAMESPACES = ("network", "mount", "pid", "ipc", "uts")
#: The sandbox's own /tmp (a tmpfs): a unix socket there is unreachable from the host.
PRIVATE_TMP = "/tmp"


class IsolationError(Exception):
    """The declared isolation cannot be set up here: the drill must fail, not run with less."""


@dataclass(frozen=True)
class Account:
    """Who checks and services run as."""

    name: str
    uid: int
    gid: int

    def describe(self) -> str:
        return f"{self.name} (uid {self.uid}, gid {self.gid})"


def missing_tools() -> list[str]:
    return [name for name in TOOLS if shutil.which(name, path=TOOL_PATH) is None]


def tool(name: str) -> str:
    """Absolute path under /usr, the same inside the namespaces: a drill's PATH cannot swap it."""
    return shutil.which(name, path=TOOL_PATH) or name


def resolve_account(isolation: Isolation) -> Account:
    """The declared ``user:``, else a dedicated system account created on demand; never root."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid()).pw_name
        raise IsolationError(f"drillbook runs as {me}, not root: it cannot create the sandbox's "
                             "namespaces nor switch checks to an unprivileged account (run "
                             "drillbook as root; checks and services still run unprivileged)")
    name = isolation.user or SANDBOX_ACCOUNT
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        if isolation.user:
            raise IsolationError(f"user: {name} does not exist on this host "
                                 "(create it, or drop user: to use the dedicated "
                                 f"{SANDBOX_ACCOUNT} account)") from None
        entry = _create_account(name)
    if entry.pw_uid == 0 or entry.pw_gid == 0:
        raise IsolationError(f"user: {name} is root (uid/gid 0): checks and services must run "
                             "as an unprivileged account")
    return Account(entry.pw_name, entry.pw_uid, entry.pw_gid)


def _create_account(name: str) -> pwd.struct_passwd:
    """``useradd --system``; a concurrent drill creating it at the same moment is fine."""
    argv = ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
            "--shell", "/usr/sbin/nologin", "--comment", "drillbook sandboxed checks", name]
    problem = "useradd not found"
    for _attempt in range(5):
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
            problem = done.stderr.strip() or f"useradd exited {done.returncode}"
        except (OSError, subprocess.TimeoutExpired) as exc:
            problem = str(exc)
        try:
            return pwd.getpwnam(name)
        except KeyError:
            time.sleep(0.2)
    raise IsolationError(f"cannot create the unprivileged account {name}: {problem} "
                         "(create it yourself, or set isolation.user to an existing account)")


# -- limits ------------------------------------------------------------------------

_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


def memory_bytes(text: str) -> int:
    match = re.fullmatch(r"(\d+)([KMG]?)", text)
    if not match:
        raise IsolationError(f"limits.memory {text!r} is not a size like 512M")
    return int(match.group(1)) * _UNITS[match.group(2)]


def prlimit_args(limits: Limits) -> list[str]:
    """prlimit options for the declared limits (soft = hard, so children cannot raise them)."""
    args = []
    if limits.memory:
        args.append(f"--as={memory_bytes(limits.memory)}")
    if limits.processes:
        args.append(f"--nproc={limits.processes}")
    if limits.open_files:
        args.append(f"--nofile={limits.open_files}")
    return args


def limits_record(limits: Limits) -> dict[str, str]:
    """What the report shows, naming the mechanism: there is no memory cgroup on cgroups v1 hosts."""
    shown = {}
    if limits.memory:
        shown["memory"] = f"{limits.memory} per process (RLIMIT_AS via prlimit)"
    if limits.processes:
        shown["processes"] = f"{limits.processes} for the account (RLIMIT_NPROC via prlimit)"
    if limits.open_files:
        shown["open_files"] = f"{limits.open_files} per process (RLIMIT_NOFILE via prlimit)"
    return shown


# -- argv --------------------------------------------------------------------------

def holder_argv(sandbox: Path, network: str, info_fd: int) -> list[str]:
    """bubblewrap keeping the drill's namespaces alive: a read-only system, the sandbox, nothing else.

    The sandbox folder is bound at the same path inside, so paths in records and reports are the
    ones the checks saw. /tmp, /run and /dev/shm are private, so host unix sockets such as
    /run/postgresql/.s.PGSQL.5432 or /run/docker.sock cannot be reached.
    """
    argv = [tool("bwrap"), "--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--hostname", "drillbook-sandbox"]
    if network == "none":
        argv.append("--unshare-net")
    argv += ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        top = Path("/") / name
        if top.is_symlink():
            argv += ["--symlink", os.readlink(top), str(top)]
        elif top.is_dir():
            argv += ["--ro-bind", str(top), str(top)]
    argv += ["--perms", "0755", "--dir", "/etc"]
    etc = ETC_FILES + (ETC_FILES_HOST_NETWORK if network == "host" else ())
    for name in etc:
        argv += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    argv += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/dev/shm",
             "--perms", "1777", "--tmpfs", "/tmp", "--perms", "0755", "--tmpfs", "/run",
             "--perms", "0755", "--dir", "/var", "--perms", "1777", "--tmpfs", "/var/tmp"]
    for parent in reversed(sandbox.parents):
        if str(parent) not in ("/", "/tmp", "/run", "/var", "/var/tmp", "/dev/shm"):
            argv += ["--perms", "0755", "--dir", str(parent)]
    argv += ["--bind", str(sandbox), str(sandbox), "--chdir", str(sandbox),
             "--info-fd", str(info_fd), "--", tool("sleep"), "infinity"]
    return argv


def enter_argv(target_pid: int, account: Account, limits: Limits, cwd: Path, argv: list[str],
               *, network: str) -> list[str]:
    """nsenter into the holder's namespaces, apply limits, drop to the account, chdir, exec.

    nsenter's own ``--wd`` opens the folder before entering the mount namespace, which leaves the
    child with a cwd outside its root; ``env -C`` changes directory from inside instead.
    """
    wrapped = [tool("nsenter"), f"--target={target_pid}", "--mount", "--pid", "--ipc", "--uts", "--root"]
    if network == "none":
        wrapped.append("--net")
    wrapped.append("--")
    extra = prlimit_args(limits)
    if extra:
        wrapped += [tool("prlimit"), *extra, "--"]
    wrapped += [tool("setpriv"), f"--reuid={account.uid}", f"--regid={account.gid}", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
    return [*wrapped, tool("env"), "-C", str(cwd), "--", *argv]


def scrubbed_env(base: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
    """The allow-list from ``base`` plus what the drill declares; nothing else crosses over."""
    return {**{k: v for k, v in base.items() if k in ENV_ALLOW_LIST}, **extra}


def describe_method(network: str) -> str:
    spaces = [n for n in NAMESPACES if n != "network" or network == "none"]
    return (f"bubblewrap + nsenter: own {', '.join(spaces)} namespaces; read-only /usr; private "
            "/tmp, /run, /dev/shm; only the sandbox folder writable; environment scrubbed to "
            f"{', '.join(ENV_ALLOW_LIST)} + the drill's env")


def isolation_record(network: str, account: Account, limits: Limits) -> dict[str, Any]:
    return {
        "network": network,
        "network_detail": ("own network namespace, only its loopback up" if network == "none"
                           else "the host's network (declared network: host)"),
        "user": account.describe(),
        "method": describe_method(network),
        "limits": limits_record(limits),
        "environment": list(ENV_ALLOW_LIST),
    }
