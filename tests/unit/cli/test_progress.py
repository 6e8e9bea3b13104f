"""What a run shows on the operator's terminal: never markup, escape codes or a crash from its data."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from rich.console import Console

from drillbook.cli.console import LogFormatter, terminal_safe
from drillbook.cli.progress import Progress
from drillbook.drill import engine
from drillbook.drill.record import CheckResult
from drillbook.evidence import ledger
from drillbook.status import Status
from tests.unit.drill.fakes import Harness, password_env

HOSTILE = "[/oops] [bold]loud \x1b]0;title\x07 \x1b[2J\x9b31m \u202eevil\rfake ✔ passed\x00"
# What the run's text carried and must not reach the terminal (rich moves its spinner with a
# carriage return of its own, so the one in the text is looked for where it stood).
ESCAPES = ("\x1b]0;", "\x07", "\x1b[2J", "\x9b", "\u202e", "\rfake", "\x00")


class FakeTTY(io.StringIO):
    """A stream that says it is a terminal, as the operator's is."""

    def isatty(self) -> bool:
        return True


def terminal() -> tuple[Progress, FakeTTY]:
    stream = FakeTTY()
    return Progress(console=Console(file=stream, force_terminal=True, highlight=False, width=400)), stream


def test_text_for_a_terminal_loses_escape_sequences_and_control_characters() -> None:
    assert terminal_safe("a\x1b[31mred\x1b[0m b") == "ared b"
    assert terminal_safe("t\x1b]0;title\x07x\x1b]8;;http://x\x1b\\y") == "txy"
    assert terminal_safe("one\ntwo\tthree\rfour\x7f\x9b1m") == "one two threefour1m"
    assert terminal_safe("[/oops] [bold]") == "[/oops] [bold]"  # markup is left to the printer: it is not text to it
    assert terminal_safe("\u202eabc\u2066") == "abc"
    assert terminal_safe("ok: ünïcødé ✔") == "ok: ünïcødé ✔"


def test_log_lines_lose_escape_sequences_and_keep_a_tracebacks_lines() -> None:
    formatter = LogFormatter("%(levelname)s %(message)s")
    record = logging.LogRecord("drillbook.x", logging.ERROR, __file__, 1, "could not remove %s:\n%s",
                               (HOSTILE, "second line"), None)
    line = formatter.format(record)
    assert not [e for e in ESCAPES if e in line]
    assert line.endswith(":\nsecond line") and "loud" in line


def test_a_rich_terminal_shows_hostile_check_output_literally_and_without_escapes() -> None:
    progress, stream = terminal()
    progress("start", "clinic", {"run_id": "r1", "dir": "/x"})
    progress("phase-start", "checks", {})
    progress("check-end", HOSTILE, {"status": Status.FAILED, "detail": HOSTILE})
    progress("phase-end", "checks", {"status": Status.FAILED, "duration": 1.0, "detail": HOSTILE})
    progress("finish", "clinic", {"status": Status.FAILED, "reason": HOSTILE, "run_id": "r1", "dir": "/x"})
    shown = stream.getvalue()
    assert shown.count("[/oops] [bold]loud") == 4
    for escape in ESCAPES:
        assert escape not in shown, repr(escape)


def test_plain_lines_carry_no_escapes_either() -> None:
    stream = io.StringIO()
    progress = Progress(stream=stream)
    progress("start", "clinic\x1b[2J", {"run_id": "r1", "dir": "/x"})
    progress("finish", "clinic", {"status": Status.FAILED, "reason": HOSTILE, "run_id": "r1", "dir": "/x"})
    for escape in ESCAPES:
        assert escape not in stream.getvalue(), repr(escape)


def test_a_display_error_is_logged_and_never_raised(caplog: pytest.LogCaptureFixture) -> None:
    progress, _ = terminal()
    progress("finish", "clinic", {})  # no status, no run id: a bug in the display
    assert "progress display failed" in caplog.text


@pytest.fixture
def harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Harness:
    for name, value in password_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(engine, "run_check",
                        lambda spec, ctx: CheckResult("command", "restored program", Status.FAILED, HOSTILE))
    return Harness(tmp_path)


def test_a_terminal_run_whose_checks_print_markup_and_escapes_finishes_reported_and_sealed(
        harness: Harness) -> None:
    stream = FakeTTY()
    progress = Progress(stream=stream)  # rich, since the stream is a terminal
    assert progress.console is not None
    harness.observe = progress  # type: ignore[method-assign,assignment]
    record = harness.run()
    assert record["status"] == "failed" and HOSTILE in record["reason"]
    folder = next(p for p in harness.settings.reports_dir.glob("clinic/*") if p.is_dir())
    assert json.loads((folder / "run.json").read_text())["status"] == "failed"
    assert (folder / "report.html").exists()
    assert ledger.entry_for(harness.settings.reports_dir, record["run_id"]) is not None
    for escape in ESCAPES:
        assert escape not in stream.getvalue(), repr(escape)


def test_a_restore_under_way_shows_restics_own_progress_in_the_phases_spinner() -> None:
    progress, _stream = terminal()
    progress("start", "clinic", {"run_id": "r1", "dir": "/x"})
    progress("phase-start", "restore", {})
    progress("restore-progress", "clinic", {"percent": 0.5, "files_restored": 6, "total_files": 12,
                                            "bytes_restored": 3 << 20, "total_bytes": 6 << 20})
    assert progress.status is not None
    shown = str(progress.status.renderable.text)
    assert shown == "  restore … 50% (6 of 12 files, 3.0 MiB of 6.0 MiB)"
    progress("phase-end", "restore", {"status": Status.PASSED, "duration": 1.0, "detail": "restored"})
    assert progress.status is None


def test_restore_progress_outside_a_terminal_prints_nothing() -> None:
    stream = io.StringIO()
    progress = Progress(stream=stream)
    progress("restore-progress", "clinic", {"percent": 0.5, "files_restored": 6, "total_files": 12,
                                            "bytes_restored": 3, "total_bytes": 6})
    assert stream.getvalue() == ""
