"""Child processes with a timeout that kills the whole process group, never a shell."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Completed:
    argv: list[str]
    returncode: int | None
    stdout: str
    stderr: str
    duration_seconds: float
    timed_out: bool = False


def run_bounded(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float,
    stdin_data: str | None = None,
) -> Completed:
    """Run ``argv`` in its own session; on timeout kill the group so grandchildren die too."""
    started = time.monotonic()
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    try:
        return communicate_bounded(proc, list(argv), started, timeout, stdin_data,
                                   stop=_kill_and_reap)
    finally:
        kill_group(proc.pid, sig=signal.SIGKILL)


def _kill_and_reap(proc: subprocess.Popen[str]) -> None:
    kill_group(proc.pid)
    proc.wait()


def communicate_bounded(proc: subprocess.Popen[str], argv: list[str], started: float,
                        timeout: float, stdin_data: str | None,
                        stop: Callable[[subprocess.Popen[str]], None]) -> Completed:
    """Wait for ``proc`` at most ``timeout``; ``stop`` ends it (and what it started) when time is
    up or the wait is interrupted. Callers differ only in how a child must be stopped."""
    try:
        out, err = proc.communicate(stdin_data, timeout=timeout)
        return Completed(argv, proc.returncode, out, err, time.monotonic() - started)
    except subprocess.TimeoutExpired:
        stop(proc)
        out, err = proc.communicate()
        return Completed(argv, None, out, err, time.monotonic() - started, timed_out=True)
    except BaseException:
        stop(proc)
        raise


def signal_process(pid: int, sig: int = signal.SIGKILL) -> bool:
    """Signal one process; one that is already gone (or not ours to signal) is fine.

    True when the signal was delivered, so callers can count what they really killed."""
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def kill_group(pgid: int, sig: int = signal.SIGKILL) -> None:
    """Signal every process of group ``pgid``; a group that is already gone is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def tail(text: str, lines: int = 20) -> list[str]:
    return [line for line in text.strip().splitlines()[-lines:]]
