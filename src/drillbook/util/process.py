"""Child processes with a timeout that kills the whole process group, never a shell."""

from __future__ import annotations

import contextlib
import errno
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypeVar

from drillbook.util.procfs import process_start
from drillbook.util.signals import held

Child = TypeVar("Child")


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
    began = time.monotonic()
    with started(lambda: subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,
    ), stop=kill_and_reap) as proc:
        try:
            return communicate_bounded(proc, list(argv), began, timeout, stdin_data, stop=kill_and_reap)
        finally:
            kill_group(proc.pid, sig=signal.SIGKILL)


@contextmanager
def started(start: Callable[[], Child], stop: Callable[[Child], None]) -> Iterator[Child]:
    """``start()`` a child with stop signals held (util/signals.py); whatever ends the block early
    (an error, an interrupt, one that came while the child started) runs ``stop`` on it first.

    A signal raised inside ``Popen`` after the fork leaves a running child that the caller never
    got, so never stops: under load that window is wide enough to hit. Held, the signal is raised
    only once the child is known and inside the ``try`` that stops it.
    """
    with held() as hold:
        try:
            child = start()
        except BaseException:
            hold.release()  # a signal that came while the start failed is not lost
            raise
        try:
            hold.release()
            yield child
        except BaseException:
            stop(child)
            raise


def kill_and_reap(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the child's whole group, then wait for the child."""
    kill_group(proc.pid)
    proc.wait()


def communicate_bounded(proc: subprocess.Popen[str], argv: list[str], started: float,
                        timeout: float, stdin_data: str | None,
                        stop: Callable[[subprocess.Popen[str]], None]) -> Completed:
    """Wait for ``proc`` at most ``timeout``; ``stop`` ends it (and what it started) when time is
    up or the wait is interrupted. Callers differ only in how a child must be stopped.

    Output is kept bounded (see :class:`Capture`): a check that prints gigabytes costs drillbook
    no more than :data:`MAX_CAPTURE` per stream.
    """
    streams = _Streams(proc, stdin_data)
    deadline = started + timeout
    try:
        if streams.pump(deadline):
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            return Completed(argv, proc.returncode, *streams.texts(), time.monotonic() - started)
        raise subprocess.TimeoutExpired(argv, timeout)
    except subprocess.TimeoutExpired:
        stop(proc)
        streams.pump(time.monotonic() + DRAIN_AFTER_STOP)
        return Completed(argv, None, *streams.texts(), time.monotonic() - started, timed_out=True)
    except BaseException:
        stop(proc)
        raise
    finally:
        streams.close()


#: What is kept of one output stream: its first and last halves of this; the middle is counted.
MAX_CAPTURE = 1024 * 1024
#: After a stop, how long what is left in the pipes is still read.
DRAIN_AFTER_STOP = 5.0
_CHUNK = 64 * 1024


class Capture:
    """One stream's output, bounded: the beginning and the end kept, the bytes between counted."""

    def __init__(self, limit: int = MAX_CAPTURE):
        self.half = limit // 2
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def add(self, data: bytes) -> None:
        room = self.half - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        self.tail += data
        over = len(self.tail) - self.half
        if over > 0:
            self.dropped += over
            del self.tail[:over]

    def text(self) -> str:
        gap = f"\n[... {self.dropped} bytes of output not kept ...]\n".encode() if self.dropped else b""
        return bytes(self.head + gap + self.tail).decode("utf-8", errors="replace")


class _Streams:
    """The child's stdin, stdout and stderr, served with one selector until both outputs end."""

    def __init__(self, proc: subprocess.Popen[str], stdin_data: str | None):
        self.selector = selectors.DefaultSelector()
        self.captures: dict[int, Capture] = {}
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                self.captures[stream.fileno()] = Capture()
                self.selector.register(stream.fileno(), selectors.EVENT_READ)
        self.pending = memoryview((stdin_data or "").encode())
        self.stdin = proc.stdin
        if self.stdin is not None:
            os.set_blocking(self.stdin.fileno(), False)
            self.selector.register(self.stdin.fileno(), selectors.EVENT_WRITE)
        self.out = proc.stdout.fileno() if proc.stdout is not None else -1
        self.err = proc.stderr.fileno() if proc.stderr is not None else -1

    def pump(self, deadline: float) -> bool:
        """Serve the streams until both outputs end (True) or ``deadline`` passes (False)."""
        while self.selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            for key, _ in self.selector.select(timeout=left):
                if key.fd in self.captures:
                    self._read(key.fd)
                elif self.stdin is not None:
                    self._write(self.stdin)
        return True

    def _read(self, fd: int) -> None:
        data = os.read(fd, _CHUNK)
        if data:
            self.captures[fd].add(data)
        else:
            self.selector.unregister(fd)

    def _write(self, stdin: IO[str]) -> None:
        try:
            written = os.write(stdin.fileno(), self.pending[:_CHUNK])
            self.pending = self.pending[written:]
        except BrokenPipeError:
            self.pending = self.pending[:0]  # the child does not read its input: nothing to send
        if not self.pending:
            self.selector.unregister(stdin.fileno())
            stdin.close()

    def texts(self) -> tuple[str, str]:
        empty = Capture()
        return self.captures.get(self.out, empty).text(), self.captures.get(self.err, empty).text()

    def close(self) -> None:
        self.selector.close()
        if self.stdin is not None and not self.stdin.closed:
            with contextlib.suppress(OSError):
                self.stdin.close()


def signal_process(pid: int, sig: int = signal.SIGKILL, *, start: int | None) -> bool:
    """Signal the process identified earlier as ``pid`` started at ``start`` (clock ticks, see
    :func:`~drillbook.util.procfs.process_start`), never another that took its pid since.

    The pidfd is opened first and holds the process then at ``pid``; only if that one still has
    the start time is the signal sent, through the pidfd, so it reaches that process or none.
    ``start`` None (the process was gone when it was identified) sends nothing. On a kernel
    without pidfds (before Linux 5.3) the start time is checked just before kill(2), which leaves
    only the instant between the two. True when the signal was delivered, so callers can count
    what they really killed; a process gone, or not ours to signal, is False.
    """
    if start is None:
        return False
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return False
    except OSError as exc:
        if exc.errno != errno.ENOSYS:
            return False
        return process_start(pid) == start and _kill(pid, sig)
    try:
        if process_start(pid) != start:
            return False
        signal.pidfd_send_signal(fd, sig)
    except (ProcessLookupError, PermissionError):
        return False
    finally:
        os.close(fd)
    return True


def _kill(pid: int, sig: int) -> bool:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def kill_group(pgid: int, sig: int = signal.SIGKILL) -> None:
    """Signal every process of group ``pgid``; a group that is already gone is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


#: What a record keeps of one output line: a program may print a megabyte without a newline.
TAIL_WIDTH = 400


def tail(text: str, lines: int = 20, width: int = TAIL_WIDTH) -> list[str]:
    """The last ``lines`` lines of ``text``, each cut to ``width`` characters (marked with "...")."""
    return [line if len(line) <= width else line[:width] + "..." for line in text.strip().splitlines()[-lines:]]
