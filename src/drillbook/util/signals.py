"""How a run is stopped from outside: the two exceptions, and SIGTERM/SIGHUP turned into one.

:class:`Interrupted` (SIGTERM, SIGHUP, an operator) makes a run tear down and record ``aborted``;
:class:`Overrun` (the scheduler's time limit) makes it tear down and record ``failed``. They live
here, below the engine, because the signal handler raises them and every layer above catches them.
Shared by ``drillbook run`` and ``drillbook runbook run``: both must stop the same way.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Interrupted(BaseException):
    """SIGTERM/SIGINT arrived: tear down, record ``aborted``."""


class Overrun(Interrupted):
    """The run went far past its RTO (the scheduler's limit): tear down, record ``failed``."""


SIGNALS = (signal.SIGTERM, signal.SIGHUP)


@contextmanager
def signals_raise_interrupted() -> Iterator[None]:
    """Inside it, SIGTERM/SIGHUP raise Interrupted in the main thread; the old handlers return after."""

    def handler(signum: int, _frame: Any) -> None:
        raise Interrupted(signal.Signals(signum).name)

    saved = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield
    finally:
        for sig, previous in saved.items():
            signal.signal(sig, previous)
