"""Progress for people: rich on a terminal, one plain line per phase on stderr otherwise."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.status import Status as RichStatus

from drillbook.status import Status
from drillbook.util.durations import format_duration

SYMBOLS = {Status.PASSED: "[green]✔[/]", Status.FAILED: "[red]✘[/]", Status.SKIPPED: "[dim]\u2013[/]",
           Status.ABORTED: "[yellow]![/]"}


class Progress:
    def __init__(self, stream: Any = None, force_plain: bool = False):
        self.stream = stream or sys.stderr
        self.rich = not force_plain and self.stream.isatty()
        self.console = Console(file=self.stream, highlight=False) if self.rich else None
        self.status: RichStatus | None = None  # the spinner of the phase under way
        self.drill = ""
        self.handlers: dict[str, Callable[[str, dict[str, Any]], None]] = {
            "start": self._start, "phase-start": self._phase_start, "phase-end": self._phase_end,
            "check-end": self._check_end, "finish": self._finish,
        }

    def __call__(self, event: str, name: str, info: dict[str, Any]) -> None:
        handler = self.handlers.get(event)
        if handler:
            handler(name, info)

    def _line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def _start(self, name: str, info: dict[str, Any]) -> None:
        self.drill = name
        if self.console:
            self.console.print(f"[bold]drill {name}[/] run {info['run_id']}")
        else:
            self._line(f"drill={name} run_id={info['run_id']} event=start")

    def _phase_start(self, name: str, info: dict[str, Any]) -> None:
        if self.console:
            self.status = self.console.status(f"  {name} …")
            self.status.start()

    def _phase_end(self, name: str, info: dict[str, Any]) -> None:
        if self.status:
            self.status.stop()
            self.status = None
        took = format_duration(info.get("duration"))
        detail = info.get("detail") or ""
        if self.console:
            mark = SYMBOLS.get(info["status"], "·")
            self.console.print(f"  {mark} {name:<20} {took:>9}  [dim]{detail[:90]}[/]")
        else:
            self._line(f"drill={self.drill} phase={name.replace(' ', '_')} status={info['status']} "
                       f"duration={info.get('duration', 0):.3f}s")

    def _check_end(self, name: str, info: dict[str, Any]) -> None:
        if self.console:
            mark = SYMBOLS.get(info["status"], "·")
            self.console.print(f"      {mark} {name}: [dim]{info.get('detail', '')[:100]}[/]")

    def _finish(self, name: str, info: dict[str, Any]) -> None:
        status = info["status"]
        if self.console:
            color = "green" if status == Status.PASSED else "red"
            reason = f": {info['reason']}" if info.get("reason") else ""
            self.console.print(f"[bold {color}]{status.upper()}[/] {name}{reason}")
        else:
            reason = f" reason={info['reason']!r}" if info.get("reason") else ""
            self._line(f"drill={name} run_id={info['run_id']} event=finish status={status}{reason}")
