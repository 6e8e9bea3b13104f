"""The server's events: one log record per event, in the format every drillbook logger uses.

Log collectors (journald, Loki, a grep) parse these lines, so every part of the server reports
through one :class:`EventLog`, and the line's format is the process's one log format
(:mod:`drillbook.util.logformat`: logfmt by default for ``serve``, or text or json as asked). The
event's name is the record's ``event`` field, its details the other fields. Threads share it: a
line is never interleaved with another (logging's handler lock, or this log's own for a stream).
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol, TextIO

from drillbook.util.logformat import LEVELS, LOGFMT, STANDARD, LogFormatter

log = logging.getLogger("drillbook.serve")


class Emit(Protocol):
    """What the server's parts are given to report events (an EventLog, or a list in tests)."""

    def __call__(self, event: str, level: str = "info", **fields: Any) -> None: ...


class EventLog:
    """``ts=... level=info logger=drillbook.serve event=drill-finish drill=x status=passed ...``

    Through the process's logging; given a ``stream``, written there as logfmt (tests, tools).
    """

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream
        self.formatter = LogFormatter(form=LOGFMT)
        self.lock = threading.Lock()

    def __call__(self, event: str, level: str = "info", **fields: Any) -> None:
        levelno = LEVELS.get(level, logging.INFO)
        extra = {"event": event, **{(f"{k}_" if k in STANDARD else k): v for k, v in fields.items() if v is not None}}
        if self.stream is None:
            log.log(levelno, event, extra=extra)
            return
        record = log.makeRecord(log.name, levelno, "(event)", 0, event, (), None, extra=extra)
        with self.lock:
            print(self.formatter.format(record), file=self.stream, flush=True)
