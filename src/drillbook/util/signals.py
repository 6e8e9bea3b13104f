"""How a run is stopped from outside: the two exceptions, and the signals turned into them.

:class:`Interrupted` (SIGTERM, SIGHUP, an operator) makes a run tear down and record ``aborted``;
:class:`Overrun` (the scheduler's time limit) makes it tear down and record ``failed``. They live
here, below the engine, because the signal handler raises them and every layer above catches them.
Shared by ``drillbook run`` and ``drillbook runbook run``: both must stop the same way.

SIGINT raises KeyboardInterrupt, as Python's own handler does; every layer that catches
Interrupted catches it too. Python installs that handler only when SIGINT's disposition at start
is the default: a process started with SIGINT ignored (a shell's background job without job
control, and everything such a job starts) would never see it, and an operator's or a
supervisor's ``kill -INT`` would be lost while the drill ran on. So drillbook claims SIGINT itself.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Interrupted(BaseException):
    """SIGTERM/SIGHUP arrived: tear down, record ``aborted``."""


class Overrun(Interrupted):
    """The run went far past its RTO (the scheduler's limit): tear down, record ``failed``."""


SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def claim_sigint() -> None:
    """SIGINT raises KeyboardInterrupt from now on, whatever disposition drillbook inherited."""
    signal.signal(signal.SIGINT, signal.default_int_handler)


@contextmanager
def signals_raise_interrupted() -> Iterator[None]:
    """Inside it, SIGTERM/SIGHUP raise Interrupted and SIGINT KeyboardInterrupt in the main thread;
    the old handlers (an inherited SIG_IGN too) return after."""

    def handler(signum: int, _frame: Any) -> None:
        raise Interrupted(signal.Signals(signum).name)

    saved = {s: signal.signal(s, handler) for s in SIGNALS}
    saved[signal.SIGINT] = signal.getsignal(signal.SIGINT)
    try:
        claim_sigint()
        yield
    finally:
        for sig, previous in saved.items():
            signal.signal(sig, previous)
