"""How a sandbox is isolated: the unprivileged account, the namespace argv, the resource limits.

Pure argv building and account lookup, so it can be unit-tested without starting anything.
One long-lived bubblewrap "holder" per sandbox owns a fresh user namespace and, owned by it,
fresh network, mount, PID, IPC and UTS namespaces; every check and service of the drill is entered
into them with ``nsenter`` and drops its capabilities with ``setpriv`` before it runs. Sharing one
set of namespaces is what lets an ``http`` probe reach the service that the same drill started,
and nothing else.

The namespaces are always created and entered by the unprivileged sandbox account, never by root,
so nothing privileged ever runs inside them or sees a drill's environment. Two modes differ only
in who that account is (see :class:`Mode`): as root, drillbook switches to a dedicated account
(one per run at the same time, see slots.py) with ``setpriv`` before starting bubblewrap or
nsenter; as an ordinary account, drillbook's own account is the sandbox account and nothing
switches.

Inside, the user namespace maps exactly one uid: the account's, to itself. Checks therefore run
under the same uid inside and out (PostgreSQL refuses to start as uid 0, even a namespaced one),
and no uid 0 exists inside for anything to become. bubblewrap's ``--dev`` is not used: mounting a
devpts needs uid 0 inside, and for that bubblewrap nests a second user namespace that ``nsenter``
cannot enter; the device nodes are bound one by one instead.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from drillbook.spec.models import Isolation, Limits

SANDBOX_ACCOUNT = "drillbook-sandbox"
TOOLS = ("bwrap", "nsenter", "setpriv", "prlimit", "env", "sleep", "find")
BASE_PATH = "/usr/local/bin:/usr/bin:/bin"
TOOL_PATH = "/usr/bin:/bin:/usr/sbin:/sbin"
#: What children see of drillbook's environment: nothing but these, plus the drill's ``env:``.
ENV_ALLOW_LIST = ("PATH", "LANG", "TZ", "HOME", "DRILLBOOK_RESTORE_ROOT")
#: Read-only files from the host's /etc that programs need (user names, libraries, time zone).
ETC_FILES = ("passwd", "group", "nsswitch.conf", "hosts", "host.conf", "ld.so.cache", "ld.so.conf",
             "ld.so.conf.d", "localtime", "timezone", "alternatives", "ssl", "mime.types")
ETC_FILES_HOST_NETWORK = ("resolv.conf", "gai.conf", "services", "protocols")
NAMESPACES = ("user", "network", "mount", "pid", "ipc", "uts")
#: The folders of a sandbox folder that the account may write to; the rest is drillbook's.
ACCOUNT_FOLDERS = ("restore", "work", "home")
#: drillbook's own folder of a sandbox folder: files it writes for sandboxed programs to read.
OWN_FOLDER = "config"
#: The sandbox's own /tmp (a tmpfs): a unix socket there is unreachable from the host.
PRIVATE_TMP = "/tmp"
#: What bubblewrap's ``--dev`` would provide, minus the devpts (see the module docstring).
DEV_NODES = ("null", "zero", "full", "random", "urandom", "tty")
DEV_LINKS = (("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"),
             ("/proc/self/fd/1", "/dev/stdout"), ("/proc/self/fd/2", "/dev/stderr"))
#: Names the sandbox folder in the environment of drillbook's own helpers (bubblewrap, nsenter),
#: so ``drillbook cleanup`` finds them after a crash; never passed on to checks.
SANDBOX_MARKER = "DRILLBOOK_SANDBOX"
USERNS_SYSCTL = "/proc/sys/user/max_user_namespaces"
DEBIAN_USERNS_SYSCTL = "/proc/sys/kernel/unprivileged_userns_clone"
USERNS_HINT = ("the sandbox is built by an unprivileged account and needs unprivileged user "
               "namespaces: sysctl user.max_user_namespaces must be above 0 (and, on Ubuntu 24.04, "
               "kernel.apparmor_restrict_unprivileged_userns=0 or an AppArmor profile allowing "
               "bwrap to create them)")


class IsolationError(Exception):
    """The declared isolation cannot be set up here: the drill must fail, not run with less."""


class Mode(StrEnum):
    """Who drillbook is, which decides who the sandbox account is."""

    ROOT = "root"          # switches to the dedicated account before touching the sandbox
    ROOTLESS = "rootless"  # an ordinary account: it is the sandbox account itself


def current_mode() -> Mode:
    return Mode.ROOT if os.geteuid() == 0 else Mode.ROOTLESS


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


def slot_account(slot: int) -> str:
    """The dedicated account of a sandbox slot (see slots.py); slot 0 is the original one."""
    return SANDBOX_ACCOUNT if slot == 0 else f"{SANDBOX_ACCOUNT}-{slot}"


def resolve_account(isolation: Isolation, mode: Mode, slot: int = 0) -> Account:
    """As root: the declared ``user:``, else the slot's dedicated account created on demand; never root.

    Without root nothing can switch accounts, so the sandbox account is drillbook's own.
    """
    if mode is Mode.ROOTLESS:
        return _own_account(isolation)
    name = isolation.user or slot_account(slot)
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


def _own_account(isolation: Isolation) -> Account:
    uid, gid = os.geteuid(), os.getegid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = str(uid)
    if isolation.user and isolation.user != name:
        raise IsolationError(f"user: {isolation.user} needs drillbook to run as root; it runs as "
                             f"{name}, so checks and services run as {name} (drop user:, or run "
                             f"drillbook as {isolation.user} or as root)")
    return Account(name, uid, gid)


def user_namespace_problem(read: Callable[[str], str | None] | None = None) -> str | None:
    """Why this host will not let an ordinary account create a user namespace, when it says so.

    Only the sysctls that certainly forbid it are read here; anything else (an AppArmor policy,
    a seccomp filter of a container) shows up when bubblewrap fails, with the same hint.
    """
    read = read or _read_sysctl
    if (read(USERNS_SYSCTL) or "").strip() == "0":
        return f"user.max_user_namespaces is 0 on this host; {USERNS_HINT}"
    if (read(DEBIAN_USERNS_SYSCTL) or "").strip() == "0":
        return f"kernel.unprivileged_userns_clone is 0 on this host; {USERNS_HINT}"
    return None


def _read_sysctl(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as fh:
            return fh.read()
    except OSError:
        return None


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


def group_shared_with(account: Account) -> list[str]:
    """Other accounts holding the account's group: they could enter a folder opened to that group."""
    others = {entry.pw_name for entry in pwd.getpwall()
              if entry.pw_gid == account.gid and entry.pw_uid != account.uid}
    try:
        members = set(grp.getgrgid(account.gid).gr_mem)
    except KeyError:
        members = set()
    return sorted((others | members) - {account.name})


READ_PROBE_TIMEOUT = 120.0


def readable_argv(account: Account, path: Path, mode: Mode) -> list[str]:
    """``find`` as the account, printing the first entry of ``path`` it could not read or enter."""
    return [*switch_argv(account, mode), tool("find"), "-H", str(path), "(", "-type", "d", "(",
            "!", "-readable", "-o", "!", "-executable", ")", "-o", "!", "-type", "l", "!", "-readable",
            ")", "-print", "-quit"]


def unreadable_by(account: Account, path: Path) -> str | None:
    """Why the account cannot read everything under ``path`` (tried as it), None when it can.

    Only drillbook as root asks: an ordinary account is the sandbox account already.
    """
    argv = readable_argv(account, path, Mode.ROOT)
    try:
        done = subprocess.run(argv, capture_output=True, text=True, errors="replace", cwd="/",
                              env={"PATH": TOOL_PATH}, stdin=subprocess.DEVNULL,
                              timeout=READ_PROBE_TIMEOUT)
    except subprocess.TimeoutExpired:
        return f"reading it took longer than {READ_PROBE_TIMEOUT:.0f}s"
    except OSError as exc:
        return f"cannot try: {exc}"
    first = done.stdout.splitlines()[0] if done.stdout.strip() else ""
    if first:
        return f"{first} is not readable by it"
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        return lines[-1] if lines else f"find exited {done.returncode}"
    return None


# -- limits ------------------------------------------------------------------------

_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


def memory_bytes(text: str) -> int:
    match = re.fullmatch(r"(\d+)([KMG]?)", text)
    if not match:
        raise IsolationError(f"limits.memory {text!r} is not a size like 512M")
    return int(match.group(1)) * _UNITS[match.group(2)]


def prlimit_args(limits: Limits) -> list[str]:
    """prlimit options for every child: the drill's limits, else drillbook's defaults.

    soft = hard, so children cannot raise them.
    """
    return [f"--as={memory_bytes(limits.memory)}", f"--nproc={limits.processes}",
            f"--nofile={limits.open_files}"]


def limits_record(limits: Limits) -> dict[str, str]:
    """What the report shows, naming the mechanism (there is no memory cgroup on cgroups v1 hosts)
    and who chose each value, so an auditor sees a default as such."""
    shown = {"memory": f"{limits.memory} per process (RLIMIT_AS via prlimit",
             "processes": f"{limits.processes} for the account (RLIMIT_NPROC via prlimit",
             "open_files": f"{limits.open_files} per process (RLIMIT_NOFILE via prlimit"}
    return {name: text + ("; declared by the drill)" if name in limits.model_fields_set
                          else "; drillbook's default)")
            for name, text in shown.items()}


# -- argv --------------------------------------------------------------------------

def switch_argv(account: Account, mode: Mode) -> list[str]:
    """As root: become the account before anything else runs, with no way back. Rootless: nothing.

    Root has CAP_SETPCAP here, so the bounding set can go too; every helper after this prefix
    (bubblewrap, nsenter, prlimit, setpriv) runs as the account only.
    """
    if mode is Mode.ROOTLESS:
        return []
    return [tool("setpriv"), f"--reuid={account.uid}", f"--regid={account.gid}", "--clear-groups",
            "--no-new-privs", "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all", "--"]


def drop_argv() -> list[str]:
    """The last helper before a check's program: no capabilities, no way to gain any.

    Entering the user namespace gives nsenter every capability in it, and the exec of the next
    helper under a uid other than 0 clears them again; this makes that explicit and adds
    no_new_privs. The bounding set cannot be emptied here (that needs CAP_SETPCAP, already gone),
    and need not be: with no_new_privs and no uid 0 mapped, no exec can raise a capability.
    """
    return [tool("setpriv"), "--no-new-privs", "--inh-caps=-all", "--ambient-caps=-all", "--"]


def holder_argv(sandbox: Path, network: str, info_fd: int, account: Account, mode: Mode,
                restore_tmpfs: int | None = None) -> list[str]:
    """bubblewrap keeping the drill's namespaces alive: a read-only system, the sandbox, nothing else.

    Run as the account (see switch_argv), it creates one user namespace mapping the account's uid
    and gid to themselves, which owns every other namespace, so the account can enter them later.
    The sandbox folder is bound at the same path inside, so paths in records and reports are the
    ones the checks saw; read-only but for the account's own folders (:data:`ACCOUNT_FOLDERS`).
    /tmp, /run and /dev/shm are private, so host unix sockets such as
    /run/postgresql/.s.PGSQL.5432 or /run/docker.sock cannot be reached.

    With ``restore_tmpfs`` (bytes), ``restore/`` is instead a tmpfs of that size made in the
    namespace, the account's, mode 0700 (bubblewrap mounts it nosuid and nodev): it exists in no
    other mount namespace, and is gone with the namespace. restic writes into it through
    ``/proc/<pid>/root`` (see holder.Sandbox.restore_target).
    """
    argv = [*switch_argv(account, mode), tool("bwrap"), "--unshare-user", "--uid", str(account.uid),
            "--gid", str(account.gid), "--die-with-parent", "--unshare-pid", "--unshare-ipc",
            "--unshare-uts", "--unshare-cgroup-try", "--hostname", "drillbook-sandbox"]
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
    argv += ["--proc", "/proc", *dev_argv(), "--perms", "1777", "--tmpfs", "/tmp",
             "--perms", "0755", "--tmpfs", "/run", "--perms", "0755", "--dir", "/var",
             "--perms", "1777", "--tmpfs", "/var/tmp"]
    for parent in reversed(sandbox.parents):
        if str(parent) not in ("/", "/tmp", "/run", "/var", "/var/tmp", "/dev/shm"):
            argv += ["--perms", "0755", "--dir", str(parent)]
    argv += ["--ro-bind", str(sandbox), str(sandbox)]
    for name in ACCOUNT_FOLDERS:
        if name == "restore" and restore_tmpfs is not None:
            argv += ["--size", str(restore_tmpfs), "--perms", "0700", "--tmpfs", str(sandbox / name)]
        else:
            argv += ["--bind", str(sandbox / name), str(sandbox / name)]
    argv += ["--chdir", str(sandbox),
             "--info-fd", str(info_fd), "--", tool("sleep"), "infinity"]
    return argv


def dev_argv() -> list[str]:
    """A private /dev with the usual nodes bound from the host, and its own /dev/shm."""
    argv = ["--perms", "0755", "--tmpfs", "/dev"]
    for name in DEV_NODES:
        argv += ["--dev-bind", f"/dev/{name}", f"/dev/{name}"]
    for target, link in DEV_LINKS:
        argv += ["--symlink", target, link]
    return [*argv, "--perms", "1777", "--tmpfs", "/dev/shm"]


def enter_argv(target_pid: int, account: Account, limits: Limits, cwd: Path, argv: list[str],
               env: dict[str, str], *, network: str, mode: Mode) -> list[str]:
    """As the account: nsenter into the holder's namespaces, apply limits, drop, chdir, exec.

    The check's environment travels as arguments of the final ``env -i``: every helper before
    it runs with drillbook's tool environment only (see tool_env), so a drill's ``LD_PRELOAD``
    or ``PATH`` reaches nothing outside the sandbox. The price: like the program's arguments,
    those values show in the host's process list (they come from the drill file and the checks,
    never from a secret store).

    nsenter's own ``--wd`` opens the folder before entering the mount namespace, which leaves the
    child with a cwd outside its root; ``env -C`` changes directory from inside instead.
    """
    wrapped = [*switch_argv(account, mode), tool("nsenter"), f"--target={target_pid}", "--user",
               "--preserve-credentials", "--mount", "--pid", "--ipc", "--uts", "--root"]
    if network == "none":
        wrapped.append("--net")
    wrapped.append("--")
    wrapped += [tool("prlimit"), *prlimit_args(limits), "--"]
    assignments = [f"{name}={value}" for name, value in env.items()]
    return [*wrapped, *drop_argv(), tool("env"), "-i", "-C", str(cwd), "--", *assignments, *argv]


def tool_env(sandbox: Path) -> dict[str, str]:
    """All that drillbook's helpers see: where the tools are, and which sandbox they serve."""
    return {"PATH": TOOL_PATH, SANDBOX_MARKER: str(sandbox)}


def scrubbed_env(base: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
    """The allow-list from ``base`` plus what the drill declares; nothing else crosses over."""
    return {**{k: v for k, v in base.items() if k in ENV_ALLOW_LIST}, **extra}


def describe_method(network: str) -> str:
    spaces = [n for n in NAMESPACES if n != "network" or network == "none"]
    return (f"bubblewrap + nsenter: own {', '.join(spaces)} namespaces, created and entered by the "
            "unprivileged account; no capabilities, no_new_privs; read-only /usr; private /tmp, "
            "/run, /dev/shm; only the sandbox folder writable; environment scrubbed to "
            f"{', '.join(ENV_ALLOW_LIST)} + the drill's env")


def account_sharing(mode: Mode, slot: int | None, declared: bool) -> str:
    """Whether runs at the same time may share the account, and so signal or read each other."""
    if mode is Mode.ROOTLESS:
        return ("shared: drillbook runs as an ordinary account and cannot switch uids, so every run "
                "it makes at the same time uses this account")
    if declared:
        return "declared by the drill (isolation.user): runs at the same time that declare it share it"
    if slot is None:
        return "shared with every run of drillbook at the same time (no slot was taken)"
    return f"slot {slot} of drillbook's sandbox accounts: no other run of this drillbook uses it while this one runs"


def isolation_record(network: str, account: Account, limits: Limits, mode: Mode, *,
                     slot: int | None = None, declared: bool = False) -> dict[str, Any]:
    return {
        "network": network,
        "network_detail": ("own network namespace, only its loopback up" if network == "none"
                           else "the host's network (declared network: host)"),
        "user": account.describe(),
        "user_slot": slot,
        "user_sharing": account_sharing(mode, slot, declared),
        "mode": str(mode),
        "outer_uid": account.uid,
        "method": describe_method(network),
        "limits": limits_record(limits),
        "environment": list(ENV_ALLOW_LIST),
    }
