"""Child processes: a timeout kills the group, output is kept bounded, stdin is fed."""

from __future__ import annotations

import sys
import time

from drillbook.util.process import MAX_CAPTURE, TAIL_WIDTH, Capture, run_bounded, tail


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
