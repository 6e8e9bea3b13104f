"""Failures of the post-run steps, told to whoever counts them, without the library knowing who.

A notification that could not be delivered, a WORM upload that failed, a run that could not be
sealed into the ledger: each is logged where it happens and also reported here with
:func:`failed`. ``drillbook serve`` and ``drillbook run --metrics-textfile/--pushgateway`` listen
(their Prometheus counters); the library imports nothing of theirs. With no listener a failure is
only logged. A listener that raises is ignored: counting must never change a run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from enum import StrEnum


class Fault(StrEnum):
    NOTIFICATION = "notification"
    WORM_UPLOAD = "worm_upload"
    LEDGER_SEAL = "ledger_seal"


# (fault, target, drill): target names the notification target (masked as in the record), else "";
# drill names the run's drill (or runbook) when the step knows it, else "".
Listener = Callable[[Fault, str, str], None]

_listeners: list[Listener] = []
_lock = threading.Lock()


def failed(fault: Fault, target: str = "", drill: str = "") -> None:
    """Tell every listener; never raises."""
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        with suppress(Exception):  # a metrics problem is not the run's problem
            listener(fault, target, drill)


def add_listener(listener: Listener) -> None:
    with _lock:
        _listeners.append(listener)


def remove_listener(listener: Listener) -> None:
    with _lock, suppress(ValueError):
        _listeners.remove(listener)


@contextmanager
def counted_by(listener: Listener) -> Iterator[None]:
    """``listener`` hears of failures for the length of the block."""
    add_listener(listener)
    try:
        yield
    finally:
        remove_listener(listener)
