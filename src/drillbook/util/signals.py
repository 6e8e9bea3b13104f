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

:func:`held` keeps a signal instead of raising it, for the moment a child process is being
started (see ``util.process.start_child``): raised inside ``Popen`` after the fork, it would leave
a child that nobody knows of, so nobody stops it.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


class Interrupted(BaseException):
    """SIGTERM/SIGHUP arrived: tear down, record ``aborted``."""


class Overrun(Interrupted):
    """The run went far past its RTO (the scheduler's limit): tear down, record ``failed``."""


SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


@dataclass
class _Holding:
    """The signals kept while the main thread is inside :func:`held`; None when it is not."""

    arrived: list[int] | None = None


_HOLDING = _Holding()


@dataclass
class _Received:
    """The first stop signal this process was sent: how the CLI tells SIGINT's 130 from SIGTERM's 143."""

    first: int | None = None


_RECEIVED = _Received()


def stop_signal() -> int | None:
    """The first stop signal that arrived in this process (held or raised), None when none did."""
    return _RECEIVED.first


def interruption(signum: int) -> BaseException:
    """What a stop signal raises: KeyboardInterrupt for SIGINT, Interrupted naming the others."""
    if signum == signal.SIGINT:
        return KeyboardInterrupt()
    return Interrupted(signal.Signals(signum).name)


def _handler(signum: int, _frame: Any) -> None:
    """Runs in the main thread (Python's rule): raise, or keep the signal while it is held."""
    if _RECEIVED.first is None:
        _RECEIVED.first = signum
    if _HOLDING.arrived is not None:
        _HOLDING.arrived.append(signum)
        return
    raise interruption(signum)


def claim_sigint() -> None:
    """SIGINT raises KeyboardInterrupt from now on, whatever disposition drillbook inherited."""
    signal.signal(signal.SIGINT, _handler)


@contextmanager
def signals_raise_interrupted() -> Iterator[None]:
    """Inside it, SIGTERM/SIGHUP raise Interrupted and SIGINT KeyboardInterrupt in the main thread;
    the old handlers (an inherited SIG_IGN too) return after."""
    saved = {s: signal.signal(s, _handler) for s in SIGNALS}
    try:
        yield
    finally:
        for sig, previous in saved.items():
            signal.signal(sig, previous)


@dataclass
class Held:
    """Stop signals kept by :func:`held`; :meth:`release` makes them raise again."""

    arrived: list[int]
    owner: bool  # this holder set the hold (the main thread, not nested) and so ends it

    def release(self) -> None:
        """Signals raise again from here; the first one that came meanwhile is raised now."""
        if self.owner and _HOLDING.arrived is self.arrived:
            _HOLDING.arrived = None
        if self.arrived:
            raise interruption(self.arrived[0])


@contextmanager
def held() -> Iterator[Held]:
    """Inside it, stop signals are kept, not raised, until :meth:`Held.release` (or the end, where
    they are dropped: release first). Only the main thread holds: handlers run there, and another
    thread's start must not delay the main thread's interrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield Held([], owner=False)
        return
    if _HOLDING.arrived is not None:  # nested: the outer holder ends the hold
        yield Held(_HOLDING.arrived, owner=False)
        return
    arrived: list[int] = []
    _HOLDING.arrived = arrived
    try:
        yield Held(arrived, owner=True)
    finally:
        if _HOLDING.arrived is arrived:
            _HOLDING.arrived = None
