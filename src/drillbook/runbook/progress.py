"""What the operator sees while a runbook runs: steps, their text, shell output, the verdict.

Everything goes to one stream (stderr by default) so stdout stays for the final summary line.
Every line goes through :func:`terminal_safe` first: a shell step's output (and a runbook's text)
must not clear the operator's screen, retitle the window or rewrite a line already shown.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any, TextIO

from drillbook.cli.console import terminal_safe
from drillbook.runbook.model import MANUAL
from drillbook.status import Status
from drillbook.util.durations import format_duration
from drillbook.util.logformat import structured

log = logging.getLogger("drillbook.runbook")

MARKS = {Status.PASSED: "ok", Status.CONFIRMED: "ok", Status.SKIPPED: "--", Status.FAILED: "FAILED",
         Status.DECLINED: "DECLINED", Status.ABORTED: "ABORTED"}


class RunbookProgress:
    """An observer of a runbook run (the same signature as a drill's): one table of the events shown."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.total = 0
        self.name: str | None = None
        self.handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            "start": self._start, "step-start": self._step_start, "step-end": self._step_end,
            "finish": self._finish,
        }

    def __call__(self, event: str, name: str, info: dict[str, Any]) -> None:
        handler = self.handlers.get(event)
        if handler:
            handler(info)

    def line(self, text: str) -> None:
        """A line for the operator; with ``--log-format logfmt|json`` a record (blank lines dropped)."""
        if structured():
            if text.strip():
                log.info(terminal_safe(text), extra={"runbook": self.name})
            return
        print(terminal_safe(text), file=self.stream, flush=True)

    def output(self, text: str) -> None:
        """One line of a shell step's output, indented under its step."""
        self.line(f"    | {text}")

    def _start(self, info: dict[str, Any]) -> None:
        record, runbook = info["record"], info["runbook"]
        self.total = len(runbook.steps)
        self.name = runbook.name
        attempt = record.attempts[-1]
        self.line(f"runbook {runbook.name}: {runbook.title}")
        rto = runbook.rto.text if runbook.rto else "none"
        self.line(f"run {record.run_id} · attempt {attempt.number} · operator {attempt.operator} · "
                  f"RTO {rto} · from step {info['first'] + 1} of {self.total}")

    def _step_start(self, info: dict[str, Any]) -> None:
        step = info["step"]
        self.line("")
        self.line(f"== step {step.index}/{self.total}: {step.title} ({step.kind})")
        shown = info.get("text", step.text)
        if step.kind == MANUAL and shown:
            for text in shown.splitlines():
                self.line(f"   {text}")

    def _step_end(self, info: dict[str, Any]) -> None:
        result = info["result"]
        mark = MARKS.get(result.status, result.status)
        reason = f": {result.reason}" if result.reason else ""
        self.line(f"   {mark} {result.status} in {format_duration(result.duration_seconds)}{reason}")

    def _finish(self, info: dict[str, Any]) -> None:
        record = info["record"]
        self.line("")
        self.line(f"{record.status.upper()} runbook {record.runbook} after "
                  f"{format_duration(record.elapsed_seconds)}" + (f": {record.reason}" if record.reason else ""))
