"""What /proc says about processes: the one reader, so every caller agrees on what "alive" means.

A pid alone does not name a process (pids are reused), so records keep a pid with its start time
in clock ticks since boot, and "the same process" means both match. Which boot is told by the
kernel's boot id, never by the boot time: btime is derived from the wall clock and moves when the
clock is stepped (NTP, a virtual machine resumed), while the boot id and clock ticks do not.
"""

from __future__ import annotations

import os

#: Where the kernel's boot time is read; a module value so a test can stand a stepped clock in.
STAT_PATH = "/proc/stat"
#: A random id the kernel draws at each boot.
BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id"


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (which may hold spaces and parentheses)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def process_start(pid: int) -> int | None:
    """Start time in clock ticks since boot: tells a process from a later one with its pid."""
    fields = _stat_fields(pid)
    try:
        return int(fields[19]) if fields else None
    except (IndexError, ValueError):
        return None


def alive(pid: int, start: int | None) -> bool:
    """The same process (``start`` matches, when given) exists and is not a zombie."""
    fields = _stat_fields(pid)
    if not fields or fields[0] == "Z":
        return False
    return start is None or process_start(pid) == start


def parent(pid: int) -> int | None:
    """The parent's pid, or None when ``pid`` is gone."""
    fields = _stat_fields(pid)
    try:
        return int(fields[1]) if fields else None
    except (IndexError, ValueError):
        return None


def children(pid: int) -> list[int]:
    """Direct children of every thread of ``pid``, oldest thread first; [] when it is gone."""
    try:
        tasks = sorted(os.listdir(f"/proc/{pid}/task"), key=int)
    except (OSError, ValueError):
        return []
    found: list[int] = []
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as fh:
                found += [int(kid) for kid in fh.read().split()]
        except (OSError, ValueError):
            continue
    return found


def all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def link(pid: int, name: str) -> str | None:
    """Where /proc/PID/``name`` (cwd, root, exe) points, if readable."""
    try:
        return os.readlink(f"/proc/{pid}/{name}")
    except OSError:
        return None


def environ(pid: int) -> list[str]:
    """``pid``'s environment as NAME=value strings; [] when unreadable."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            return fh.read().decode(errors="replace").split("\0")
    except OSError:
        return []


def arguments(pid: int) -> list[str]:
    """``pid``'s command line, one string per argument; [] when unreadable or a kernel thread."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return [arg.decode(errors="replace") for arg in fh.read().split(b"\0") if arg]
    except OSError:
        return []


def namespace(pid: int, kind: str) -> str | None:
    """The namespace ``kind`` (net, pid, mnt...) of ``pid`` as the kernel names it, if readable."""
    try:
        return os.readlink(f"/proc/{pid}/ns/{kind}")
    except OSError:
        return None


def boot_id() -> str | None:
    """This boot's id: differs after every restart, and only then (a clock step leaves it)."""
    try:
        with open(BOOT_ID_PATH, encoding="ascii") as fh:
            return fh.read().strip() or None
    except (OSError, ValueError):
        return None


def boot_time() -> float | None:
    """The kernel's boot time (btime) in Unix seconds: the wall clock's now minus the uptime, so
    it moves when the clock is stepped. Only records older than the boot id are judged by it."""
    try:
        with open(STAT_PATH, encoding="ascii") as fh:
            for line in fh:
                if line.startswith("btime"):
                    return float(line.split()[1])
    except OSError:
        pass
    return None


def mount_id(fd: int) -> int | None:
    """The id of the mount an open file lies on (``mnt_id`` in /proc/self/fdinfo), if readable.

    Unlike ``st_dev`` it tells a bind mount of the same filesystem from the folder it sits in.
    """
    try:
        with open(f"/proc/self/fdinfo/{fd}", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("mnt_id:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None
