"""Runs whose drillbook died mid-way (SIGKILL, crash, power loss): find them, clean up, record it.

A run record is written ``running`` at the start with its owner process (pid, its start time in
clock ticks since boot, the boot id, the host) and its sandbox. The owner is gone when the boot id
differs (the machine restarted) or the pid is free or names a process started at another tick;
none of these moves when the wall clock is stepped. A record written before the boot id was kept
is judged by the old rule: a boot time (btime, which does move with the clock) more than
:data:`BOOT_TIME_TOLERANCE` away means a restart. When that owner is gone, whatever the run left behind
is killed (the sandbox's namespace and any process whose cwd, root, environment or arguments point
into the sandbox), the sandbox is removed, and the record becomes ``aborted`` with the reason. Then the run
goes through the post-run pipeline like any other finished run (notifications, reports, index,
WORM upload, ledger): a crashed scheduled drill alerts like any failed one.

``drillbook cleanup`` calls :func:`reap_stale_runs`; so do ``drillbook run`` and the scheduler
when they start. Runs of another host or of a live process are never touched. The same call
finishes what finished runs left undone: a sandbox their teardown could not remove is removed
again (it holds restored data), and a run never sealed into the evidence ledger is sealed. A run
that cannot be cleaned up is logged and never stops the clean-up of the others, nor the command.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drillbook.outputs import finish as postrun
from drillbook.outputs.runstore import RUN_FILE, iter_run_files, read_record
from drillbook.settings import Settings
from drillbook.spec.models import ProjectConfig
from drillbook.status import Status
from drillbook.util.clock import iso, utc_now
from drillbook.util.lazy import lazy_module
from drillbook.util.locks import LockBusy, file_lock
from drillbook.util.process import signal_process
from drillbook.util.procfs import alive, all_pids, arguments, boot_id, boot_time, environ, link, parent, process_start

if TYPE_CHECKING:
    from drillbook.evidence import ledger
    from drillbook.sandbox import holder, isolation
else:
    ledger = lazy_module("drillbook.evidence.ledger")  # cryptography: only when a finished run is found
    # every run reaps before it starts restic: the sandbox's modules load when a sandbox is left
    holder = lazy_module("drillbook.sandbox.holder")
    isolation = lazy_module("drillbook.sandbox.isolation")

log = logging.getLogger("drillbook.sandbox.reaper")

CLEANUP_LOCK_TIMEOUT = 30.0
BOOT_TIME_TOLERANCE = 5.0  # records without a boot id only: btime drifts by a second or so between reads


def remove_tree(sandbox: Path) -> None:
    """A sandbox left behind, removed (tests replace this name): the holder's modules load here."""
    holder.remove_tree(sandbox)


def sandbox_entries() -> set[str]:
    """What a sandbox folder holds (see sandbox/holder.make_run_folders): a folder holding anything
    else is not taken for one, and is left in place."""
    return {*isolation.ACCOUNT_FOLDERS, "logs", isolation.OWN_FOLDER, holder.HOLDER_FILE}


@dataclass
class Reaped:
    """One stale run and what cleaning it up did."""

    run_dir: str
    drill: str
    run_id: str
    kind: str
    owner: str
    killed: int
    sandbox: str | None
    sandbox_removed: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def owner_gone(process: dict[str, Any]) -> str | None:
    """Why the run's owner process no longer exists, or None when it may still be running."""
    if not isinstance(process, dict) or not process.get("pid"):
        return None  # no owner recorded: cannot tell, so never touch it
    if process.get("host") and process["host"] != socket.gethostname():
        return None
    pid = int(process["pid"])
    if _another_boot(process):
        return "the machine restarted since the run began"
    started = process_start(pid)
    if started is None:
        return f"its drillbook process (pid {pid}) no longer exists"
    if process.get("process_start") is not None and started != process["process_start"]:
        return f"its drillbook process (pid {pid}) is gone (the pid now belongs to another process)"
    return None


def _another_boot(process: dict[str, Any]) -> bool:
    """The record was written before the machine last started: by its boot id, or, for a record
    without one (or a kernel that hides it), by its boot time as before."""
    recorded, current = process.get("boot_id"), boot_id()
    if recorded and current:
        return str(recorded) != current
    booted, now = process.get("boot_time"), boot_time()
    return bool(booted and now and abs(float(booted) - now) > BOOT_TIME_TOLERANCE)


def find_stale_runs(settings: Settings) -> list[tuple[Path, dict[str, Any], str]]:
    """Runs recorded ``running`` whose owner is gone, with why; a record too broken to tell is logged."""
    stale = []
    for folder, record in _records(settings):
        if record.get("status") != Status.RUNNING:
            continue
        try:
            why = owner_gone(record.get("process") or {})
        except (TypeError, ValueError) as exc:
            log.error("cannot tell whether the run in %s is stale: %s", folder, exc)
            continue
        if why:
            stale.append((folder, record, why))
    return stale


def reap_stale_runs(settings: Settings, *, dry_run: bool = False,
                    project: ProjectConfig | None = None) -> list[Reaped]:
    """Clean up every stale run under the reports folder; the list says what was done.

    Then, for finished runs whose drillbook is gone: a sandbox left behind is removed and a run
    never sealed is sealed. ``project`` (drillbook.yaml) names the WORM target the ledger's new
    heads are anchored to.
    """
    with _cleanup_lock(settings) as locked:
        if not locked:
            return []  # another drillbook is cleaning up right now
        done: list[Reaped] = []
        stale = find_stale_runs(settings)
        for folder, _record, why in stale:
            done += _guarded(folder, _stale, folder, why, settings, project, dry_run)
        reaped = {folder for folder, _record, _why in stale}
        finished = [(folder, record) for folder, record in _records(settings)
                    if folder not in reaped and record.get("status") != Status.RUNNING]
        sealed = _sealed_paths(settings) if finished else None  # no run to look up: no ledger read
        for folder, record in finished:
            done += _guarded(folder, _finished, folder, record, sealed, settings, project, dry_run)
        return done


def _records(settings: Settings) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every run folder with its record; one unreadable, or not a record at all, is passed over."""
    for path in iter_run_files(settings.reports_dir):
        record = read_record(path)
        if isinstance(record, dict):
            yield path.parent, record


def _guarded(folder: Path, work: Callable[..., list[Reaped]], *args: Any) -> list[Reaped]:
    """One run's clean-up; a run that cannot be cleaned up is logged, and the others go on."""
    try:
        return work(*args)
    except Exception as exc:
        log.error("could not clean up the run in %s: %s: %s", folder, type(exc).__name__, exc)
        return []


def _stale(folder: Path, why: str, settings: Settings, project: ProjectConfig | None,
           dry_run: bool) -> list[Reaped]:
    current = read_record(folder / RUN_FILE)  # re-read: it may have finished meanwhile
    if not isinstance(current, dict) or current.get("status") != Status.RUNNING:
        return []
    return [_preview(folder, current, why) if dry_run else _reap(folder, current, why, settings, project)]


# -- finished runs: what their drillbook did not get to ---------------------------------------

def _finished(folder: Path, record: dict[str, Any], sealed: set[str] | None, settings: Settings,
              project: ProjectConfig | None, dry_run: bool) -> list[Reaped]:
    """A finished run's leftovers, once its owner is gone (a live one is still finishing it)."""
    sandbox = _sandbox_of(record)
    left = sandbox is not None and os.path.lexists(sandbox) and not _kept(record)
    unsealed = sealed is not None and _relative(folder, settings) not in sealed
    why = owner_gone(record.get("process") or {}) if left or unsealed else None
    if not why:
        return []
    done = []
    if left and sandbox is not None:
        done.append(_left_behind(folder, record, why, sandbox, dry_run))
    if unsealed:
        done.append(_seal(folder, record, why, settings, project, dry_run))
    return done


def _left_behind(folder: Path, record: dict[str, Any], why: str, sandbox: Path, dry_run: bool) -> Reaped:
    """Remove again a sandbox the run's teardown (or an earlier cleanup) could not remove."""
    owner = f"its sandbox was left behind when the run ended ({why})"
    if dry_run:
        return _entry(folder, record, owner, len(leftover_processes(sandbox)), sandbox, False,
                      "its sandbox would be removed")
    killed = kill_leftovers(sandbox)
    removed, problem = _remove_sandbox(sandbox, record)
    if problem:
        log.error("restored data still left at %s: %s", sandbox, problem)
    return _entry(folder, record, owner, killed, sandbox, removed,
                  "removed the sandbox left behind" if removed else problem or f"could not remove {sandbox}")


def _seal(folder: Path, record: dict[str, Any], why: str, settings: Settings,
          project: ProjectConfig | None, dry_run: bool) -> Reaped:
    owner = f"it finished but was never sealed into the evidence ledger ({why})"
    if dry_run:
        return _entry(folder, record, owner, 0, None, False, "would be sealed into the evidence ledger")
    done = postrun.seal_late(folder, record, settings, project)
    return _entry(folder, record, owner, 0, None, False,
                  "sealed into the evidence ledger" if done else "could not be sealed (see the log)")


def _entry(folder: Path, record: dict[str, Any], owner: str, killed: int, sandbox: Path | None,
           removed: bool, reason: str) -> Reaped:
    return Reaped(str(folder), _name(record), record.get("run_id", folder.name), record.get("kind", "drill"),
                  owner, killed, str(sandbox) if sandbox else None, removed, reason)


def _kept(record: dict[str, Any]) -> bool:
    """The run kept its sandbox on purpose (``--keep-sandbox``): it is someone's to look at."""
    return any(isinstance(p, dict) and p.get("name") == "teardown"
               and str(p.get("detail") or "").startswith("kept for debugging")
               for p in record.get("phases") or [])


def _sealed_paths(settings: Settings) -> set[str] | None:
    """The run folders the ledger holds; None when it cannot be read (then nothing is sealed)."""
    try:
        return {str(e.get("path")) for e in ledger.read_entries(settings.reports_dir)}
    except Exception as exc:  # a damaged ledger is for `evidence verify` to report, not to stop a run
        log.error("cannot read the evidence ledger to find runs never sealed: %s", exc)
        return None


def _relative(folder: Path, settings: Settings) -> str:
    """The folder as the ledger names it (see ``ledger.append``)."""
    return folder.resolve().relative_to(settings.reports_dir.resolve()).as_posix()


# -- one run ---------------------------------------------------------------------------

def _preview(folder: Path, record: dict[str, Any], why: str) -> Reaped:
    sandbox = _sandbox_of(record)
    return Reaped(str(folder), _name(record), record.get("run_id", folder.name),
                  record.get("kind", "drill"), why, len(leftover_processes(sandbox)) if sandbox else 0,
                  str(sandbox) if sandbox else None, False, "would be marked aborted")


def _reap(folder: Path, record: dict[str, Any], why: str, settings: Settings,
          project: ProjectConfig | None) -> Reaped:
    started_at, started = iso(utc_now()) or "", time.monotonic()
    sandbox = _sandbox_of(record)
    killed, removed, problems = 0, False, []
    absent = sandbox is None or not sandbox.exists()  # killed before its sandbox was made
    if sandbox is not None:
        killed = kill_leftovers(sandbox)
        removed, problem = _remove_sandbox(sandbox, record)
        if problem:
            problems.append(problem)
    reason = _reason(record, why, killed, sandbox if sandbox is not None and not absent else None, removed)
    record.update({"status": Status.ABORTED, "reason": reason,
                   "finished_at": record.get("finished_at") or started_at})
    record.setdefault("phases", []).append({
        "name": "cleanup", "status": Status.FAILED if problems else Status.PASSED, "started_at": started_at,
        "duration_seconds": round(time.monotonic() - started, 3),
        "detail": "; ".join([f"killed {killed} leftover process(es)",
                             "sandbox removed" if removed else "no sandbox to remove", *problems]),
    })
    record["cleanup"] = {"at": started_at, "owner": why, "killed": killed,
                         "sandbox": str(sandbox) if sandbox else None, "sandbox_removed": removed,
                         "by": {"pid": os.getpid(), "host": socket.gethostname()}}
    postrun.finish(postrun.reaped(folder, record, settings, project))
    return Reaped(str(folder), _name(record), record.get("run_id", folder.name),
                  record.get("kind", "drill"), why, killed, str(sandbox) if sandbox else None,
                  removed, reason)


def _reason(record: dict[str, Any], why: str, killed: int, sandbox: Path | None, removed: bool) -> str:
    text = (f"drillbook stopped before finishing this run: {why} (killed, crashed or powered "
            f"off); drillbook cleanup killed {killed} leftover process(es)")
    if sandbox is not None:
        text += " and removed the sandbox" if removed else f" but could not remove {sandbox}"
    elif record.get("kind", "drill") == "drill":
        text += "; no sandbox had been made, or it was already gone"
    if record.get("kind") == "runbook":
        text += f"; resume with: drillbook runbook resume {record.get('run_id')}"
    return text


def _name(record: dict[str, Any]) -> str:
    return str(record.get("drill") or record.get("runbook") or "?")


def _sandbox_of(record: dict[str, Any]) -> Path | None:
    value = (record.get("process") or {}).get("sandbox")
    return Path(value) if value else None


def _remove_sandbox(sandbox: Path, record: dict[str, Any]) -> tuple[bool, str | None]:
    """Only a folder that looks like this run's sandbox: a damaged record must never delete more."""
    if not sandbox.exists():
        return False, None
    if not sandbox.is_absolute() or sandbox.name != record.get("run_id") or not sandbox.is_dir():
        return False, f"{sandbox} does not look like this run's sandbox; left in place"
    unexpected = {p.name for p in sandbox.iterdir()} - sandbox_entries()
    if unexpected:
        return False, (f"{sandbox} holds unexpected entries ({', '.join(sorted(unexpected)[:3])}); "
                       "left in place")
    try:
        remove_tree(sandbox)
    except OSError as exc:  # TreeLeft names what is left
        return False, str(exc)
    return not sandbox.exists(), None if not sandbox.exists() else f"could not remove {sandbox}"


# -- leftover processes --------------------------------------------------------------------

def kill_leftovers(sandbox: Path) -> int:
    """Kill the sandbox's namespace and every process tied to the sandbox folder; returns how many."""
    count = _kill_holder(sandbox)
    for _round in range(3):
        victims = leftover_processes(sandbox)
        if not victims:
            break
        count += sum(signal_process(pid, start=start) for pid, start in victims.items())
        time.sleep(0.1)
    return count


def _kill_holder(sandbox: Path) -> int:
    try:
        held = json.loads((sandbox / holder.HOLDER_FILE).read_text())
        init_pid, init_start = int(held["init_pid"]), held.get("init_start")
    except (OSError, ValueError, KeyError, TypeError):
        return 0
    if init_start is None or not alive(init_pid, init_start):
        return 0
    signal_process(init_pid, start=init_start)  # the kernel then kills every process of its PID namespace
    deadline = time.monotonic() + 5
    while alive(init_pid, init_start) and time.monotonic() < deadline:
        time.sleep(0.02)
    return 1


def leftover_processes(sandbox: Path) -> dict[int, int]:
    """Processes whose cwd, root, environment or arguments point into the sandbox (never our own line),
    each with its start time, read before it is looked at: what is killed is what was seen."""
    mine = _ancestors(os.getpid())
    marker = str(sandbox).rstrip("/")
    found = {}
    for pid in all_pids():
        start = process_start(pid)
        if pid in mine or start is None or not alive(pid, start):
            continue
        if _points_into(pid, marker):
            found[pid] = start
    return found


def _points_into(pid: int, marker: str) -> bool:
    for name in ("cwd", "root"):
        target = link(pid, name)
        if target is not None and (target == marker or target.startswith(marker + "/")):
            return True
    if any(("=" + marker + "/") in item or item.endswith("=" + marker) for item in environ(pid)):
        return True
    # restic restoring into the sandbox names it only in its arguments (--target), and outlives a
    # SIGKILLed drillbook: left alive, it writes the tree back while the sandbox is removed
    return any(_names(arg, marker) or _names(arg.partition("=")[2], marker) for arg in arguments(pid))


def _names(arg: str, marker: str) -> bool:
    return arg == marker or arg.startswith(marker + "/")


def _ancestors(pid: int) -> set[int]:
    line = {pid}
    current: int | None = pid
    while current is not None and current > 1:
        current = parent(current)
        if current is not None:
            line.add(current)
    return line


@contextmanager
def _cleanup_lock(settings: Settings) -> Iterator[bool]:
    """One cleanup at a time per state folder; False when another drillbook is on it."""
    try:
        with file_lock(settings.state_dir / "cleanup.lock", timeout=CLEANUP_LOCK_TIMEOUT):
            yield True
    except LockBusy:
        yield False
