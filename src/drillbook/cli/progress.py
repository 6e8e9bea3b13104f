"""Progress for people: rich on a terminal, one plain line per phase on stderr otherwise.

Names, details and reasons come from the run: from check output, restored files and drill files,
all of which may be hostile. They are never parsed as rich markup (each line is built as a
``Text``) and what a terminal would obey is taken out first (:func:`terminal_safe`). A display
that fails anyway is logged and the run goes on: showing progress is never worth a run.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.status import Status as RichStatus
from rich.text import Text

from drillbook.cli.console import terminal_safe
from drillbook.drill.space import shown
from drillbook.status import Status
from drillbook.util.durations import format_duration
from drillbook.util.logformat import structured

log = logging.getLogger("drillbook.cli.progress")
events = logging.getLogger("drillbook.run")  # a run's progress as records (--log-format logfmt|json)

SYMBOLS = {Status.PASSED: ("✔", "green"), Status.FAILED: ("✘", "red"), Status.SKIPPED: ("\u2013", "dim"),
           Status.ABORTED: ("!", "yellow")}
NO_SYMBOL = ("·", "")


class Progress:
    def __init__(self, stream: Any = None, force_plain: bool = False, console: Console | None = None):
        self.stream = console.file if console else (stream or sys.stderr)
        self.rich = console is not None or (not force_plain and self.stream.isatty())
        self.console = console or (Console(file=self.stream, highlight=False) if self.rich else None)
        self.status: RichStatus | None = None  # the spinner of the phase under way
        self.drill = ""
        self.handlers: dict[str, Callable[[str, dict[str, Any]], None]] = {
            "start": self._start, "phase-start": self._phase_start, "phase-end": self._phase_end,
            "check-end": self._check_end, "finish": self._finish, "lock-wait": self._lock_wait,
            "restore-progress": self._restore_progress, "service-end": self._service_end,
        }
        self.phase = ""

    def __call__(self, event: str, name: str, info: dict[str, Any]) -> None:
        handler = self.handlers.get(event)
        if not handler:
            return
        try:
            handler(terminal_safe(name), info)
        except Exception as exc:  # a display bug must never end the run it shows
            self._stop_spinner()
            log.error("progress display failed on %s: %s", event, type(exc).__name__)

    def _line(self, text: str, event: str, level: int = logging.INFO, **fields: Any) -> None:
        """A plain line; with ``--log-format logfmt|json``, a record of ``event`` with ``fields``."""
        if structured():
            events.log(level, event, extra={"event": event, **fields})
        else:
            print(terminal_safe(text), file=self.stream, flush=True)

    def _print(self, *parts: str | tuple[str, str]) -> None:
        """One line of safe text and fixed styles; nothing in it is read as markup."""
        if self.console:
            self.console.print(Text.assemble(*parts))

    def _stop_spinner(self) -> None:
        if self.status:
            status, self.status = self.status, None
            status.stop()

    def _start(self, name: str, info: dict[str, Any]) -> None:
        self.drill = name
        run_id = terminal_safe(info["run_id"])
        if self.console:
            self._print((f"drill {name}", "bold"), f" run {run_id}")
        else:
            self._line(f"drill={name} run_id={run_id} event=start", "start", drill=name, run_id=run_id)

    def _lock_wait(self, name: str, info: dict[str, Any]) -> None:
        holder, wait = terminal_safe(info["holder"]), format_duration(info["wait"])
        if self.console:
            self._print((f"drill {name}", "bold"), f" waits up to {wait} for the run holding it ({holder})")
        else:
            self._line(f"drill={name} event=lock-wait wait={info['wait']:g}s holder={holder!r}", "lock-wait",
                       drill=name, wait=float(info["wait"]), holder=holder)

    def _phase_start(self, name: str, info: dict[str, Any]) -> None:
        self.phase = name
        if self.console:
            self.status = self.console.status(Text(f"  {name} …"))
            self.status.start()

    def _restore_progress(self, name: str, info: dict[str, Any]) -> None:
        """restic >= 0.17's status of the restore under way, in the phase's spinner (0.14 tells none)."""
        if not self.status:
            return
        percent = info.get("percent")
        done = f" {percent:.0%}" if isinstance(percent, (int, float)) else ""
        self.status.update(Text(
            f"  {self.phase} …{done} ({info['files_restored']} of {info['total_files']} files, "
            f"{shown(info['bytes_restored'])} of {shown(info['total_bytes'])})"))

    def _phase_end(self, name: str, info: dict[str, Any]) -> None:
        self._stop_spinner()
        took = format_duration(info.get("duration"))
        detail = terminal_safe(info.get("detail") or "")
        if self.console:
            self._print("  ", SYMBOLS.get(info["status"], NO_SYMBOL), f" {name:<20} {took:>9}  ",
                        (detail[:90], "dim"))
        else:
            self._line(f"drill={self.drill} phase={name.replace(' ', '_')} status={info['status']} "
                       f"duration={info.get('duration', 0):.3f}s", "phase-end", drill=self.drill, phase=name,
                       status=str(info["status"]), duration=float(info.get("duration") or 0), detail=detail or None)

    def _check_end(self, name: str, info: dict[str, Any]) -> None:
        if self.console:
            detail = terminal_safe(info.get("detail", ""))
            self._print("      ", SYMBOLS.get(info["status"], NO_SYMBOL), f" {name}: ", (detail[:100], "dim"))
        elif structured():  # plain text lines never showed checks; a record per check costs nothing
            self._line("", "check-end", drill=self.drill, check=name, status=str(info["status"]),
                       detail=terminal_safe(info.get("detail") or "") or None)

    def _service_end(self, name: str, info: dict[str, Any]) -> None:
        """A service of the drill's stack ready (or not): shown like a check."""
        self._check_end(f"service {name}", info)

    def _finish(self, name: str, info: dict[str, Any]) -> None:
        status = info["status"]
        if self.console:
            color = "green" if status == Status.PASSED else "red"
            reason = f": {terminal_safe(info['reason'])}" if info.get("reason") else ""
            self._print((status.upper(), f"bold {color}"), f" {name}{reason}")
        else:
            reason = f" reason={info['reason']!r}" if info.get("reason") else ""
            level = logging.INFO if status == Status.PASSED else logging.WARNING
            self._line(f"drill={name} run_id={info['run_id']} event=finish status={status}{reason}", "finish",
                       level, drill=name, run_id=info["run_id"], status=str(status), reason=info.get("reason"))
