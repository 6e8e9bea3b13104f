"""One shell step: ``bash -euo pipefail`` in its own process group, streamed, bounded in time.

The output goes line by line to a callback (the terminal) and its last lines, scrubbed of
secrets, into the record. On timeout, Ctrl-C or SIGTERM the whole process group is killed, so a
step's children never outlive it; processes a step leaves behind are stopped when it ends.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from drillbook.util.process import kill_group, started
from drillbook.util.scrub import scrub

TAIL_LINES = 20
GRACE_SECONDS = 2.0


@dataclass
class ShellResult:
    exit_code: int | None
    timed_out: bool
    duration_seconds: float
    tail: list[str] = field(default_factory=list)



def run_script(script: str, *, cwd: Path, env: Mapping[str, str], timeout: float,
               on_line: Callable[[str], None], secrets: list[str]) -> ShellResult:
    """Run ``script``; ``on_line`` gets each scrubbed output line (stdout and stderr merged)."""
    began = time.monotonic()
    tail: deque[str] = deque(maxlen=TAIL_LINES)

    def emit(raw: bytes) -> None:
        line = scrub(raw.decode("utf-8", "replace").rstrip("\r\n"), secrets)
        tail.append(line[:400])
        on_line(line)

    # Ctrl-C, SIGTERM (Interrupted), even while bash starts: the step dies with its group
    with started(lambda: subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", script, "runbook-step"],
        cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, start_new_session=True,
    ), stop=stop_group) as proc:
        try:
            timed_out = _pump(proc, began + timeout, emit)
            kill_group(proc.pid, sig=signal.SIGKILL)  # what the step left running
        finally:
            if proc.stdout:
                proc.stdout.close()
    return ShellResult(None if timed_out else proc.returncode, timed_out,
                       round(time.monotonic() - began, 3), list(tail))


def _pump(proc: subprocess.Popen[bytes], deadline: float, emit: Callable[[bytes], None]) -> bool:
    """Forward output until bash exits (then drain briefly) or the deadline passes."""
    if proc.stdout is None:
        raise ValueError("the step's output is not piped")
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    selector = selectors.DefaultSelector()
    selector.register(fd, selectors.EVENT_READ)
    pending = b""
    exited_at: float | None = None
    try:
        while True:
            now = time.monotonic()
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            if exited_at is not None and now - exited_at > 0.2:
                break  # bash is gone; a background child may hold the pipe open forever
            if exited_at is None and now >= deadline:
                stop_group(proc)
                return True
            wait = min(0.1, max(0.0, deadline - now))
            if not selector.select(wait):
                continue
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                continue
            if not chunk:
                if exited_at is None:
                    proc.wait(timeout=max(0.01, deadline - time.monotonic()))
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                emit(line)
    except subprocess.TimeoutExpired:
        stop_group(proc)
        return True
    finally:
        selector.close()
        if pending:
            emit(pending)
    return False


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the step's group, SIGKILL it after a short grace."""
    kill_group(proc.pid, sig=signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=GRACE_SECONDS)
    kill_group(proc.pid, sig=signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=GRACE_SECONDS)
