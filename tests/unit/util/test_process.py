"""Child processes: a timeout kills the group, output is kept bounded, stdin is fed."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time

import pytest

from drillbook.util import process, procfs
from drillbook.util.process import (
    MAX_CAPTURE,
    TAIL_WIDTH,
    Capture,
    kill_and_reap,
    run_bounded,
    signal_process,
    started,
    tail,
)
from drillbook.util.signals import Interrupted, signals_raise_interrupted


def test_output_far_beyond_the_limit_keeps_its_beginning_and_end_and_counts_the_rest() -> None:
    script = ("import sys; w = sys.stdout.write; w('FIRST\\n'); "
              "[w('x' * 65536) for _ in range(160)]; w('\\nLAST\\n')")
    done = run_bounded([sys.executable, "-c", script], timeout=60)
    assert done.returncode == 0
    assert done.stdout.startswith("FIRST\n") and done.stdout.endswith("\nLAST\n")
    assert len(done.stdout) < MAX_CAPTURE + 200
    assert "bytes of output not kept" in done.stdout


def test_a_child_that_never_reads_its_input_does_not_hang_the_caller() -> None:
    started = time.monotonic()
    done = run_bounded([sys.executable, "-c", "print('done')"], timeout=30, stdin_data="y" * 4_000_000)
    assert done.stdout == "done\n" and not done.timed_out
    assert time.monotonic() - started < 20


def test_large_input_reaches_the_child_whole_while_its_output_is_read() -> None:
    script = "import sys; data = sys.stdin.read(); print(len(data)); sys.stderr.write('e' * 200000)"
    done = run_bounded([sys.executable, "-c", script], timeout=60, stdin_data="z" * 3_000_000)
    assert done.stdout.strip() == "3000000"
    assert len(done.stderr) == 200000


def test_a_timeout_keeps_what_was_printed_before_it() -> None:
    script = "import sys, time; print('started', flush=True); time.sleep(60)"
    done = run_bounded([sys.executable, "-c", script], timeout=1.5)
    assert done.timed_out and done.returncode is None
    assert done.stdout == "started\n"


def test_capture_keeps_a_short_output_whole_and_a_long_one_by_its_ends() -> None:
    capture = Capture(limit=8)
    capture.add("héllo".encode())
    assert capture.text() == "héllo"
    capture.add(b"0123456789")
    assert capture.text() == "hél\n[... 8 bytes of output not kept ...]\n6789"


def test_a_tail_keeps_the_last_lines_each_cut_to_a_readable_width() -> None:
    text = "first\n" + "x" * 5000 + "\nlast\n"
    assert tail(text, lines=2) == ["x" * TAIL_WIDTH + "...", "last"]


# -- signalling a process identified earlier: never the one that took its pid ----------------

def sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sleep", "30"])


def test_a_process_whose_start_time_differs_is_never_signalled(monkeypatch: pytest.MonkeyPatch) -> None:
    proc = sleeper()
    sent: list[int] = []
    real_send = signal.pidfd_send_signal
    monkeypatch.setattr(signal, "pidfd_send_signal", lambda fd, sig: sent.append(sig) or real_send(fd, sig))
    try:
        start = procfs.process_start(proc.pid)
        assert start is not None
        assert signal_process(proc.pid, start=start + 1) is False  # the pid now names another process
        assert sent == [] and proc.poll() is None
        assert signal_process(proc.pid, signal.SIGTERM, start=start) is True
        assert sent == [signal.SIGTERM] and proc.wait(timeout=5) == -signal.SIGTERM
    finally:
        proc.kill()
        proc.wait()


def test_identity_is_checked_after_the_pidfd_is_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pid reused between the check and the signal would be hit; between the pidfd's opening
    and the check, it is seen (the start time differs) and the pidfd then names a process gone."""
    proc = sleeper()
    opened: list[int] = []
    real_open = os.pidfd_open
    monkeypatch.setattr(os, "pidfd_open", lambda pid, flags=0: opened.append(pid) or real_open(pid, flags))

    def reused(pid: int) -> int:
        assert opened == [pid], "the identity must be checked once the pidfd holds the process"
        return 424242  # what the pid's new owner started at

    monkeypatch.setattr(process, "process_start", reused)
    try:
        assert signal_process(proc.pid, start=1) is False and proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


def test_a_process_gone_or_never_identified_is_not_signalled() -> None:
    proc = subprocess.Popen(["true"])
    proc.wait()
    assert signal_process(proc.pid, start=1) is False
    live = sleeper()
    try:
        assert signal_process(live.pid, start=None) is False and live.poll() is None
    finally:
        live.kill()
        live.wait()


def test_without_pidfds_the_identity_is_still_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Kernels before 5.3 have no pidfd_open: the start time is checked just before kill(2)."""
    def missing(pid: int, flags: int = 0) -> int:
        raise OSError(errno.ENOSYS, "Function not implemented")

    monkeypatch.setattr(os, "pidfd_open", missing)
    proc = sleeper()
    try:
        start = procfs.process_start(proc.pid)
        assert signal_process(proc.pid, start=(start or 0) + 1) is False and proc.poll() is None
        assert signal_process(proc.pid, start=start) is True and proc.wait(timeout=5) == -signal.SIGKILL
    finally:
        proc.kill()
        proc.wait()


class Stopper:
    """A ``stop`` that remembers the children it ended."""

    def __init__(self) -> None:
        self.stopped: list[subprocess.Popen[str]] = []

    def __call__(self, proc: subprocess.Popen[str]) -> None:
        kill_and_reap(proc)
        self.stopped.append(proc)


def _sleeper() -> subprocess.Popen[str]:
    return subprocess.Popen(["sleep", "30"], text=True, start_new_session=True)


def test_an_interrupt_while_a_child_starts_stops_it_then_is_raised() -> None:
    def start() -> subprocess.Popen[str]:
        proc = _sleeper()
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.2)  # as if Popen had not returned yet when the signal came
        return proc

    stop = Stopper()
    with pytest.raises(Interrupted, match="SIGTERM"), signals_raise_interrupted(), started(start, stop):
        raise AssertionError("the block must not run: the run is stopping")
    assert len(stop.stopped) == 1 and stop.stopped[0].returncode == -signal.SIGKILL


def test_an_interrupt_inside_the_block_stops_the_child() -> None:
    stop = Stopper()
    with pytest.raises(Interrupted), signals_raise_interrupted(), started(_sleeper, stop):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    assert len(stop.stopped) == 1 and stop.stopped[0].returncode == -signal.SIGKILL


def test_a_child_that_cannot_start_raises_the_signal_that_came_meanwhile() -> None:
    def fails() -> subprocess.Popen[str]:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.2)
        raise FileNotFoundError("no-such-program")

    with pytest.raises(Interrupted), signals_raise_interrupted(), started(fails, stop=kill_and_reap):
        pass


def test_a_child_started_without_an_interrupt_runs_and_is_left_alone() -> None:
    with signals_raise_interrupted(), started(_sleeper, stop=kill_and_reap) as proc:
        assert proc.poll() is None
    assert proc.poll() is None
    proc.kill()
    proc.wait()
