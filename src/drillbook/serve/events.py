"""The server's event log: one ``key=value`` line (logfmt) per event on stderr.

Log collectors (journald, Loki, a grep) parse these lines, so every part of the server writes
through one :class:`EventLog` and the format lives here only. Threads share it: a line is never
interleaved with another.
"""

from __future__ import annotations

import json
import sys
import threading
from datetime import UTC, datetime
from typing import Any, Protocol, TextIO

from drillbook.util.clock import iso
from drillbook.util.plain import strip_controls


class Emit(Protocol):
    """What the server's parts are given to report events (an EventLog, or a list in tests)."""

    def __call__(self, event: str, level: str = "info", **fields: Any) -> None: ...


class EventLog:
    """``ts=... level=info event=drill-finish drill=x status=passed ...`` lines."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.lock = threading.Lock()

    def __call__(self, event: str, level: str = "info", **fields: Any) -> None:
        parts = [f"ts={iso(datetime.now(UTC))}", f"level={level}", f"event={event}"]
        parts += [f"{k}={_value(v)}" for k, v in fields.items() if v is not None]
        with self.lock:
            print(" ".join(parts), file=self.stream, flush=True)


def _value(value: Any) -> str:
    """Floats to milliseconds; text that would break the line's ``key=value`` split is quoted.

    A drill's name, a sandbox path or a reason may come from a drill file or a restore: what a
    terminal or a log viewer would obey is taken out first (newline and tab are quoted).
    """
    if isinstance(value, float):
        value = f"{value:.3f}"
    text = strip_controls(str(value))
    if not text or any(c in text for c in ' "=\n\t'):
        return json.dumps(text)
    return text
